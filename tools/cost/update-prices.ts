/**
 * `npm run cost:prices [-- --region <r> ...] [--offline-dir DIR]`: regenerates tools/cost/prices.json
 * from AWS's public Price List bulk API (no credentials): for each region and service it streams the
 * offer file in CSV form,
 *   https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/<OfferCode>/current/<region>/index.csv
 * keeps the on-demand rows that match a price key of the table (ec2:<type>, nat:hour, rds:<engine>:<class>,
 * ...) and writes each price with the offer file's URL and publication date as its source.
 *
 * Which keys: every key the table has for any region, every key listed under `missing`, and the
 * regions of every Pulumi.<stack>.yaml (so a new stack's region is filled). A key that matches no row,
 * or rows with different prices, keeps its previous entry and is reported: never a guessed price.
 * `--offline-dir DIR` reads <DIR>/<OfferCode>/<region>/index.csv instead of the network.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as readline from "node:readline";
import { Readable } from "node:stream";
import * as YAML from "yaml";
import { loadPriceTable, PRICE_TABLE_FILE, type PriceEntry, type PriceTable, validatePriceTable } from "./price-table";

export const OFFER_BASE = "https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws";

export type Row = Record<string, string>;

interface KeySpec {
    offer: string;
    unit: string;
    match: (row: Row) => boolean;
}

const endsWith = (row: Row, suffix: string) => (row["usageType"] ?? "").endsWith(suffix);
const RDS_ENGINES: Record<string, string> = { postgres: "PostgreSQL", mysql: "MySQL", mariadb: "MariaDB" };

/** What a price key means in AWS's offer files; undefined for keys no offer file prices. */
export function keySpec(key: string): KeySpec | undefined {
    const [kind, ...rest] = key.split(":");
    const arg = rest.join(":");
    const onDemand = (row: Row) => row["TermType"] === "OnDemand";
    switch (kind) {
        case "ec2":
            return {
                offer: "AmazonEC2",
                unit: "hour",
                match: (r) =>
                    onDemand(r) &&
                    r["Instance Type"] === arg &&
                    r["Operating System"] === "Linux" &&
                    r["Tenancy"] === "Shared" &&
                    r["Pre Installed S/W"] === "NA" &&
                    r["CapacityStatus"] === "Used" &&
                    endsWith(r, `BoxUsage:${arg}`),
            };
        case "ebs":
            return { offer: "AmazonEC2", unit: "GB-month", match: (r) => onDemand(r) && r["Volume API Name"] === arg && endsWith(r, `EBS:VolumeUsage.${arg}`) };
        case "nat":
            return {
                offer: "AmazonEC2",
                unit: arg === "hour" ? "hour" : "GB",
                match: (r) =>
                    onDemand(r) && endsWith(r, arg === "hour" ? "NatGateway-Hours" : "NatGateway-Bytes") && !(r["usageType"] ?? "").includes("Regional"),
            };
        case "ipv4":
            return { offer: "AmazonVPC", unit: "hour", match: (r) => onDemand(r) && endsWith(r, "PublicIPv4:InUseAddress") };
        case "eks":
            return { offer: "AmazonEKS", unit: "hour", match: (r) => onDemand(r) && endsWith(r, "AmazonEKS-Hours:perCluster") };
        case "elb": {
            const family: Record<string, [string, string, string]> = {
                "network-hour": ["Load Balancer-Network", "LoadBalancerUsage", "hour"],
                nlcu: ["Load Balancer-Network", "LCUUsage", "NLCU-hour"],
                "application-hour": ["Load Balancer-Application", "LoadBalancerUsage", "hour"],
                lcu: ["Load Balancer-Application", "LCUUsage", "LCU-hour"],
                "classic-hour": ["Load Balancer", "LoadBalancerUsage", "hour"],
                "classic-gb": ["Load Balancer", "DataProcessing-Bytes", "GB"],
            };
            const f = family[arg];
            return (
                f && {
                    offer: "AWSELB",
                    unit: f[2],
                    match: (r) => onDemand(r) && r["Product Family"] === f[0] && endsWith(r, f[1]) && !(r["usageType"] ?? "").includes("Outposts"),
                }
            );
        }
        case "rds": {
            if (rest[0] === "storage")
                return { offer: "AmazonRDS", unit: "GB-month", match: (r) => onDemand(r) && endsWith(r, `RDS:${rest[1].toUpperCase()}-Storage`) };
            if (rest[0] === "backup") return { offer: "AmazonRDS", unit: "GB-month", match: (r) => onDemand(r) && endsWith(r, "RDS:ChargedBackupUsage") };
            const engine = RDS_ENGINES[rest[0]] as string | undefined;
            if (engine === undefined) return undefined;
            return {
                offer: "AmazonRDS",
                unit: "hour",
                match: (r) => onDemand(r) && r["Instance Type"] === rest[1] && r["Database Engine"] === engine && r["Deployment Option"] === "Single-AZ",
            };
        }
        case "elasticache":
            return {
                offer: "AmazonElastiCache",
                unit: "hour",
                match: (r) => onDemand(r) && r["Instance Type"] === arg && r["Cache Engine"] === "Redis" && endsWith(r, `NodeUsage:${arg}`),
            };
        case "opensearch":
            if (rest[0] === "storage")
                return { offer: "AmazonES", unit: "GB-month", match: (r) => onDemand(r) && endsWith(r, `ES:${rest[1].toUpperCase()}-Storage`) };
            return { offer: "AmazonES", unit: "hour", match: (r) => onDemand(r) && r["Instance Type"] === arg && endsWith(r, `ESInstance:${arg}`) };
        case "kms":
            return { offer: "awskms", unit: "month", match: (r) => onDemand(r) && endsWith(r, "KMS-Keys") };
        case "logs":
            return {
                offer: "AmazonCloudWatch",
                unit: arg === "ingest" ? "GB" : "GB-month",
                match: (r) =>
                    onDemand(r) &&
                    endsWith(r, arg === "ingest" ? "-DataProcessing-Bytes" : "-TimedStorage-ByteHrs") &&
                    !(r["usageType"] ?? "").includes("VendedLog"),
            };
        case "ecr":
            return { offer: "AmazonECR", unit: "GB-month", match: (r) => onDemand(r) && endsWith(r, "TimedStorage-ByteHrs") };
        default:
            return undefined;
    }
}

/** Splits one CSV line (RFC 4180 quoting, as AWS writes its offer files). */
export function parseCsvLine(line: string): string[] {
    const out: string[] = [];
    let cur = "";
    let quoted = false;
    for (let i = 0; i < line.length; i++) {
        const c = line[i];
        if (quoted) {
            if (c === '"' && line[i + 1] === '"') {
                cur += '"';
                i++;
            } else if (c === '"') quoted = false;
            else cur += c;
        } else if (c === '"') quoted = true;
        else if (c === ",") {
            out.push(cur);
            cur = "";
        } else cur += c;
    }
    out.push(cur);
    return out;
}

export interface Offer {
    publicationDate?: string;
    rows: AsyncIterable<Row> | Iterable<Row>;
}

/** Reads an offer CSV: metadata lines ("Publication Date", ...) then a header row, then rows. */
export async function* readOfferCsv(lines: AsyncIterable<string> | Iterable<string>, meta: { publicationDate?: string }): AsyncGenerator<Row> {
    let header: string[] | undefined;
    for await (const line of lines) {
        if (line.trim() === "") continue;
        const cells = parseCsvLine(line);
        if (!header) {
            if (cells[0] === "Publication Date") meta.publicationDate = cells[1];
            if (cells[0] === "SKU") header = cells;
            continue;
        }
        yield Object.fromEntries(header.map((h, i) => [h, cells[i] ?? ""]));
    }
}

/** The one price of the matching rows (first tier), or an error text when none or several differ. */
export function pickPrice(rows: Row[]): number | string {
    const firstTier = rows.filter((r) => (r["StartingRange"] ?? "0") === "0" || r["StartingRange"] === "");
    const prices = [...new Set(firstTier.map((r) => Number(r["PricePerUnit"])))].filter((n) => Number.isFinite(n));
    if (prices.length === 0) return "no matching on-demand row";
    if (prices.length > 1) return `matching rows disagree (${prices.join(", ")})`;
    return prices[0];
}

/** Scans one offer file for every wanted key of that offer; returns key -> matching rows. */
export async function scanOffer(rows: AsyncIterable<Row> | Iterable<Row>, keys: string[]): Promise<Map<string, Row[]>> {
    const specs = keys.map((k) => [k, keySpec(k)!] as const);
    const found = new Map<string, Row[]>(keys.map((k) => [k, []]));
    for await (const row of rows) {
        for (const [key, spec] of specs) if (spec.match(row)) found.get(key)!.push(row);
    }
    return found;
}

function stackRegions(root: string): string[] {
    return fs
        .readdirSync(root)
        .filter((f) => /^Pulumi\.[^.]+\.yaml$/.test(f))
        .map((f) => (YAML.parse(fs.readFileSync(path.join(root, f), "utf8")) as { config?: Record<string, unknown> }).config?.["aws:region"])
        .filter((r): r is string => typeof r === "string");
}

/** Every key to regenerate: the table's keys (any region) and its `missing` lists. */
export function wantedKeys(table: PriceTable): string[] {
    const keys = new Set<string>();
    for (const entries of Object.values(table.regions)) for (const k of Object.keys(entries)) keys.add(k);
    for (const list of Object.values(table.missing ?? {})) if (Array.isArray(list)) for (const k of list) if (typeof k === "string") keys.add(k);
    return [...keys].filter((k) => keySpec(k) !== undefined).sort();
}

async function openOffer(offer: string, region: string, offlineDir?: string): Promise<{ url: string; lines: AsyncIterable<string> }> {
    const url = `${OFFER_BASE}/${offer}/current/${region}/index.csv`;
    if (offlineDir) {
        const file = path.join(offlineDir, offer, region, "index.csv");
        return { url, lines: readline.createInterface({ input: fs.createReadStream(file), crlfDelay: Infinity }) };
    }
    const res = await fetch(url);
    if (!res.ok || !res.body) throw new Error(`${url}: HTTP ${res.status}`);
    return { url, lines: readline.createInterface({ input: Readable.fromWeb(res.body as never), crlfDelay: Infinity }) };
}

async function main(): Promise<void> {
    const args = process.argv.slice(2);
    const regions = new Set<string>();
    let offlineDir: string | undefined;
    for (let i = 0; i < args.length; i++) {
        if (args[i] === "--region" && args[i + 1]) regions.add(args[++i]);
        else if (args[i] === "--offline-dir" && args[i + 1]) offlineDir = args[++i];
        else throw new Error(`unknown argument ${args[i]}; usage: npm run cost:prices -- [--region R]... [--offline-dir DIR]`);
    }
    const table = loadPriceTable();
    for (const r of [...Object.keys(table.regions), ...stackRegions(path.resolve(__dirname, "../.."))]) regions.add(r);
    const keys = wantedKeys(table);
    const today = new Date().toISOString().slice(0, 10);
    const next: PriceTable = structuredClone(table);
    const missing: Record<string, string[]> = {};
    for (const region of [...regions].sort()) {
        const entries: Record<string, PriceEntry> = { ...(table.regions[region] ?? {}) };
        const byOffer = new Map<string, string[]>();
        for (const k of keys) byOffer.set(keySpec(k)!.offer, [...(byOffer.get(keySpec(k)!.offer) ?? []), k]);
        for (const [offer, offerKeys] of byOffer) {
            const meta: { publicationDate?: string } = {};
            let found: Map<string, Row[]>;
            let url: string;
            try {
                const opened = await openOffer(offer, region, offlineDir);
                url = opened.url;
                found = await scanOffer(readOfferCsv(opened.lines, meta), offerKeys);
            } catch (err) {
                console.error(`${offer} ${region}: ${err instanceof Error ? err.message : String(err)}; its keys keep their previous entries`);
                (missing[region] ??= []).push(...offerKeys);
                continue;
            }
            const sourceKey = `aws-offer-${offer}-${region}`;
            next.sources[sourceKey] = {
                kind: "aws-offer-file",
                title: `AWS Price List bulk API, ${offer} offer file for ${region}`,
                url,
                stated: meta.publicationDate?.slice(0, 10),
            };
            for (const key of offerKeys) {
                const price = pickPrice(found.get(key)!);
                if (typeof price === "number") entries[key] = { usd: price, unit: keySpec(key)!.unit, source: sourceKey };
                else {
                    console.error(`${region} ${key}: ${price}; ${entries[key] ? "keeps its previous entry" : "left out"}`);
                    (missing[region] ??= []).push(key);
                }
            }
        }
        next.regions[region] = entries;
    }
    // The table is as old as its oldest figure: it only becomes "retrieved today" when every key was refreshed.
    const complete = Object.keys(missing).length === 0;
    next.retrieved = complete ? today : table.retrieved;
    next.howRetrieved = complete
        ? `Regenerated on ${today} by tools/cost/update-prices.ts from AWS's Price List bulk API offer files (CSV).`
        : `Partly regenerated on ${today} by tools/cost/update-prices.ts from AWS's Price List bulk API offer files (CSV); the keys under \`missing\` kept their previous entries, so \`retrieved\` stays ${table.retrieved}.`;
    next.missing = missing;
    for (const s of Object.keys(next.sources)) {
        const used = [...Object.values(next.regions), next.global].some((entries) =>
            Object.values(entries).some((e) => e.source === s || (e.crossChecked ?? []).includes(s)),
        );
        if (!used) delete next.sources[s];
    }
    validatePriceTable(next);
    fs.writeFileSync(PRICE_TABLE_FILE, `${JSON.stringify(next, null, 4)}\n`);
    console.log(`Wrote ${PRICE_TABLE_FILE}: ${Object.keys(next.regions).length} regions, retrieved ${today}; missing: ${JSON.stringify(missing)}`);
}

if (require.main === module) {
    main().then(
        () => process.exit(0),
        (err: unknown) => {
            process.stderr.write(`cost:prices: ${err instanceof Error ? err.message : String(err)}\n`);
            process.exit(1);
        },
    );
}
