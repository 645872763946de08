/**
 * `npm run render -- <stack> [--out DIR]`: evaluates a stack offline (Pulumi mock runtime, no
 * cloud credentials, no Pulumi CLI) and writes
 *   - manifests.yaml  every Kubernetes object the stack would apply (multi-document YAML)
 *   - resources.json  every resource with its options and inputs, secrets as "[secret]"
 *   - cost.json       the monthly cost estimate (tools/cost/estimate.ts) with its line items
 * then prints resource counts by type, the stack outputs and the cost table.
 *
 * Cloud-computed values (IDs, ARNs, endpoints) are deterministic placeholders shaped like AWS's.
 * Objects inside Helm releases are not expanded (charts are not fetched offline); each release is
 * listed with its chart, version and values in resources.json and named at the top of manifests.yaml.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as YAML from "yaml";
import { estimateCost } from "./cost/estimate";
import { loadPriceTable } from "./cost/price-table";
import { costFile, formatCostTable } from "./cost/report";
import type { RecordedResource, StackRender } from "./harness";
import { knownStacks, readStackConfig } from "./stacks";

/** Kubernetes object types: everything from the kubernetes package except providers and Helm releases. */
export function isKubernetesObject(r: RecordedResource): boolean {
    return r.custom && r.type.startsWith("kubernetes:") && !r.type.startsWith("kubernetes:helm.sh/");
}

const KIND_ORDER = ["Namespace", "CustomResourceDefinition", "StorageClass", "PriorityClass", "ServiceAccount", "Secret", "ConfigMap"];

/** The Kubernetes objects of a render, as manifests (apiVersion, kind, metadata, spec...). */
export function kubernetesObjects(render: StackRender): Record<string, unknown>[] {
    const objects = render.resources.filter(isKubernetesObject).map((r) => {
        const { apiVersion, kind, metadata, ...rest } = r.inputs as Record<string, unknown>;
        return { apiVersion, kind, metadata, ...rest };
    });
    const rank = (kind: unknown) => {
        const i = KIND_ORDER.indexOf(String(kind));
        return i === -1 ? KIND_ORDER.length : i;
    };
    return objects.sort((a, b) => rank(a.kind) - rank(b.kind));
}

export function manifestsYaml(render: StackRender): string {
    const releases = render.resources.filter((r) => r.type === "kubernetes:helm.sh/v3:Release");
    const header = [
        `# Kubernetes objects of stack "${render.stack}", rendered offline by \`npm run render\`.`,
        "# Cloud-computed values are placeholders. Helm releases (objects not expanded here):",
        ...releases.map((r) => `#   ${r.inputs.namespace ?? "default"}/${r.inputs.name ?? r.name}: chart ${r.inputs.chart}@${r.inputs.version}`),
        ...(releases.length === 0 ? ["#   (none)"] : []),
    ].join("\n");
    const docs = kubernetesObjects(render).map((o) => YAML.stringify(o, { lineWidth: 0 }).trimEnd());
    return `${header}\n${docs.map((d) => `---\n${d}`).join("\n")}\n`;
}

export function countsByType(render: StackRender): [string, number][] {
    const counts = new Map<string, number>();
    for (const r of render.resources) counts.set(r.type, (counts.get(r.type) ?? 0) + 1);
    return [...counts.entries()].sort(([a], [b]) => a.localeCompare(b));
}

export function parseArgs(argv: string[]): { stack: string; out?: string } {
    const positional: string[] = [];
    let out: string | undefined;
    for (let i = 0; i < argv.length; i++) {
        if (argv[i] === "--out") {
            out = argv[++i];
            if (!out) throw new Error("--out needs a directory");
        } else if (argv[i].startsWith("-")) {
            throw new Error(`unknown option ${argv[i]}; usage: npm run render -- <stack> [--out DIR]`);
        } else positional.push(argv[i]);
    }
    if (positional.length !== 1) throw new Error(`usage: npm run render -- <stack> [--out DIR] (stacks: ${knownStacks().join(", ")})`);
    return { stack: positional[0], out };
}

async function main(): Promise<void> {
    const { stack, out } = parseArgs(process.argv.slice(2));
    const region = readStackConfig(stack).config["aws:region"]; // an unknown stack fails here, before the SDK loads
    const { evaluateStack } = await import("./harness");
    const render = await evaluateStack(stack);
    const dir = path.resolve(out ?? path.join("out", stack));
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, "manifests.yaml"), manifestsYaml(render));
    fs.writeFileSync(path.join(dir, "resources.json"), JSON.stringify(render.resources, null, 2) + "\n");
    const cost = estimateCost(render.resources, { region, table: loadPriceTable(), now: new Date() });
    fs.writeFileSync(path.join(dir, "cost.json"), JSON.stringify(costFile(stack, cost), null, 2) + "\n");

    const counts = countsByType(render);
    const width = Math.max(...counts.map(([t]) => t.length));
    console.log(`Stack ${stack}: ${render.resources.length} resources (offline render; cloud-computed values are placeholders)`);
    for (const [type, n] of counts) console.log(`  ${type.padEnd(width)}  ${n}`);
    console.log("Outputs:");
    for (const [k, v] of Object.entries(render.outputs)) console.log(`  ${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`);
    console.log(formatCostTable(stack, cost));
    console.log(
        `Wrote ${path.join(dir, "manifests.yaml")} (${kubernetesObjects(render).length} objects), ${path.join(dir, "resources.json")} and ${path.join(dir, "cost.json")}`,
    );
}

if (require.main === module) {
    // The render prints one line per error, never a stack; Pulumi's SDK captures a stack trace for
    // every promise it tracks (about a tenth of a render's CPU). So none are captured here.
    Error.stackTraceLimit = 0;
    main().then(
        () => process.exit(0),
        (err: unknown) => {
            const message = err instanceof Error ? err.message : String(err);
            process.stderr.write(`render: ${message.split("\n")[0]}\n`);
            process.exit(1);
        },
    );
}
