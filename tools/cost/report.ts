/**
 * Presentation of cost estimates: the table `npm run render` prints, the cost.json it writes, and
 * the Markdown base -> head comparison the PR preview job puts in its summary (`diff` below, also
 * runnable as `node -r ./tools/register.js tools/cost/report.ts diff <stack> <base cost.json> <head cost.json>`).
 */
import * as fs from "node:fs";
import type { CostEstimate, CostLine } from "./estimate";

export interface CostFile extends CostEstimate {
    stack: string;
}

export const usd = (n: number): string => `${n < 0 ? "-" : ""}$${Math.abs(n).toFixed(2)}`;
const signed = (n: number): string => (n > 0 ? `+${usd(n)}` : n < 0 ? usd(n) : "±$0.00");

function unitPriceText(l: { unitPrice: number | null; unit: string }): string {
    if (l.unitPrice === null) return "no price";
    return `$${l.unitPrice}/${l.unit}`;
}

/** The plain-text table `npm run render -- <stack>` prints. */
export function formatCostTable(stack: string, e: CostEstimate): string {
    const out: string[] = [];
    if (e.lines.length === 0 && e.usage.length === 0 && e.warnings.length === 0) {
        out.push(`Cost of ${stack}: no AWS resources, nothing to price.`);
        return out.join("\n");
    }
    out.push(`Cost of ${stack} (${e.region ?? "no region"}, on-demand ${e.currency}, ${e.hoursPerMonth} h/month, prices retrieved ${e.priceTable.retrieved}):`);
    const rows = e.lines.map((l) => [
        l.service,
        l.resource,
        l.description,
        unitPriceText(l),
        l.monthly === null ? "unpriced" : usd(l.monthly),
        l.range ? `${usd(l.range.min)}..${usd(l.range.max)}` : "",
    ]);
    const header = ["service", "resource", "what", "unit price", "monthly", "range (min..max)"];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const fmt = (r: string[]) => `  ${r.map((c, i) => (i === 4 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join("  ")}`.trimEnd();
    out.push(fmt(header));
    for (const [i, r] of rows.entries()) {
        out.push(fmt(r));
        for (const note of e.lines[i].notes) out.push(`      ${note}`);
    }
    const unpriced = e.lines.filter((l) => l.monthly === null).length;
    const incomplete = unpriced > 0 ? `; INCOMPLETE: ${unpriced} line item(s) unpriced, see the warnings` : "";
    out.push(`  Total: ${usd(e.monthly)}/month (range ${usd(e.range.min)}..${usd(e.range.max)} with node groups at min..max${incomplete})`);
    if (e.usage.length > 0) {
        out.push("  Depends on usage (not in the total):");
        for (const u of e.usage) out.push(`    ${u.service} ${u.resource}: ${u.description}, ${unitPriceText(u)}`);
    }
    for (const w of e.warnings) out.push(`  WARNING: ${w}`);
    return out.join("\n");
}

export function costFile(stack: string, e: CostEstimate): CostFile {
    return { stack, ...e };
}

export function readCostFile(file: string): CostFile | undefined {
    return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, "utf8")) as CostFile) : undefined;
}

const cell = (s: string) => s.replace(/\|/g, "\\|");

/** Markdown comparison of a stack's estimate at the base and at the head of a pull request. */
export function diff(stack: string, base: CostFile | undefined, head: CostFile | undefined): string {
    const out: string[] = [];
    if (!head) return `#### Cost of ${stack}\n_No cost estimate for this pull request's ${stack}._`;
    if (head.lines.length === 0 && head.usage.length === 0 && head.warnings.length === 0 && (base?.lines.length ?? 0) === 0) {
        return `#### Cost of ${stack}: no AWS resources, nothing to price`;
    }
    if (!base) {
        out.push(`#### Cost of ${stack}: ${usd(head.monthly)}/month (the base branch has no estimate)`);
    } else {
        out.push(`#### Cost of ${stack}: ${usd(base.monthly)} → ${usd(head.monthly)}/month (${signed(head.monthly - base.monthly)})`);
    }
    const baseLines = new Map((base?.lines ?? []).map((l) => [l.id, l]));
    const headLines = new Map(head.lines.map((l) => [l.id, l]));
    const ids = [...new Set([...baseLines.keys(), ...headLines.keys()])];
    const money = (l: CostLine | undefined) => (l === undefined ? "–" : l.monthly === null ? "unpriced" : usd(l.monthly));
    const changed = ids.filter((id) => {
        const a = baseLines.get(id);
        const b = headLines.get(id);
        return !a || !b || a.monthly !== b.monthly || a.description !== b.description;
    });
    if (base && changed.length === 0) {
        out.push("", "No change to any priced line item.");
    } else {
        out.push("", "| line item | what (head) | base | head | difference |", "|---|---|---:|---:|---:|");
        for (const id of base ? changed : ids) {
            const a = baseLines.get(id);
            const b = headLines.get(id);
            const d = (b?.monthly ?? 0) - (a?.monthly ?? 0);
            out.push(`| ${cell(id)} | ${cell((b ?? a)!.description)}${b ? "" : " (removed)"} | ${money(a)} | ${money(b)} | ${signed(d)} |`);
        }
    }
    if (head.warnings.length > 0) out.push("", ...head.warnings.map((w) => `- ⚠️ ${cell(w)}`));
    return out.join("\n");
}

if (require.main === module) {
    const [command, stack, baseFile, headFile] = process.argv.slice(2);
    if (command !== "diff" || !stack || !baseFile || !headFile) {
        process.stderr.write("usage: node -r ./tools/register.js tools/cost/report.ts diff <stack> <base cost.json> <head cost.json>\n");
        process.exit(2);
    }
    process.stdout.write(`${diff(stack, readCostFile(baseFile), readCostFile(headFile))}\n`);
}
