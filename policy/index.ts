/**
 * The cli-platform policy pack, enforced in previews: `pulumi preview --policy-pack policy`.
 * The rules live in rules.ts (pure; tested offline). This entry starts the policy analyzer server,
 * so tests never load it.
 */
import { PolicyPack, type ResourceValidationPolicy } from "@pulumi/policy";
import { RULES } from "./rules";

const policies: ResourceValidationPolicy[] = RULES.map((rule) => ({
    name: rule.name,
    description: rule.description,
    enforcementLevel: "mandatory",
    validateResource: (args, reportViolation) => {
        for (const message of rule.check({ type: args.type, name: args.name, props: args.props as Record<string, unknown> })) reportViolation(message);
    },
}));

new PolicyPack("cli-platform-security", { policies });
