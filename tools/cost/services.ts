/** Account-level services: KMS keys, ECR storage, CloudWatch Logs, and the LLM the service calls. */
import * as YAML from "yaml";
import { byType, type Context, isObj, line, num, str, usage } from "./core";

export function priceKmsAndLogs(ctx: Context): void {
    for (const r of byType(ctx, "aws:kms/key:Key")) {
        line(ctx, {
            id: `kms:${r.name}`,
            service: "KMS",
            resource: r.name,
            description: "customer managed key",
            quantity: 1,
            unit: "month",
            priceKey: "kms:key-month",
            notes:
                r.inputs.enableKeyRotation === true ? ["automatic rotation on: rotated key material may add charges after the first year (not included)"] : [],
        });
    }
    for (const r of byType(ctx, "aws:ecr/repository:Repository")) {
        usage(ctx, { id: `ecr:${r.name}`, service: "ECR", resource: r.name, description: "image storage", priceKey: "ecr:storage", unit: "GB-month" });
    }
    for (const r of byType(ctx, "aws:cloudwatch/logGroup:LogGroup")) {
        const retention = num(r.inputs.retentionInDays);
        const name = str(r.inputs.name) ?? r.name;
        usage(ctx, {
            id: `logs:${r.name}:ingest`,
            service: "CloudWatch Logs",
            resource: name,
            description: "log ingestion",
            priceKey: "logs:ingest",
            unit: "GB",
        });
        usage(ctx, {
            id: `logs:${r.name}:storage`,
            service: "CloudWatch Logs",
            resource: name,
            description: `log storage (${retention === undefined || retention === 0 ? "kept forever" : `kept ${retention} days`})`,
            priceKey: "logs:storage",
            unit: "GB-month",
        });
    }
}

/** The LLM the service calls, from a ConfigMap holding a YAML document with `llm.provider/model`. */
export function priceLlm(ctx: Context): void {
    const models = new Map<string, string[]>();
    for (const r of ctx.resources.filter((x) => x.type === "kubernetes:core/v1:ConfigMap")) {
        if (!isObj(r.inputs.data)) continue;
        for (const value of Object.values(r.inputs.data)) {
            // Only a document that mentions llm can hold it; most ConfigMap values are large
            // dashboards (JSON) or other configs, and YAML.parse of them was a tenth of a render.
            if (typeof value !== "string" || !value.includes("llm")) continue;
            let doc: unknown;
            try {
                doc = YAML.parse(value);
            } catch {
                continue;
            }
            if (!isObj(doc) || !isObj(doc.llm)) continue;
            const key = `${str(doc.llm.provider) ?? "unknown"} ${str(doc.llm.model) ?? "unknown"}`;
            models.set(key, [...(models.get(key) ?? []), r.name]);
        }
    }
    for (const [model, configs] of models) {
        ctx.usage.push({
            id: `llm:${model.replace(" ", ":")}`,
            service: "LLM",
            resource: configs.join(", "),
            description: `${model} calls: billed by the provider per token, not an AWS price (none in the table)`,
            priceKey: `llm:${model.replace(" ", ":")}`,
            unit: "token",
            unitPrice: null,
        });
    }
}
