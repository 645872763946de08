/**
 * The cost estimator (tools/cost): totals for dev and prod worked out here from the committed
 * table's unit prices, config changes that move the total by exactly the priced difference,
 * warnings for prices the table lacks and for a stale table, load balancers found from the
 * rendered Service wherever it is declared, and the PR comparison.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { type CostEstimate, estimateCost, quantityGiB } from "../tools/cost/estimate";
import { loadPriceTable, type PriceTable } from "../tools/cost/price-table";
import { costFile, diff, formatCostTable } from "../tools/cost/report";
import { awsConfig, rawConfig, type RecordedResource, render, renderWith, ROOT, stackFile, type StackName } from "./harness";

const TABLE = loadPriceTable();
const REGION = "eu-west-1";
const H = 730; // hours in a month, as the table states (asserted in cost-prices.test.ts)
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

/** The stack's node groups as it runs them (its own list, or its environment's default), the first one changed. */
function nodeGroups(stack: StackName, change: Record<string, unknown>): Record<string, unknown> {
    const cluster = (stackFile(stack)["cli-platform:cluster"] ?? {}) as Record<string, unknown>;
    const groups = awsConfig(rawConfig(stack)).cluster.nodeGroups as unknown as Record<string, unknown>[];
    return { "cli-platform:cluster": { ...cluster, nodeGroups: [{ ...groups[0], ...change }, ...groups.slice(1)] } };
}

function network(stack: StackName, change: Record<string, unknown>): Record<string, unknown> {
    return { "cli-platform:network": { ...(stackFile(stack)["cli-platform:network"] as object), ...change } };
}

const close = (actual: number, expected: number, what: string) => assert.ok(Math.abs(actual - expected) < 1e-9, `${what}: expected ${expected}, got ${actual}`);

describe("cost: dev, staging and prod totals", () => {
    it("dev: control plane, 2 x t3.large, roots, one NAT, the ingress NLB, IPv4s, KMS and the claimed volumes: complete", async () => {
        const e = await estimateStack("dev");
        const expected =
            H * p("eks:cluster-hour") + // one EKS control plane
            2 * H * p("ec2:t3.large") + // node group general: desiredSize 2
            2 * 50 * p("ebs:gp3") + // its root volumes: 2 x 50 GiB gp3 (launch template)
            1 * H * p("nat:hour") + // natGateways: single
            1 * H * p("ipv4:hour") + // the NAT gateway's Elastic IP
            1 * H * p("elb:network-hour") + // the ingress NLB (AWS load balancer controller)
            2 * H * p("ipv4:hour") + // the ingress NLB: one public IPv4 per public subnet (azCount 2)
            2 * p("kms:key-month") + // cluster secrets + logging keys
            (10 + 5) * p("ebs:gp3") + // in-cluster postgres (10 GiB) and redis (5 GiB) claims
            10 * p("ebs:gp3") + // grafana persistence 10Gi
            1 * 10 * p("ebs:gp3"); // prometheus: 1 replica x 10Gi claim template
        // At the committed prices: 73 + 133.152 + 8.8 + 35.04 + 3.65 + 18.396 + 7.3 + 2 + 1.32 + 0.88 + 0.88 = $284.418
        close(e.monthly, expected, "dev monthly");
        assert.ok(!e.warnings.some((w) => w.startsWith("no price for")), e.warnings.join("\n"));
        assert.ok(
            e.lines.every((l) => l.monthly !== null),
            "every dev line is priced",
        );
        assert.ok(
            e.usage.some((u) => u.priceKey === "elb:nlcu" && u.unitPrice === p("elb:nlcu")),
            "NLB capacity units: unit price, depends on usage",
        );
    });

    it("prod: 3 x m6i.xlarge, a SPOT group at zero with its ceiling as range, 3 NATs, Multi-AZ RDS, unpriced cache and search named in warnings", async () => {
        const e = await estimateStack("prod");
        const expected =
            H * p("eks:cluster-hour") +
            3 * H * p("ec2:m6i.xlarge") + // general: desiredSize 3
            3 * 100 * p("ebs:gp3") + // its roots: 3 x 100 GiB
            0 + // burst (SPOT): desiredSize 0
            3 * H * p("nat:hour") + // natGateways: perAz, azCount 3
            3 * H * p("ipv4:hour") + // three NAT Elastic IPs
            1 * H * p("elb:network-hour") + // the ingress NLB
            3 * H * p("ipv4:hour") + // the ingress NLB's public IPv4s (3 public subnets)
            2 * H * p("rds:postgres:db.r6g.large") + // RDS db.r6g.large, Multi-AZ: primary + standby
            2 * 50 * p("rds:storage:gp3") + // RDS storage: 50 GiB gp3, Multi-AZ (primary + standby)
            4 * p("kms:key-month") + // cluster, postgres, redis, OpenSearch keys
            10 * p("ebs:gp3") + // grafana persistence
            2 * 100 * p("ebs:gp3"); // prometheus: 2 replicas x 100Gi
        // At the committed prices: 73 + 468.66 + 26.4 + 105.12 + 10.95 + 18.396 + 10.95 + 367.92 + 12.7 + 4 + 0.88 + 17.6 = $1116.576
        close(e.monthly, expected, "prod monthly");

        const ceiling = Math.max(p("ec2:m6i.xlarge"), p("ec2:m5.xlarge"), p("ec2:m6a.xlarge"));
        const burst = e.lines.find((l) => l.id === "ec2:cluster-burst")!;
        assert.equal(burst.unitPrice, ceiling);
        assert.match(burst.notes.join(" "), /SPOT: priced at the on-demand ceiling/);
        close(burst.range!.max, 12 * H * ceiling, "burst at maxSize 12");
        const general = e.lines.find((l) => l.id === "ec2:cluster-general")!;
        close(general.range!.min, 3 * H * p("ec2:m6i.xlarge"), "general at minSize 3");
        close(general.range!.max, 12 * H * p("ec2:m6i.xlarge"), "general at maxSize 12");

        for (const key of ["elasticache:cache.r7g.large", "opensearch:r6g.large.search", "opensearch:storage:gp3", "rds:backup"]) {
            assert.ok(
                e.warnings.some((w) => w.includes(`no price for ${key} in eu-west-1`)),
                `warning names ${key}`,
            );
        }
        assert.equal(e.lines.filter((l) => l.monthly === null).length, 3, "ElastiCache nodes, OpenSearch nodes and OpenSearch storage are unpriced");
        assert.ok(e.usage.some((u) => u.priceKey === "rds:backup" && /beyond the free allowance \(50 GiB/.test(u.description)));
        assert.ok(
            e.usage.some((u) => u.priceKey === "logs:ingest" && u.unitPrice === p("logs:ingest")),
            "log ingestion: unit price, depends on usage",
        );
        assert.ok(
            e.usage.some((u) => u.priceKey === "nat:gb" && u.unitPrice === p("nat:gb")),
            "NAT data processing: unit price, depends on usage",
        );
        assert.ok(
            e.usage.some((u) => u.service === "LLM" && /openai gpt-4/.test(u.description)),
            "LLM calls are listed as usage",
        );
    });

    it("staging: control plane, 2 x 50 GiB roots, one NAT, IPv4s, single-AZ RDS storage, KMS, claimed volumes; unpriced nodes and data services named", async () => {
        const e = await estimateStack("staging");
        const expected =
            H * p("eks:cluster-hour") + // one EKS control plane
            0 + // node group general: 2 x m6i.large, no eu-west-1 price in the table (warned below)
            2 * 50 * p("ebs:gp3") + // its root volumes: 2 x 50 GiB gp3
            1 * H * p("nat:hour") + // natGateways: single
            1 * H * p("ipv4:hour") + // the NAT gateway's Elastic IP
            1 * H * p("elb:network-hour") + // the ingress NLB
            3 * H * p("ipv4:hour") + // its public IPv4s (3 public subnets)
            1 * 20 * p("rds:storage:gp3") + // RDS storage: 20 GiB gp3, Single-AZ
            4 * p("kms:key-month") + // cluster, postgres, redis, OpenSearch keys
            10 * p("ebs:gp3") + // grafana persistence
            1 * 20 * p("ebs:gp3"); // prometheus: 1 replica x 20Gi
        close(e.monthly, expected, "staging monthly");
        for (const key of ["ec2:m6i.large", "rds:postgres:db.t4g.medium", "elasticache:cache.t4g.small", "opensearch:m6g.large.search"]) {
            assert.ok(
                e.warnings.some((w) => w.includes(`no price for ${key} in eu-west-1`)),
                `warning names ${key}`,
            );
        }
        const general = e.lines.find((l) => l.id === "ec2:cluster-general")!;
        assert.equal(general.monthly, null, "the node group is listed, unpriced");
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

    it("Multi-AZ off halves the RDS instance and storage lines", async () => {
        const multi = await estimateStack("prod");
        const single = await estimateStack("prod", { "cli-platform:postgres": { ...(stackFile("prod")["cli-platform:postgres"] as object), multiAz: false } });
        const factor = TABLE.global["rds:multi-az-factor"].usd;
        assert.equal(factor, 2);
        const rds = multi.lines.filter((l) => l.service === "RDS").reduce((s, l) => s + l.monthly!, 0);
        const instance = H * p("rds:postgres:db.r6g.large"); // 730 h x $0.252 = $183.96
        const storage = 50 * p("rds:storage:gp3"); // 50 GiB x $0.127 = $6.35
        close(rds, 2 * instance + 2 * storage, "Multi-AZ RDS: 2 x $183.96 + 2 x $6.35 = $380.62");
        close(single.monthly - multi.monthly, -(instance + storage), "delta: -$190.31");
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
        assert.match(formatCostTable("dev", after), /INCOMPLETE: 1 line item\(s\) unpriced/);
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
        close(e.monthly - estimate(resources).monthly, H * (p("elb:network-hour") + 2 * p("ipv4:hour")), "an NLB and two public addresses");
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
        close(e.monthly - estimate(resources).monthly, H * p("elb:network-hour"), "the NLB alone, no addresses");
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

describe("cost: README", () => {
    it("states the current monthly figure and range of every AWS stack", async () => {
        const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
        for (const stack of ["dev", "staging", "prod"] as const) {
            const e = await estimateStack(stack);
            const row = readme.split("\n").find((l) => l.startsWith(`| ${stack} `));
            assert.ok(row, `README Cost table has a row for ${stack}`);
            const money = (n: number) => `$${n.toFixed(2)}`;
            assert.ok(row.includes(`| ${money(e.monthly)} |`), `${stack}: README says ${row}, the estimate is ${money(e.monthly)}`);
            assert.ok(row.includes(`${money(e.range.min)}..${money(e.range.max)}`), `${stack}: range ${money(e.range.min)}..${money(e.range.max)}`);
        }
    });
});
