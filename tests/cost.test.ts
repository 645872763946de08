/**
 * The cost estimator (tools/cost): totals for dev and prod worked out here from the committed
 * table's unit prices, config changes that move the total by exactly the priced difference,
 * warnings for prices the table lacks and for a stale table, load balancers found from the
 * rendered Service wherever it is declared, and the PR comparison.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import * as YAML from "yaml";
import { type CostEstimate, estimateCost, quantityGiB } from "../tools/cost/estimate";
import { loadPriceTable, type PriceTable, validatePriceTable } from "../tools/cost/price-table";
import { costFile, diff, formatCostTable } from "../tools/cost/report";
import { type RecordedResource, render, renderWith, ROOT, stackFile, type StackName } from "./harness";

const TABLE = loadPriceTable();
const REGION = "eu-west-1";
const H = 730; // hours in a month, as the table states (asserted below)
const NOW = new Date(`${TABLE.retrieved}T12:00:00Z`);

/** A unit price of the committed table (the test fails if it is missing). */
function p(key: string, region = REGION): number {
    const entry = TABLE.regions[region]?.[key];
    assert.ok(entry, `the committed price table has no ${key} in ${region}`);
    return entry.usd;
}

function estimate(resources: RecordedResource[], table: PriceTable = TABLE, now = NOW, region = REGION): CostEstimate {
    return estimateCost(resources, { region, table, now });
}

async function estimateStack(stack: StackName, config?: Record<string, unknown>): Promise<CostEstimate> {
    const r = config ? await renderWith(stack, config) : await render(stack);
    return estimate(r.resources);
}

function nodeGroups(stack: StackName, change: Record<string, unknown>): Record<string, unknown> {
    const cluster = stackFile(stack)["cli-platform:cluster"] as { nodeGroups: Record<string, unknown>[] };
    return { "cli-platform:cluster": { ...cluster, nodeGroups: [{ ...cluster.nodeGroups[0], ...change }, ...cluster.nodeGroups.slice(1)] } };
}

function network(stack: StackName, change: Record<string, unknown>): Record<string, unknown> {
    return { "cli-platform:network": { ...(stackFile(stack)["cli-platform:network"] as object), ...change } };
}

const close = (actual: number, expected: number, what: string) => assert.ok(Math.abs(actual - expected) < 1e-9, `${what}: expected ${expected}, got ${actual}`);

describe("cost: price table", () => {
    it("names a known source for every price, states its retrieval date, and uses 730 hours a month", () => {
        validatePriceTable(TABLE);
        assert.equal(TABLE.hoursPerMonth, 730);
        assert.match(TABLE.retrieved, /^\d{4}-\d{2}-\d{2}$/);
        for (const source of Object.values(TABLE.sources)) assert.ok(["aws-offer-file", "aws-doc", "secondary"].includes(source.kind));
    });

    it("has a section for the region of every stack that has one (a new stack in a new region fails here)", () => {
        const stacks = fs.readdirSync(ROOT).filter((f) => /^Pulumi\.[^.]+\.yaml$/.test(f));
        for (const file of stacks) {
            const region = (YAML.parse(fs.readFileSync(path.join(ROOT, file), "utf8")) as { config: Record<string, unknown> }).config["aws:region"];
            if (region !== undefined) assert.ok(TABLE.regions[region as string], `${file}: no prices for ${String(region)}`);
        }
        assert.ok(TABLE.regions["us-east-1"], "us-east-1 is in the table");
    });

    it("rejects an entry without a known source", () => {
        const broken = structuredClone(TABLE);
        broken.regions[REGION]["ec2:t3.large"] = { usd: 0.1, unit: "hour", source: "nowhere" };
        assert.throws(() => validatePriceTable(broken), /eu-west-1 ec2:t3\.large: unknown source "nowhere"/);
    });
});

describe("cost: dev and prod totals", () => {
    it("dev: control plane, 2 x t3.large, roots, one NAT, IPv4s, KMS and the claimed volumes", async () => {
        const e = await estimateStack("dev");
        const expected =
            H * p("eks:cluster-hour") + // one EKS control plane
            2 * H * p("ec2:t3.large") + // node group general: desiredSize 2
            2 * 50 * p("ebs:gp3") + // its root volumes: 2 x 50 GiB gp3 (launch template)
            1 * H * p("nat:hour") + // natGateways: single
            1 * H * p("ipv4:hour") + // the NAT gateway's Elastic IP
            2 * H * p("ipv4:hour") + // the ingress NLB: one public IPv4 per public subnet (azCount 2)
            2 * p("kms:key-month") + // cluster secrets + logging keys
            (10 + 5) * p("ebs:gp3") + // in-cluster postgres (10 GiB) and redis (5 GiB) claims
            10 * p("ebs:gp3") + // grafana persistence 10Gi
            1 * 10 * p("ebs:gp3"); // prometheus: 1 replica x 10Gi claim template
        close(e.monthly, expected, "dev monthly");
        assert.ok(
            e.warnings.some((w) => w.startsWith("no price for elb:network-hour in eu-west-1")),
            "the NLB hourly price is missing from the table and says so",
        );
        const nlb = e.lines.find((l) => l.priceKey === "elb:network-hour");
        assert.ok(nlb && nlb.monthly === null, "the NLB is listed, unpriced");
    });

    it("prod: 3 x m6i.xlarge, a SPOT group at zero with its ceiling as range, 3 NATs, unpriced data services named in warnings", async () => {
        const e = await estimateStack("prod");
        const expected =
            H * p("eks:cluster-hour") +
            3 * H * p("ec2:m6i.xlarge") + // general: desiredSize 3
            3 * 100 * p("ebs:gp3") + // its roots: 3 x 100 GiB
            0 + // burst (SPOT): desiredSize 0
            3 * H * p("nat:hour") + // natGateways: perAz, azCount 3
            3 * H * p("ipv4:hour") + // three NAT Elastic IPs
            3 * H * p("ipv4:hour") + // the ingress NLB's public IPv4s (3 public subnets)
            2 * 50 * p("rds:storage:gp3") + // RDS storage: 50 GiB gp3, Multi-AZ (primary + standby)
            4 * p("kms:key-month") + // cluster, postgres, redis, OpenSearch keys
            10 * p("ebs:gp3") + // grafana persistence
            2 * 100 * p("ebs:gp3"); // prometheus: 2 replicas x 100Gi
        close(e.monthly, expected, "prod monthly");

        const ceiling = Math.max(p("ec2:m6i.xlarge"), p("ec2:m5.xlarge"), p("ec2:m6a.xlarge"));
        const burst = e.lines.find((l) => l.id === "ec2:cluster-burst")!;
        assert.equal(burst.unitPrice, ceiling);
        assert.match(burst.notes.join(" "), /SPOT: priced at the on-demand ceiling/);
        close(burst.range!.max, 12 * H * ceiling, "burst at maxSize 12");
        const general = e.lines.find((l) => l.id === "ec2:cluster-general")!;
        close(general.range!.min, 3 * H * p("ec2:m6i.xlarge"), "general at minSize 3");
        close(general.range!.max, 12 * H * p("ec2:m6i.xlarge"), "general at maxSize 12");

        for (const key of [
            "elb:network-hour",
            "rds:postgres:db.r6g.large",
            "elasticache:cache.r7g.large",
            "opensearch:r6g.large.search",
            "opensearch:storage:gp3",
        ]) {
            assert.ok(
                e.warnings.some((w) => w.includes(`no price for ${key} in eu-west-1`)),
                `warning names ${key}`,
            );
        }
        assert.ok(e.usage.some((u) => u.priceKey === "rds:backup" && /beyond the free allowance \(50 GiB/.test(u.description)));
        assert.ok(
            e.usage.some((u) => u.priceKey === "nat:gb" && u.unitPrice === p("nat:gb")),
            "NAT data processing: unit price, depends on usage",
        );
        assert.ok(
            e.usage.some((u) => u.service === "LLM" && /openai gpt-4/.test(u.description)),
            "LLM calls are listed as usage",
        );
    });

    it("local: no AWS resources, nothing priced and nothing to warn about", async () => {
        const e = await estimateStack("local");
        assert.equal(e.monthly, 0);
        assert.deepEqual(e.lines, []);
        assert.deepEqual(e.warnings, []);
        assert.match(formatCostTable("local", e), /no AWS resources/);
    });
});

describe("cost: config changes move the total by exactly the priced difference", () => {
    it("node group size 2 -> 3 adds one t3.large and one 50 GiB root volume", async () => {
        const before = await estimateStack("dev");
        const after = await estimateStack("dev", nodeGroups("dev", { desiredSize: 3 }));
        close(after.monthly - before.monthly, H * p("ec2:t3.large") + 50 * p("ebs:gp3"), "delta");
    });

    it("instance type t3.large -> m6i.xlarge changes two nodes' hourly price", async () => {
        const before = await estimateStack("dev");
        const after = await estimateStack("dev", nodeGroups("dev", { instanceTypes: ["m6i.xlarge"] }));
        close(after.monthly - before.monthly, 2 * H * (p("ec2:m6i.xlarge") - p("ec2:t3.large")), "delta");
    });

    it("NAT mode single -> perAz (2 AZs) adds one NAT gateway and its Elastic IP", async () => {
        const before = await estimateStack("dev");
        const after = await estimateStack("dev", network("dev", { natGateways: "perAz" }));
        close(after.monthly - before.monthly, H * (p("nat:hour") + p("ipv4:hour")), "delta");
    });

    it("AZ count 3 -> 2 (perAz) removes a NAT gateway, its Elastic IP and one NLB address", async () => {
        const before = await estimateStack("prod");
        const after = await estimateStack("prod", network("prod", { azCount: 2 }));
        close(after.monthly - before.monthly, -H * (p("nat:hour") + 2 * p("ipv4:hour")), "delta");
    });

    it("Multi-AZ off halves the RDS instance and storage lines (table with RDS prices for the test)", async () => {
        // eu-west-1 RDS prices are not in the committed table yet; these test prices stand in.
        const table = structuredClone(TABLE);
        table.sources["test"] = { kind: "secondary", title: "test prices" };
        table.regions[REGION]["rds:postgres:db.r6g.large"] = { usd: 0.5, unit: "hour", source: "test" };
        table.regions[REGION]["rds:storage:gp3"] = { usd: 0.25, unit: "GB-month", source: "test" };
        const multi = estimate((await render("prod")).resources, table);
        const single = estimate(
            (await renderWith("prod", { "cli-platform:postgres": { ...(stackFile("prod")["cli-platform:postgres"] as object), multiAz: false } })).resources,
            table,
        );
        const factor = TABLE.global["rds:multi-az-factor"].usd;
        assert.equal(factor, 2);
        const rds = multi.lines.filter((l) => l.service === "RDS").reduce((s, l) => s + l.monthly!, 0);
        close(rds, 2 * H * 0.5 + 2 * 50 * 0.25, "Multi-AZ RDS: 2 x (730 h x 0.5) + 2 x (50 GiB x 0.25)");
        close(single.monthly - multi.monthly, -(H * 0.5 + 50 * 0.25), "delta");
    });
});

describe("cost: what the table does not know is a warning, never a number", () => {
    it("an unknown instance type is a warning naming it; its line is unpriced and out of the total", async () => {
        const before = await estimateStack("dev");
        const after = await estimateStack("dev", nodeGroups("dev", { instanceTypes: ["x9.huge"] }));
        assert.ok(
            after.warnings.some((w) => w.startsWith("no price for ec2:x9.huge in eu-west-1")),
            after.warnings.join("\n"),
        );
        const group = after.lines.find((l) => l.id === "ec2:cluster-general")!;
        assert.equal(group.monthly, null);
        close(after.monthly - before.monthly, -2 * H * p("ec2:t3.large"), "only the node line left the total");
        assert.match(formatCostTable("dev", after), /INCOMPLETE: 2 line item\(s\) unpriced/);
    });

    it("a region missing from the table is a warning", async () => {
        const e = estimate((await render("dev")).resources, TABLE, NOW, "ap-south-2");
        assert.ok(e.warnings.some((w) => w.startsWith("the price table has no region ap-south-2")));
        assert.equal(e.monthly, 0);
    });

    it("a table older than 180 days is a warning; 180 days is not", async () => {
        const { resources } = await render("dev");
        const day = 86_400_000;
        const retrieved = Date.parse(`${TABLE.retrieved}T00:00:00Z`);
        const at180 = estimate(resources, TABLE, new Date(retrieved + 180 * day + 3600_000));
        const at181 = estimate(resources, TABLE, new Date(retrieved + 181 * day + 3600_000));
        assert.ok(!at180.warnings.some((w) => w.includes("days ago")));
        assert.ok(
            at181.warnings.some((w) => w.includes(`retrieved ${TABLE.retrieved}, 181 days ago`)),
            at181.warnings.join("\n"),
        );
    });

    it("an AWS resource type with no pricing rule is a warning", async () => {
        const { resources } = await render("dev");
        const extra: RecordedResource = { ...resources[0], type: "aws:sqs/queue:Queue", name: "jobs", custom: true, inputs: {} };
        assert.ok(estimate([...resources, extra]).warnings.includes("no pricing rule for aws:sqs/queue:Queue (1): not in the estimate"));
    });

    it("prices taken from secondary copies are named in a warning", async () => {
        const e = await estimateStack("dev");
        assert.ok(e.warnings.some((w) => w.startsWith("prices from secondary copies of AWS's prices") && w.includes("regional-table-2026-08")));
    });
});

describe("cost: load balancers come from the rendered Service of type LoadBalancer", () => {
    const k8s = (type: string, name: string, inputs: Record<string, unknown>, from: RecordedResource): RecordedResource => ({
        ...from,
        type,
        name,
        custom: true,
        inputs,
    });

    it("a gateway proxy spec asking for an internet-facing NLB (annotations next to type) adds an NLB and its addresses", async () => {
        const { resources } = await render("dev");
        const proxy = k8s(
            "kubernetes:gateway.envoyproxy.io/v1alpha1:EnvoyProxy",
            "gateway-proxy",
            {
                apiVersion: "gateway.envoyproxy.io/v1alpha1",
                kind: "EnvoyProxy",
                spec: {
                    provider: {
                        type: "Kubernetes",
                        kubernetes: {
                            envoyService: {
                                type: "LoadBalancer",
                                annotations: {
                                    "service.beta.kubernetes.io/aws-load-balancer-type": "external",
                                    "service.beta.kubernetes.io/aws-load-balancer-scheme": "internet-facing",
                                },
                            },
                        },
                    },
                },
            },
            resources[0],
        );
        const e = estimate([...resources, proxy]);
        const line = e.lines.find((l) => l.id === "elb:gateway-proxy:provider.kubernetes.envoyService");
        assert.ok(line, e.lines.map((l) => l.id).join(", "));
        assert.equal(line.priceKey, "elb:network-hour");
        close(e.monthly - estimate(resources).monthly, 2 * H * p("ipv4:hour"), "two public addresses (the NLB hourly price is missing: warned)");
    });

    it("an Envoy Gateway proxy whose envoyService sets only annotations is a LoadBalancer (Envoy Gateway's default)", async () => {
        const { resources } = await render("dev");
        const proxy = k8s(
            "kubernetes:gateway.envoyproxy.io/v1alpha1:EnvoyProxy",
            "default-type-proxy",
            { spec: { provider: { kubernetes: { envoyService: { annotations: { "service.beta.kubernetes.io/aws-load-balancer-type": "external" } } } } } },
            resources[0],
        );
        const e = estimate([...resources, proxy]);
        const line = e.lines.find((l) => l.id === "elb:default-type-proxy:provider.kubernetes.envoyService");
        assert.equal(line?.priceKey, "elb:network-hour");
        // The load balancer controller makes it internal without an internet-facing scheme: no public addresses.
        assert.ok(!e.lines.some((l) => l.id === "elb:default-type-proxy:provider.kubernetes.envoyService:ipv4"));
        const clusterIp = k8s(
            "kubernetes:gateway.envoyproxy.io/v1alpha1:EnvoyProxy",
            "cluster-ip-proxy",
            { spec: { provider: { kubernetes: { envoyService: { type: "ClusterIP" } } } } },
            resources[0],
        );
        assert.ok(!estimate([...resources, clusterIp]).lines.some((l) => l.id.startsWith("elb:cluster-ip-proxy")));
    });

    it("a Service object of type LoadBalancer without annotations is a Classic LB", async () => {
        const { resources } = await render("dev");
        const svc = k8s(
            "kubernetes:core/v1:Service",
            "legacy-svc",
            { apiVersion: "v1", kind: "Service", metadata: { name: "legacy" }, spec: { type: "LoadBalancer", ports: [{ port: 80 }] } },
            resources[0],
        );
        const e = estimate([...resources, svc]);
        close(e.monthly - estimate(resources).monthly, H * (p("elb:classic-hour") + 2 * p("ipv4:hour")), "Classic LB + 2 public IPv4s");
    });

    it("an internal NLB has no public addresses", async () => {
        const { resources } = await render("dev");
        const svc = k8s(
            "kubernetes:core/v1:Service",
            "internal-svc",
            {
                apiVersion: "v1",
                kind: "Service",
                metadata: { name: "internal", annotations: { "service.beta.kubernetes.io/aws-load-balancer-scheme": "internal" } },
                spec: { type: "LoadBalancer", loadBalancerClass: "service.k8s.aws/nlb" },
            },
            resources[0],
        );
        const e = estimate([...resources, svc]);
        assert.equal(e.lines.filter((l) => l.id.startsWith("elb:internal-svc")).length, 1);
        close(e.monthly, estimate(resources).monthly, "NLB unpriced, no addresses");
    });
});

describe("cost: report", () => {
    it("the PR comparison shows base -> head and the difference per changed line", async () => {
        const base = costFile("dev", await estimateStack("dev"));
        const head = costFile("dev", await estimateStack("dev", nodeGroups("dev", { desiredSize: 3 })));
        const md = diff("dev", base, head);
        const node = H * p("ec2:t3.large");
        const root = 50 * p("ebs:gp3");
        assert.match(
            md,
            new RegExp(`Cost of dev: \\$${base.monthly.toFixed(2)} → \\$${head.monthly.toFixed(2)}/month \\(\\+\\$${(node + root).toFixed(2)}\\)`),
        );
        assert.ok(
            md.includes(
                `| ec2:cluster-general | node group: 3 x t3.large ON_DEMAND (min 1, max 4) | $${(2 * node).toFixed(2)} | $${(3 * node).toFixed(2)} | +$${node.toFixed(2)} |`,
            ),
            md,
        );
        assert.ok(md.includes(`| ebs:cluster-general:root |`));
        assert.ok(!md.includes("| eks:cluster-eks |"), "unchanged lines are left out");
        assert.match(diff("dev", base, base), /No change to any priced line item/);
        assert.match(diff("dev", undefined, head), /the base branch has no estimate/);
    });

    it("Kubernetes quantities convert to GiB", () => {
        assert.equal(quantityGiB("10Gi"), 10);
        assert.equal(quantityGiB("512Mi"), 0.5);
        assert.equal(quantityGiB("1Ti"), 1024);
        assert.equal(quantityGiB("ten"), undefined);
    });
});

describe("cost: regenerating the table from AWS's offer files (update-prices.ts)", () => {
    // A synthetic offer file in the Price List CSV layout (metadata lines, header, rows); the prices
    // are made up for the test.
    const csv = [
        `"FormatVersion","v1.0"`,
        `"Disclaimer","This pricing list is for informational purposes only."`,
        `"Publication Date","2026-09-25T17:45:21Z"`,
        `"Version","20260925174521"`,
        `"OfferCode","AmazonEC2"`,
        `"SKU","OfferTermCode","RateCode","TermType","PriceDescription","EffectiveDate","StartingRange","EndingRange","Unit","PricePerUnit","Currency","Product Family","Instance Type","Operating System","Tenancy","Pre Installed S/W","CapacityStatus","Volume API Name","usageType"`,
        `"A1","JRTCKXETXF","A1.1","OnDemand","$0.5 per On Demand Linux t3.large Instance Hour","2026-09-01","0","Inf","Hrs","0.5000000000","USD","Compute Instance","t3.large","Linux","Shared","NA","Used","","EU-BoxUsage:t3.large"`,
        `"A2","JRTCKXETXF","A2.1","OnDemand","$0.9 per On Demand Windows t3.large Instance Hour","2026-09-01","0","Inf","Hrs","0.9000000000","USD","Compute Instance","t3.large","Windows","Shared","NA","Used","","EU-BoxUsage:t3.large"`,
        `"A3","4NA7Y494T4","A3.1","Reserved","Linux t3.large reserved","2026-09-01","0","Inf","Hrs","0.3000000000","USD","Compute Instance","t3.large","Linux","Shared","NA","Used","","EU-BoxUsage:t3.large"`,
        `"N1","JRTCKXETXF","N1.1","OnDemand","$0.7 per NAT Gateway Hour","2026-09-01","0","Inf","Hrs","0.7000000000","USD","NAT Gateway","","","","","","","EU-NatGateway-Hours"`,
        `"N2","JRTCKXETXF","N2.1","OnDemand","$0.8 per Regional NAT Gateway Hour","2026-09-01","0","Inf","Hrs","0.8000000000","USD","NAT Gateway","","","","","","","EU-RegionalNatGateway-Hours"`,
        `"V1","JRTCKXETXF","V1.1","OnDemand","$0.2 per GB-month of gp3, ""General Purpose""","2026-09-01","0","Inf","GB-Mo","0.2000000000","USD","Storage","","","","","","gp3","EU-EBS:VolumeUsage.gp3"`,
    ];

    it("keeps exactly the on-demand Linux/shared instance row, the zonal NAT row and the gp3 row; reads the publication date", async () => {
        const { readOfferCsv, scanOffer, pickPrice } = await import("../tools/cost/update-prices");
        const meta: { publicationDate?: string } = {};
        const found = await scanOffer(readOfferCsv(csv, meta), ["ec2:t3.large", "nat:hour", "ebs:gp3", "ec2:m6i.xlarge"]);
        assert.equal(meta.publicationDate, "2026-09-25T17:45:21Z");
        assert.equal(pickPrice(found.get("ec2:t3.large")!), 0.5);
        assert.equal(pickPrice(found.get("nat:hour")!), 0.7);
        assert.equal(pickPrice(found.get("ebs:gp3")!), 0.2);
        assert.equal(pickPrice(found.get("ec2:m6i.xlarge")!), "no matching on-demand row");
    });

    it("rows that disagree are reported, not averaged", async () => {
        const { pickPrice } = await import("../tools/cost/update-prices");
        assert.equal(
            pickPrice([
                { PricePerUnit: "0.1", StartingRange: "0" },
                { PricePerUnit: "0.2", StartingRange: "0" },
            ]),
            "matching rows disagree (0.1, 0.2)",
        );
    });

    it("knows which offer file prices every key of the committed table", async () => {
        const { keySpec, wantedKeys } = await import("../tools/cost/update-prices");
        const offers = new Map(wantedKeys(TABLE).map((k) => [k, keySpec(k)!.offer]));
        assert.equal(offers.get("ec2:t3.large"), "AmazonEC2");
        assert.equal(offers.get("rds:postgres:db.r6g.large"), "AmazonRDS");
        assert.equal(offers.get("opensearch:r6g.large.search"), "AmazonES");
        for (const region of Object.values(TABLE.regions)) for (const k of Object.keys(region)) assert.ok(keySpec(k), `no offer mapping for ${k}`);
    });
});

describe("cost: README", () => {
    it("states the current monthly figure and range of every AWS stack", async () => {
        const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
        for (const stack of ["dev", "prod"] as const) {
            const e = await estimateStack(stack);
            const row = readme.split("\n").find((l) => l.startsWith(`| ${stack} `));
            assert.ok(row, `README Cost table has a row for ${stack}`);
            const money = (n: number) => `$${n.toFixed(2)}`;
            assert.ok(row.includes(`| ${money(e.monthly)} |`), `${stack}: README says ${row}, the estimate is ${money(e.monthly)}`);
            assert.ok(row.includes(`${money(e.range.min)}..${money(e.range.max)}`), `${stack}: range ${money(e.range.min)}..${money(e.range.max)}`);
        }
    });
});
