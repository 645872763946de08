/** Managed data services: RDS, ElastiCache and OpenSearch. */
import { byType, type Context, isObj, line, num, str, usage } from "./core";

export function priceRds(ctx: Context): void {
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

export function priceElastiCache(ctx: Context): void {
    /** One line per replication group or cluster: its node count of one node type, by the hour. */
    const nodes = (name: string, nodeType: string, count: number) =>
        line(ctx, {
            id: `elasticache:${name}`,
            service: "ElastiCache",
            resource: name,
            description: `${count} x ${nodeType}`,
            quantity: count,
            unit: "hour",
            priceKey: `elasticache:${nodeType}`,
        });
    for (const r of byType(ctx, "aws:elasticache/replicationGroup:ReplicationGroup")) {
        const shards = num(r.inputs.numNodeGroups);
        const count = shards !== undefined ? shards * ((num(r.inputs.replicasPerNodeGroup) ?? 0) + 1) : (num(r.inputs.numCacheClusters) ?? 1);
        nodes(r.name, str(r.inputs.nodeType) ?? "unknown", count);
    }
    for (const r of byType(ctx, "aws:elasticache/cluster:Cluster")) nodes(r.name, str(r.inputs.nodeType) ?? "unknown", num(r.inputs.numCacheNodes) ?? 1);
}

export function priceOpenSearch(ctx: Context): void {
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
