/**
 * Monthly cost estimate of a stack: a pure function from the resources the offline render recorded
 * (tools/harness.ts) and a price table (prices.json) to priced line items.
 *
 * Everything is read from resource types and inputs, never from component or stack names:
 *   - EKS control plane per aws:eks/cluster:Cluster;
 *   - EC2 per node group: desired size x on-demand hourly of its most expensive instance type (the
 *     ceiling; SPOT groups are priced at it and marked), min..max as a range, root volumes from the
 *     node group's launch template;
 *   - NAT gateways and the public IPv4 addresses of Elastic IPs;
 *   - load balancers: aws:lb resources, and every Kubernetes Service of type LoadBalancer wherever it
 *     is rendered (a Service object, Helm values, a gateway's proxy spec), classified by its
 *     annotations/loadBalancerClass (NLB via the AWS load balancer controller, else Classic);
 *   - RDS (class x Multi-AZ factor + storage), ElastiCache (node type x nodes), OpenSearch
 *     (instances + EBS), KMS keys;
 *   - EBS behind persistent volume claims (PVCs, StatefulSet claim templates x replicas, claim
 *     templates and `persistence` blocks inside Helm values), typed by their StorageClass;
 *   - usage-based charges (NAT/LB data, log ingestion and storage, RDS backup beyond the free
 *     allowance, LLM calls) with their unit price and "depends on usage", never a guessed quantity.
 * A price missing from the table is a warning naming it; the line is shown unpriced and left out
 * of the total. AWS resource types with no pricing rule are warnings too, unless known to be free.
 *
 * This file is the collector; the pricers live by concern: compute.ts (EKS, node groups),
 * network.ts (NAT, Elastic IPs, load balancers), data.ts (RDS, ElastiCache, OpenSearch),
 * storage.ts (volume claims), services.ts (KMS, ECR, CloudWatch Logs, LLM); core.ts holds the
 * types, the input walkers and the Pricer every pricer writes its lines through.
 */
import type { RecordedResource } from "../harness";
import { MAX_TABLE_AGE_DAYS, tableAgeDays } from "./price-table";
import { type Context, type CostEstimate, type EstimateOptions, Pricer } from "./core";
import { priceEks, priceNodeGroups } from "./compute";
import { priceNetwork, priceLoadBalancers } from "./network";
import { priceRds, priceElastiCache, priceOpenSearch } from "./data";
import { priceVolumes } from "./storage";
import { priceKmsAndLogs, priceLlm } from "./services";

export type { CostEstimate, CostLine, EstimateOptions, UsageLine } from "./core";
export { findLoadBalancerServices } from "./network";
export { findVolumeClaims, quantityGiB } from "./storage";

/** AWS types that cost nothing by themselves (or are priced through another resource). */
const FREE_AWS_TYPES = new Set([
    "aws:ec2/vpc:Vpc",
    "aws:ec2/subnet:Subnet",
    "aws:ec2/routeTable:RouteTable",
    "aws:ec2/routeTableAssociation:RouteTableAssociation",
    "aws:ec2/route:Route",
    "aws:ec2/internetGateway:InternetGateway",
    "aws:ec2/securityGroup:SecurityGroup",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
    "aws:ec2/securityGroupRule:SecurityGroupRule",
    "aws:ec2/launchTemplate:LaunchTemplate", // priced with its node group
    "aws:ec2/flowLog:FlowLog", // its log group carries the usage charge
    "aws:eks/accessEntry:AccessEntry",
    "aws:eks/accessPolicyAssociation:AccessPolicyAssociation",
    "aws:eks/addon:Addon", // add-on pods run on the priced nodes
    "aws:eks/podIdentityAssociation:PodIdentityAssociation",
    "aws:kms/alias:Alias",
    "aws:rds/subnetGroup:SubnetGroup",
    "aws:rds/parameterGroup:ParameterGroup",
    "aws:elasticache/subnetGroup:SubnetGroup",
    "aws:elasticache/parameterGroup:ParameterGroup",
    "aws:ecr/lifecyclePolicy:LifecyclePolicy",
    "aws:lb/listener:Listener",
    "aws:lb/targetGroup:TargetGroup",
]);
const FREE_AWS_PREFIXES = ["aws:iam/"];

function warnUnpricedTypes(ctx: Context): void {
    const handled = new Set([
        "aws:eks/cluster:Cluster",
        "aws:eks/nodeGroup:NodeGroup",
        "aws:ec2/natGateway:NatGateway",
        "aws:ec2/eip:Eip",
        "aws:lb/loadBalancer:LoadBalancer",
        "aws:rds/instance:Instance",
        "aws:elasticache/replicationGroup:ReplicationGroup",
        "aws:elasticache/cluster:Cluster",
        "aws:opensearch/domain:Domain",
        "aws:kms/key:Key",
        "aws:cloudwatch/logGroup:LogGroup",
        "aws:ecr/repository:Repository",
    ]);
    const counts = new Map<string, number>();
    for (const r of ctx.resources) {
        if (!r.custom || !r.type.startsWith("aws:") || handled.has(r.type) || FREE_AWS_TYPES.has(r.type) || FREE_AWS_PREFIXES.some((p) => r.type.startsWith(p)))
            continue;
        counts.set(r.type, (counts.get(r.type) ?? 0) + 1);
    }
    for (const [type, n] of [...counts].sort()) ctx.pricer.warn(`no pricing rule for ${type} (${n}): not in the estimate`);
}

/** Prices the recorded resources of one stack. Pure: same inputs, same estimate. */
export function estimateCost(resources: RecordedResource[], options: EstimateOptions): CostEstimate {
    const { table, now } = options;
    const onAws = resources.some((r) => r.custom && r.type.startsWith("aws:"));
    const ageDays = tableAgeDays(table, now);
    const base = { currency: "USD" as const, hoursPerMonth: table.hoursPerMonth, priceTable: { retrieved: table.retrieved, ageDays } };
    if (!onAws) {
        return { ...base, region: options.region, monthly: 0, range: { min: 0, max: 0 }, lines: [], usage: [], warnings: [] };
    }
    if (!options.region) {
        return {
            ...base,
            monthly: 0,
            range: { min: 0, max: 0 },
            lines: [],
            usage: [],
            warnings: ["the stack has AWS resources but no aws:region: nothing priced"],
        };
    }
    const pricer = new Pricer(table, options.region);
    if (!table.regions[options.region])
        pricer.warn(`the price table has no region ${options.region}: nothing is priced (regenerate with npm run cost:prices -- --region ${options.region})`);
    const ctx: Context = { resources, pricer, hours: table.hoursPerMonth, lines: [], usage: [] };
    const onEks = resources.some((r) => r.type === "aws:eks/cluster:Cluster");

    priceEks(ctx);
    priceNodeGroups(ctx);
    priceNetwork(ctx);
    priceLoadBalancers(ctx, onEks);
    priceRds(ctx);
    priceElastiCache(ctx);
    priceOpenSearch(ctx);
    priceKmsAndLogs(ctx);
    if (onEks) priceVolumes(ctx);
    priceLlm(ctx);
    warnUnpricedTypes(ctx);

    if (ageDays > MAX_TABLE_AGE_DAYS) {
        pricer.warn(
            `the price table was retrieved ${table.retrieved}, ${ageDays} days ago (more than ${MAX_TABLE_AGE_DAYS}): regenerate it with npm run cost:prices`,
        );
    }
    const secondary = [...pricer.used].filter((s) => table.sources[s]?.kind === "secondary").sort();
    if (secondary.length > 0) {
        pricer.warn(`prices from secondary copies of AWS's prices, not AWS's offer files: ${secondary.join(", ")} (see tools/cost/prices.json)`);
    }

    const priced = ctx.lines.filter((l) => l.monthly !== null);
    const monthly = priced.reduce((s, l) => s + l.monthly!, 0);
    const range = {
        min: priced.reduce((s, l) => s + (l.range?.min ?? l.monthly!), 0),
        max: priced.reduce((s, l) => s + (l.range?.max ?? l.monthly!), 0),
    };
    return { ...base, region: options.region, monthly, range, lines: ctx.lines, usage: ctx.usage, warnings: pricer.warnings };
}
