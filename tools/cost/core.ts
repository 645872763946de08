/**
 * What the cost pricers share: the estimate's types, the walkers over recorded inputs, and the
 * Pricer/Context that turn a price key into a priced line (or a warning naming the missing price).
 */
import type { RecordedResource } from "../harness";
import type { PriceEntry, PriceTable } from "./price-table";

export interface CostLine {
    /** Stable identity for base -> head diffs: `<service>:<resource name>[:part]`. */
    id: string;
    service: string;
    /** Logical name of the resource (or object) priced. */
    resource: string;
    description: string;
    quantity: number;
    /** Unit of `quantity` x the price: "hour" lines are per month of hoursPerMonth hours. */
    unit: string;
    priceKey: string;
    /** USD per unit; null when the table has no price (then monthly is null too). */
    unitPrice: number | null;
    monthly: number | null;
    /** Monthly cost at the minimum and maximum size (node groups). */
    range?: { min: number; max: number };
    notes: string[];
}

export interface UsageLine {
    id: string;
    service: string;
    resource: string;
    description: string;
    priceKey: string;
    unit: string;
    /** USD per unit, or null when the table has no price. */
    unitPrice: number | null;
}

export interface CostEstimate {
    region?: string;
    currency: "USD";
    hoursPerMonth: number;
    /** Sum of the priced lines (unpriced lines are warnings). */
    monthly: number;
    /** Sum with every node group at its min and max size. */
    range: { min: number; max: number };
    lines: CostLine[];
    usage: UsageLine[];
    warnings: string[];
    priceTable: { retrieved: string; ageDays: number };
}

export interface EstimateOptions {
    /** The stack's aws:region; needed when the stack has AWS resources. */
    region?: string;
    table: PriceTable;
    /** "Today", for the table's age. */
    now: Date;
}

export type Obj = Record<string, unknown>;
export const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);
export const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
export const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : undefined);

/** Calls `visit` for every object node inside `value`, with its ancestors (outermost first). */
export function walk(value: unknown, visit: (node: Obj, ancestors: Obj[], key: string | undefined) => void, ancestors: Obj[] = [], key?: string): void {
    if (Array.isArray(value)) {
        for (const v of value) walk(v, visit, ancestors, key);
    } else if (isObj(value)) {
        visit(value, ancestors, key);
        for (const [k, v] of Object.entries(value)) walk(v, visit, [...ancestors, value], k);
    }
}

/** A readable location inside a resource's inputs: the keys that say where, without the plumbing. */
export function shortPath(keys: string[]): string {
    const plumbing = new Set(["values", "spec", "volumeClaimTemplate", "storageSpec", "resources", "requests"]);
    return keys.filter((k) => !plumbing.has(k) && !/^\d+$/.test(k)).join(".");
}

export function pathOf(root: unknown, target: Obj): string[] {
    if (root === target) return [];
    if (Array.isArray(root)) {
        for (let i = 0; i < root.length; i++) {
            const p = pathOf(root[i], target);
            if (p.length > 0 || root[i] === target) return [String(i), ...p];
        }
    } else if (isObj(root)) {
        for (const [k, v] of Object.entries(root)) {
            const p = pathOf(v, target);
            if (p.length > 0 || v === target) return [k, ...p];
        }
    }
    return [];
}

export class Pricer {
    readonly warnings: string[] = [];
    readonly used = new Set<string>();
    private readonly warned = new Set<string>();

    constructor(
        private readonly table: PriceTable,
        readonly region: string,
    ) {}

    /** The entry for `key` in the region (or global), or null with a warning naming it. */
    get(key: string, what: string): PriceEntry | null {
        const entry = this.table.regions[this.region]?.[key] ?? this.table.global?.[key];
        if (entry) {
            this.used.add(entry.source);
            return entry;
        }
        if (!this.warned.has(key)) {
            this.warned.add(key);
            this.warn(`no price for ${key} in ${this.region} (${what}): shown unpriced, not in the total`);
        }
        return null;
    }

    warn(message: string): void {
        this.warnings.push(message);
    }
}

export interface Context {
    resources: RecordedResource[];
    pricer: Pricer;
    hours: number;
    lines: CostLine[];
    usage: UsageLine[];
}

export function line(ctx: Context, l: Omit<CostLine, "unitPrice" | "monthly" | "notes" | "range"> & { notes?: string[] }): CostLine {
    const entry = ctx.pricer.get(l.priceKey, `${l.service} ${l.resource}`);
    const factor = l.unit === "hour" ? ctx.hours : 1;
    const unitPrice = entry ? entry.usd : null;
    const out: CostLine = {
        id: l.id,
        service: l.service,
        resource: l.resource,
        description: l.description,
        quantity: l.quantity,
        unit: l.unit,
        priceKey: l.priceKey,
        unitPrice,
        monthly: unitPrice === null ? null : l.quantity * unitPrice * factor,
        notes: l.notes ?? [],
    };
    ctx.lines.push(out);
    return out;
}

export function usage(ctx: Context, u: Omit<UsageLine, "unitPrice">): void {
    const entry = ctx.pricer.get(u.priceKey, `${u.service} ${u.resource} (usage)`);
    ctx.usage.push({ ...u, unitPrice: entry ? entry.usd : null });
}

export const byType = (ctx: Context, type: string) => ctx.resources.filter((r) => r.type === type);
