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
 */
import * as YAML from "yaml";
import type { RecordedResource } from "../harness";
import { MAX_TABLE_AGE_DAYS, type PriceEntry, type PriceTable, tableAgeDays } from "./price-table";

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

const EBS_CSI = "ebs.csi.aws.com";
const LB_TYPE_ANNOTATION = "service.beta.kubernetes.io/aws-load-balancer-type";
const LB_SCHEME_ANNOTATION = "service.beta.kubernetes.io/aws-load-balancer-scheme";
const NLB_CLASS = "service.k8s.aws/nlb";
const ELB_SUBNET_TAG = "kubernetes.io/role/elb";

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

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : undefined);

/** Kubernetes quantity ("10Gi", "500Mi", "1Ti", "20G") in GiB. */
export function quantityGiB(q: string): number | undefined {
    const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$/.exec(q.trim());
    if (!m) return undefined;
    const n = Number(m[1]);
    const bytes: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15 };
    return (n * (m[2] ? bytes[m[2]] : 1)) / 2 ** 30;
}

/** Calls `visit` for every object node inside `value`, with its ancestors (outermost first). */
function walk(value: unknown, visit: (node: Obj, ancestors: Obj[], key: string | undefined) => void, ancestors: Obj[] = [], key?: string): void {
    if (Array.isArray(value)) {
        for (const v of value) walk(v, visit, ancestors, key);
    } else if (isObj(value)) {
        visit(value, ancestors, key);
        for (const [k, v] of Object.entries(value)) walk(v, visit, [...ancestors, value], k);
    }
}

class Pricer {
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

interface Context {
    resources: RecordedResource[];
    pricer: Pricer;
    hours: number;
    lines: CostLine[];
    usage: UsageLine[];
}

function line(ctx: Context, l: Omit<CostLine, "unitPrice" | "monthly" | "notes" | "range"> & { notes?: string[] }): CostLine {
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

function usage(ctx: Context, u: Omit<UsageLine, "unitPrice">): void {
    const entry = ctx.pricer.get(u.priceKey, `${u.service} ${u.resource} (usage)`);
    ctx.usage.push({ ...u, unitPrice: entry ? entry.usd : null });
}

const byType = (ctx: Context, type: string) => ctx.resources.filter((r) => r.type === type);

function priceEks(ctx: Context): void {
    for (const r of byType(ctx, "aws:eks/cluster:Cluster")) {
        line(ctx, {
            id: `eks:${r.name}`,
            service: "EKS",
            resource: r.name,
            description: `control plane (Kubernetes ${str(r.inputs.version) ?? "default"}, standard support)`,
            quantity: 1,
            unit: "hour",
            priceKey: "eks:cluster-hour",
        });
    }
}

function priceNodeGroups(ctx: Context): void {
    const templates = byType(ctx, "aws:ec2/launchTemplate:LaunchTemplate");
    for (const r of byType(ctx, "aws:eks/nodeGroup:NodeGroup")) {
        const scaling = isObj(r.inputs.scalingConfig) ? r.inputs.scalingConfig : {};
        const desired = num(scaling.desiredSize) ?? 0;
        const min = num(scaling.minSize) ?? desired;
        const max = num(scaling.maxSize) ?? desired;
        const capacity = str(r.inputs.capacityType) ?? "ON_DEMAND";
        const types = Array.isArray(r.inputs.instanceTypes) ? r.inputs.instanceTypes.filter((t): t is string => typeof t === "string") : [];
        if (types.length === 0) {
            ctx.pricer.warn(`node group ${r.name} names no instance types: not priced`);
            continue;
        }
        // The ceiling: the most expensive of its types. A type missing from the table is a warning
        // (Pricer.get); if any is missing the ceiling is unknown, so the line stays unpriced.
        const prices = types.map((t) => ctx.pricer.get(`ec2:${t}`, `node group ${r.name}`));
        const known = prices.every((p): p is PriceEntry => p !== null);
        const ceilingIndex = known ? prices.reduce((best, p, i) => (p.usd > prices[best]!.usd ? i : best), 0) : 0;
        const ceilingType = types[ceilingIndex];
        const hourly = known ? prices[ceilingIndex]!.usd : null;
        const notes: string[] = [];
        if (capacity === "SPOT") notes.push(`SPOT: priced at the on-demand ceiling (${ceilingType}); the spot price is lower and varies`);
        else if (types.length > 1) notes.push(`priced at the most expensive of its types (${ceilingType})`);
        ctx.lines.push({
            id: `ec2:${r.name}`,
            service: "EC2",
            resource: r.name,
            description: `node group: ${desired} x ${types.join("|")} ${capacity} (min ${min}, max ${max})`,
            quantity: desired,
            unit: "hour",
            priceKey: `ec2:${ceilingType}`,
            unitPrice: hourly,
            monthly: hourly === null ? null : desired * hourly * ctx.hours,
            ...(hourly === null ? {} : { range: { min: min * hourly * ctx.hours, max: max * hourly * ctx.hours } }),
            notes,
        });

        // Root volumes: from the launch template the node group uses, else the node group's diskSize.
        const ltRef = isObj(r.inputs.launchTemplate) ? r.inputs.launchTemplate : undefined;
        const lt = ltRef
            ? templates.find((t) => (ltRef.id !== undefined && t.id === ltRef.id) || (ltRef.name !== undefined && t.inputs.name === ltRef.name))
            : undefined;
        const mapping = lt && Array.isArray(lt.inputs.blockDeviceMappings) ? lt.inputs.blockDeviceMappings.find((m) => isObj(m) && isObj(m.ebs)) : undefined;
        const ebs = isObj(mapping) && isObj(mapping.ebs) ? mapping.ebs : undefined;
        const size = num(ebs?.volumeSize) ?? num(r.inputs.diskSize);
        const volumeType = str(ebs?.volumeType) ?? (num(r.inputs.diskSize) !== undefined ? "gp2" : undefined);
        if (size === undefined || volumeType === undefined) {
            ctx.pricer.warn(`node group ${r.name}: root volume size/type not in its inputs or launch template: not priced`);
            continue;
        }
        const volume = line(ctx, {
            id: `ebs:${r.name}:root`,
            service: "EBS",
            resource: r.name,
            description: `node root volumes: ${desired} x ${size} GiB ${volumeType}`,
            quantity: desired * size,
            unit: "GB-month",
            priceKey: `ebs:${volumeType}`,
        });
        if (volume.unitPrice !== null) volume.range = { min: min * size * volume.unitPrice, max: max * size * volume.unitPrice };
    }
}

function priceNetwork(ctx: Context): void {
    for (const r of byType(ctx, "aws:ec2/natGateway:NatGateway")) {
        line(ctx, { id: `nat:${r.name}`, service: "VPC", resource: r.name, description: "NAT gateway", quantity: 1, unit: "hour", priceKey: "nat:hour" });
        usage(ctx, { id: `nat:${r.name}:data`, service: "VPC", resource: r.name, description: "NAT gateway data processed", priceKey: "nat:gb", unit: "GB" });
    }
    for (const r of byType(ctx, "aws:ec2/eip:Eip")) {
        line(ctx, {
            id: `ipv4:${r.name}`,
            service: "VPC",
            resource: r.name,
            description: "public IPv4 address (Elastic IP)",
            quantity: 1,
            unit: "hour",
            priceKey: "ipv4:hour",
        });
    }
}

/** Every Service of type LoadBalancer in Kubernetes objects, Helm values and proxy specs. */
export function findLoadBalancerServices(
    resources: RecordedResource[],
): { resource: RecordedResource; path: string; annotations: Record<string, string>; loadBalancerClass?: string }[] {
    const found: { resource: RecordedResource; path: string; annotations: Record<string, string>; loadBalancerClass?: string }[] = [];
    for (const r of resources) {
        if (!r.type.startsWith("kubernetes:")) continue;
        walk(r.inputs, (node, ancestors, key) => {
            // Envoy Gateway deploys the proxy Service as LoadBalancer unless its envoyService says
            // otherwise (gateway.envoyproxy.io docs, "Gateway Address").
            const envoyDefault = key === "envoyService" && node.type === undefined;
            if (node.type !== "LoadBalancer" && !envoyDefault) return;
            // A Service object keeps annotations in metadata; Helm values and proxy specs next to `type`.
            const parent = ancestors[ancestors.length - 1];
            const own = isObj(node.annotations) ? node.annotations : undefined;
            const meta =
                parent && parent.spec === node && isObj(parent.metadata) && isObj(parent.metadata.annotations) ? parent.metadata.annotations : undefined;
            const annotations = Object.fromEntries(Object.entries(own ?? meta ?? {}).filter(([, v]) => typeof v === "string")) as Record<string, string>;
            const keys = ancestors.length === 0 ? [] : pathOf(r.inputs, node);
            found.push({ resource: r, path: keys.join("."), annotations, loadBalancerClass: str(node.loadBalancerClass) });
        });
    }
    return found;
}

/** A readable location inside a resource's inputs: the keys that say where, without the plumbing. */
function shortPath(keys: string[]): string {
    const plumbing = new Set(["values", "spec", "volumeClaimTemplate", "storageSpec", "resources", "requests"]);
    return keys.filter((k) => !plumbing.has(k) && !/^\d+$/.test(k)).join(".");
}

function pathOf(root: unknown, target: Obj): string[] {
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

function priceLoadBalancers(ctx: Context, onEks: boolean): void {
    const elbSubnets = byType(ctx, "aws:ec2/subnet:Subnet").filter((s) => isObj(s.inputs.tags) && s.inputs.tags[ELB_SUBNET_TAG] === "1").length;
    const publicIps = (resource: string, id: string) => {
        if (elbSubnets === 0) {
            ctx.pricer.warn(`load balancer ${resource}: no subnet tagged ${ELB_SUBNET_TAG}=1, its public IPv4 addresses are not priced`);
            return;
        }
        line(ctx, {
            id: `${id}:ipv4`,
            service: "ELB",
            resource,
            description: `public IPv4 addresses, one per subnet tagged ${ELB_SUBNET_TAG}`,
            quantity: elbSubnets,
            unit: "hour",
            priceKey: "ipv4:hour",
        });
    };
    for (const r of byType(ctx, "aws:lb/loadBalancer:LoadBalancer")) {
        const kind = str(r.inputs.loadBalancerType) ?? "application";
        line(ctx, {
            id: `elb:${r.name}`,
            service: "ELB",
            resource: r.name,
            description: `${kind} load balancer`,
            quantity: 1,
            unit: "hour",
            priceKey: `elb:${kind}-hour`,
        });
        const subnets =
            (Array.isArray(r.inputs.subnets) ? r.inputs.subnets.length : 0) + (Array.isArray(r.inputs.subnetMappings) ? r.inputs.subnetMappings.length : 0);
        if (r.inputs.internal !== true && subnets > 0) {
            line(ctx, {
                id: `elb:${r.name}:ipv4`,
                service: "ELB",
                resource: r.name,
                description: "public IPv4 addresses, one per subnet",
                quantity: subnets,
                unit: "hour",
                priceKey: "ipv4:hour",
            });
        }
        usage(ctx, {
            id: `elb:${r.name}:lcu`,
            service: "ELB",
            resource: r.name,
            description: `${kind} load balancer capacity units`,
            priceKey: kind === "network" ? "elb:nlcu" : "elb:lcu",
            unit: "LCU-hour",
        });
    }
    if (!onEks) return; // Services of type LoadBalancer only become AWS load balancers on EKS.
    for (const svc of findLoadBalancerServices(ctx.resources)) {
        const type = svc.annotations[LB_TYPE_ANNOTATION];
        // The AWS Load Balancer Controller takes Services with its class or type external/nlb-ip and makes
        // them internal unless the scheme says internet-facing (its docs, "Network Load Balancer": internal
        // by default since v2.2.0); the in-tree cloud provider makes them internet-facing unless marked internal.
        const byController = svc.loadBalancerClass === NLB_CLASS || type === "external" || type === "nlb-ip";
        const nlb = byController || type === "nlb";
        const scheme = svc.annotations[LB_SCHEME_ANNOTATION];
        const internal = byController
            ? scheme !== "internet-facing"
            : scheme === "internal" || svc.annotations["service.beta.kubernetes.io/aws-load-balancer-internal"] === "true";
        const short = shortPath(svc.path.split("."));
        const where = short ? `${svc.resource.name}:${short}` : svc.resource.name;
        const id = `elb:${where}`;
        line(ctx, {
            id,
            service: "ELB",
            resource: where,
            description: nlb
                ? "Network Load Balancer for a Service of type LoadBalancer"
                : "Classic Load Balancer for a Service of type LoadBalancer (no NLB annotation: the cloud provider's default)",
            quantity: 1,
            unit: "hour",
            priceKey: nlb ? "elb:network-hour" : "elb:classic-hour",
        });
        if (!internal) publicIps(where, id);
        usage(
            ctx,
            nlb
                ? {
                      id: `${id}:lcu`,
                      service: "ELB",
                      resource: where,
                      description: "NLB capacity units (connections, bytes)",
                      priceKey: "elb:nlcu",
                      unit: "NLCU-hour",
                  }
                : { id: `${id}:data`, service: "ELB", resource: where, description: "Classic LB data processed", priceKey: "elb:classic-gb", unit: "GB" },
        );
    }
}

function priceRds(ctx: Context): void {
    for (const r of byType(ctx, "aws:rds/instance:Instance")) {
        const engine = str(r.inputs.engine) ?? "unknown";
        const cls = str(r.inputs.instanceClass) ?? "unknown";
        const multiAz = r.inputs.multiAz === true;
        const factorEntry = multiAz ? ctx.pricer.get("rds:multi-az-factor", `RDS ${r.name}`) : null;
        const factor = multiAz ? (factorEntry?.usd ?? null) : 1;
        const az = multiAz ? "Multi-AZ" : "Single-AZ";
        const instance = line(ctx, {
            id: `rds:${r.name}`,
            service: "RDS",
            resource: r.name,
            description: `${engine} ${cls} ${az}`,
            quantity: factor ?? 1,
            unit: "hour",
            priceKey: `rds:${engine}:${cls}`,
            notes: multiAz ? [`Multi-AZ: primary + standby (x${factor ?? "?"})`] : [],
        });
        if (factor === null) instance.monthly = null;
        const gib = num(r.inputs.allocatedStorage);
        const storageType = str(r.inputs.storageType) ?? "gp2";
        if (gib !== undefined) {
            const storage = line(ctx, {
                id: `rds:${r.name}:storage`,
                service: "RDS",
                resource: r.name,
                description: `${gib} GiB ${storageType} storage, ${az}`,
                quantity: gib * (factor ?? 1),
                unit: "GB-month",
                priceKey: `rds:storage:${storageType}`,
                notes: num(r.inputs.maxAllocatedStorage) ? [`storage autoscaling up to ${r.inputs.maxAllocatedStorage} GiB grows this line`] : [],
            });
            if (factor === null) storage.monthly = null;
        }
        const retention = num(r.inputs.backupRetentionPeriod) ?? 0;
        if (retention > 0) {
            usage(ctx, {
                id: `rds:${r.name}:backup`,
                service: "RDS",
                resource: r.name,
                description: `backup storage beyond the free allowance (${gib ?? "?"} GiB, the provisioned size; ${retention}-day retention)`,
                priceKey: "rds:backup",
                unit: "GB-month",
            });
        }
    }
}

function priceElastiCache(ctx: Context): void {
    for (const r of byType(ctx, "aws:elasticache/replicationGroup:ReplicationGroup")) {
        const nodeType = str(r.inputs.nodeType) ?? "unknown";
        const shards = num(r.inputs.numNodeGroups);
        const nodes = shards !== undefined ? shards * ((num(r.inputs.replicasPerNodeGroup) ?? 0) + 1) : (num(r.inputs.numCacheClusters) ?? 1);
        line(ctx, {
            id: `elasticache:${r.name}`,
            service: "ElastiCache",
            resource: r.name,
            description: `${nodes} x ${nodeType}`,
            quantity: nodes,
            unit: "hour",
            priceKey: `elasticache:${nodeType}`,
        });
    }
    for (const r of byType(ctx, "aws:elasticache/cluster:Cluster")) {
        const nodeType = str(r.inputs.nodeType) ?? "unknown";
        const nodes = num(r.inputs.numCacheNodes) ?? 1;
        line(ctx, {
            id: `elasticache:${r.name}`,
            service: "ElastiCache",
            resource: r.name,
            description: `${nodes} x ${nodeType}`,
            quantity: nodes,
            unit: "hour",
            priceKey: `elasticache:${nodeType}`,
        });
    }
}

function priceOpenSearch(ctx: Context): void {
    for (const r of byType(ctx, "aws:opensearch/domain:Domain")) {
        const cluster = isObj(r.inputs.clusterConfig) ? r.inputs.clusterConfig : {};
        const type = str(cluster.instanceType) ?? "r6g.large.search";
        const count = num(cluster.instanceCount) ?? 1;
        line(ctx, {
            id: `opensearch:${r.name}`,
            service: "OpenSearch",
            resource: r.name,
            description: `${count} x ${type} data nodes`,
            quantity: count,
            unit: "hour",
            priceKey: `opensearch:${type}`,
        });
        if (cluster.dedicatedMasterEnabled === true) {
            const masterType = str(cluster.dedicatedMasterType) ?? "unknown";
            const masters = num(cluster.dedicatedMasterCount) ?? 3;
            line(ctx, {
                id: `opensearch:${r.name}:masters`,
                service: "OpenSearch",
                resource: r.name,
                description: `${masters} x ${masterType} dedicated masters`,
                quantity: masters,
                unit: "hour",
                priceKey: `opensearch:${masterType}`,
            });
        }
        if (cluster.warmEnabled === true) ctx.pricer.warn(`OpenSearch ${r.name}: UltraWarm nodes are not priced`);
        const ebs = isObj(r.inputs.ebsOptions) ? r.inputs.ebsOptions : {};
        const size = num(ebs.volumeSize);
        if (ebs.ebsEnabled === true && size !== undefined) {
            const volumeType = str(ebs.volumeType) ?? "gp2";
            line(ctx, {
                id: `opensearch:${r.name}:storage`,
                service: "OpenSearch",
                resource: r.name,
                description: `EBS: ${count} x ${size} GiB ${volumeType}`,
                quantity: count * size,
                unit: "GB-month",
                priceKey: `opensearch:storage:${volumeType}`,
            });
        }
    }
}

function priceKmsAndLogs(ctx: Context): void {
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

interface Claim {
    resource: RecordedResource;
    path: string;
    gib: number;
    replicas: number;
    storageClass?: string;
}

/** Persistent volume claims wherever they are declared (objects, claim templates, Helm values). */
export function findVolumeClaims(resources: RecordedResource[]): Claim[] {
    const claims: Claim[] = [];
    for (const r of resources) {
        if (!r.type.startsWith("kubernetes:") || r.type.startsWith("kubernetes:storage.k8s.io/")) continue;
        walk(r.inputs, (node, ancestors, key) => {
            const requests = isObj(node.resources) && isObj(node.resources.requests) ? node.resources.requests : undefined;
            const pvcSize = str(requests?.storage);
            const persistenceSize = key === "persistence" && node.enabled === true && node.type !== "emptyDir" ? str(node.size) : undefined;
            const size = pvcSize ?? persistenceSize;
            if (size === undefined) return;
            const gib = quantityGiB(size);
            if (gib === undefined) return;
            // Claim templates are stamped once per replica of the nearest workload that has replicas.
            const inTemplate = ancestors.some((a) => Array.isArray(a.volumeClaimTemplates) || isObj(a.volumeClaimTemplate));
            const owner = inTemplate ? [...ancestors].reverse().find((a) => num(a.replicas) !== undefined) : undefined;
            claims.push({
                resource: r,
                path: pathOf(r.inputs, node).join("."),
                gib,
                replicas: num(owner?.replicas) ?? 1,
                storageClass: str(node.storageClassName),
            });
        });
    }
    return claims;
}

function priceVolumes(ctx: Context): void {
    const classes = ctx.resources.filter((r) => r.type === "kubernetes:storage.k8s.io/v1:StorageClass");
    const className = (r: RecordedResource) => (isObj(r.inputs.metadata) ? str(r.inputs.metadata.name) : undefined) ?? r.name;
    const defaultClass = classes.find(
        (c) =>
            isObj(c.inputs.metadata) &&
            isObj(c.inputs.metadata.annotations) &&
            c.inputs.metadata.annotations["storageclass.kubernetes.io/is-default-class"] === "true",
    );
    for (const claim of findVolumeClaims(ctx.resources)) {
        const sc = claim.storageClass ? classes.find((c) => className(c) === claim.storageClass) : defaultClass;
        const short = shortPath(claim.path.split("."));
        const where = short ? `${claim.resource.name}:${short}` : claim.resource.name;
        const volumeType = sc && sc.inputs.provisioner === EBS_CSI && isObj(sc.inputs.parameters) ? (str(sc.inputs.parameters.type) ?? "gp3") : undefined;
        if (!volumeType) {
            ctx.pricer.warn(
                `volume claim ${where}: storage class ${claim.storageClass ?? "(cluster default)"} is not an ${EBS_CSI} class in this stack: not priced`,
            );
            continue;
        }
        line(ctx, {
            id: `ebs:${where}`,
            service: "EBS",
            resource: where,
            description: `volume claim: ${claim.replicas > 1 ? `${claim.replicas} x ` : ""}${claim.gib} GiB ${volumeType} (${className(sc!)})`,
            quantity: claim.replicas * claim.gib,
            unit: "GB-month",
            priceKey: `ebs:${volumeType}`,
        });
    }
}

/** The LLM the service calls, from a ConfigMap holding a YAML document with `llm.provider/model`. */
function priceLlm(ctx: Context): void {
    const models = new Map<string, string[]>();
    for (const r of ctx.resources.filter((x) => x.type === "kubernetes:core/v1:ConfigMap")) {
        if (!isObj(r.inputs.data)) continue;
        for (const value of Object.values(r.inputs.data)) {
            if (typeof value !== "string") continue;
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
