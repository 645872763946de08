import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { memoryBytes, restrictedContainerSecurityContext, resources, type Resources, WORKLOAD_LABELS } from "../../lib/k8s";
import { k8sLabels } from "../../lib/naming";
import {
    connectionSecret,
    type ConnectionInfo,
    DATA_SERVICE_DEFAULTS,
    type DataServiceArgs,
    exporterContainer,
    generatedPassword,
    inClusterDataService,
    redisUrl,
} from "./data-service";
import { clusterOnlySecurityGroup } from "../aws/security-group";
import { ENGINES, IMAGES } from "../versions";

export interface RedisArgs extends DataServiceArgs {
    /** `in-cluster` StatefulSet or Amazon ElastiCache. */
    mode: "in-cluster" | "elasticache";
    /** in-cluster: AOF volume in GiB. Default 5. */
    storageGiB?: number;
    /** in-cluster: resources of the redis container. Default 100m/256Mi to 500m/512Mi. */
    resources?: Resources;
    /** elasticache: node type and number of cache clusters (primary + replicas). */
    nodeType?: string;
    nodeCount?: number;
    /** elasticache: Multi-AZ with automatic failover (needs nodeCount >= 2). Default false. */
    multiAz?: boolean;
}

const DEFAULTS = {
    ...DATA_SERVICE_DEFAULTS,
    storageGiB: 5,
    resources: { cpuRequest: "100m", memoryRequest: "256Mi", cpuLimit: "500m", memoryLimit: "512Mi" },
    nodeCount: 1,
    multiAz: false,
};

export const REDIS_PORT = 6379;
export const REDIS_EXPORTER_PORT = 9121;
/** uid/gid of the redis user in the official Debian-based image. */
export const REDIS_UID = 999;

/** redis.conf of the in-cluster instance: AUTH, AOF persistence on the volume, no dangerous commands. */
export function redisConf(password: string, maxMemoryBytes: number): string {
    return [
        `requirepass ${password}`,
        "appendonly yes",
        "appendfsync everysec",
        "dir /data",
        'save ""',
        `maxmemory ${maxMemoryBytes}`,
        "maxmemory-policy allkeys-lru",
        "protected-mode no",
        'rename-command FLUSHALL ""',
        'rename-command FLUSHDB ""',
        'rename-command CONFIG ""',
        'rename-command DEBUG ""',
        "",
    ].join("\n");
}

/**
 * Redis for the platform's caches: a StatefulSet in the cluster (dev, local) or an ElastiCache
 * replication group (prod). Either way the service gets the Secret `<name>-connection` with key
 * REDIS_URL.
 */
export class Redis extends pulumi.ComponentResource implements ConnectionInfo {
    public readonly url: pulumi.Output<string>;
    public readonly secretName: pulumi.Output<string>;
    public readonly secretKey = "REDIS_URL";
    public readonly host: pulumi.Output<string>;
    public readonly port = REDIS_PORT;

    constructor(name: string, args: RedisArgs, opts?: pulumi.ComponentResourceOptions) {
        const a = { ...DEFAULTS, ...args };
        if (a.mode === "elasticache" && (!a.nodeType || !a.vpcId || !a.subnetIds?.length || !a.clientSecurityGroupId)) {
            throw new Error(`Redis ${name}: mode "elasticache" needs nodeType, vpcId, subnetIds and clientSecurityGroupId`);
        }
        if (a.mode === "elasticache" && a.multiAz && a.nodeCount < 2) throw new Error(`Redis ${name}: multiAz needs nodeCount >= 2, got ${a.nodeCount}`);
        if (a.mode === "in-cluster" && !a.storageClassName) throw new Error(`Redis ${name}: mode "in-cluster" needs storageClassName`);
        if (Number.isNaN(memoryBytes(a.resources.memoryLimit)))
            throw new Error(`Redis ${name}: resources.memoryLimit "${a.resources.memoryLimit}" is not a memory quantity such as 512Mi`);
        super("cli-platform:data:Redis", name, {}, opts);
        const labels = { ...k8sLabels("redis", "cache", name), ...WORKLOAD_LABELS.redis };
        const password = generatedPassword(`${name}-password`, this, a.protect);

        if (a.mode === "in-cluster") {
            // 80% of the container's memory limit for data; the rest for the process and AOF rewrite buffers.
            const maxMemory = Math.floor(memoryBytes(a.resources.memoryLimit) * 0.8);
            const config = new k8s.core.v1.Secret(
                `${name}-config`,
                {
                    metadata: { name: `${name}-config`, namespace: a.namespace, labels },
                    type: "Opaque",
                    stringData: { "redis.conf": password.result.apply((pw) => redisConf(pw, maxMemory)), REDIS_PASSWORD: password.result },
                },
                { parent: this, provider: a.provider },
            );
            const passwordEnv = { name: "REDIS_PASSWORD", valueFrom: { secretKeyRef: { name: config.metadata.name, key: "REDIS_PASSWORD" } } };
            const ping = { exec: { command: ["sh", "-c", 'REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli -h 127.0.0.1 ping | grep -q PONG'] } };
            this.host = inClusterDataService(name, {
                namespace: a.namespace,
                labels,
                selector: WORKLOAD_LABELS.redis,
                provider: a.provider,
                parent: this,
                protect: a.protect,
                storageClassName: a.storageClassName!,
                storageGiB: a.storageGiB,
                uid: REDIS_UID,
                port: { name: "redis", number: REDIS_PORT },
                exporterPort: REDIS_EXPORTER_PORT,
                clientPodLabels: a.clientPodLabels,
                monitoringNamespace: a.monitoringNamespace,
                containers: [
                    {
                        name: "redis",
                        image: IMAGES.redis,
                        command: ["redis-server", "/etc/redis/redis.conf"],
                        ports: [{ name: "redis", containerPort: REDIS_PORT }],
                        env: [passwordEnv],
                        securityContext: restrictedContainerSecurityContext(),
                        resources: resources(a.resources),
                        readinessProbe: { ...ping, periodSeconds: 5, timeoutSeconds: 3 },
                        livenessProbe: { ...ping, initialDelaySeconds: 15, periodSeconds: 10, timeoutSeconds: 5 },
                        volumeMounts: [
                            { name: "data", mountPath: "/data" },
                            { name: "config", mountPath: "/etc/redis", readOnly: true },
                            { name: "tmp", mountPath: "/tmp" },
                        ],
                    },
                    exporterContainer(
                        IMAGES.redisExporter,
                        REDIS_EXPORTER_PORT,
                        [{ name: "REDIS_ADDR", value: `redis://127.0.0.1:${REDIS_PORT}` }, passwordEnv],
                        "/health",
                    ),
                ],
                extraVolumes: [{ name: "config", secret: { secretName: config.metadata.name, items: [{ key: "redis.conf", path: "redis.conf" }] } }],
            });
            this.url = pulumi.secret(
                pulumi.all([password.result, this.host]).apply(([pw, host]) => redisUrl({ password: pw, host, port: REDIS_PORT, tls: false })),
            );
        } else {
            const tags = a.tags ?? {};
            const key = new aws.kms.Key(
                `${name}-kms`,
                { description: `At-rest encryption of ${name}`, enableKeyRotation: true, deletionWindowInDays: 30, tags },
                { parent: this },
            );
            const subnets = new aws.elasticache.SubnetGroup(
                `${name}-subnets`,
                { subnetIds: a.subnetIds!, description: `${name} private subnets`, tags },
                { parent: this },
            );
            const sg = clusterOnlySecurityGroup(`${name}-sg`, {
                what: `Redis ${name}`,
                vpcId: a.vpcId!,
                port: REDIS_PORT,
                clientSecurityGroupId: a.clientSecurityGroupId!,
                tags,
                parent: this,
            });
            const group = new aws.elasticache.ReplicationGroup(
                `${name}-rg`,
                {
                    description: `${name}: cli-platform generation cache`,
                    engine: ENGINES.elasticacheRedis.engine,
                    engineVersion: ENGINES.elasticacheRedis.version,
                    nodeType: a.nodeType!,
                    numCacheClusters: a.nodeCount,
                    automaticFailoverEnabled: a.nodeCount > 1,
                    multiAzEnabled: a.multiAz,
                    port: REDIS_PORT,
                    subnetGroupName: subnets.name,
                    securityGroupIds: [sg.id],
                    atRestEncryptionEnabled: true,
                    kmsKeyId: key.arn,
                    transitEncryptionEnabled: true,
                    authToken: password.result,
                    // A new token is rotated in place (old and new both accepted during the change).
                    authTokenUpdateStrategy: "ROTATE",
                    snapshotRetentionLimit: a.protect ? 7 : 1,
                    finalSnapshotIdentifier: `${name}-final-snapshot`,
                    autoMinorVersionUpgrade: true,
                    applyImmediately: !a.protect,
                    maintenanceWindow: "sun:04:30-sun:05:30",
                    snapshotWindow: "02:00-03:00",
                    tags,
                },
                { parent: this, protect: a.protect, retainOnDelete: a.protect },
            );
            this.host = group.primaryEndpointAddress;
            this.url = pulumi.secret(
                pulumi
                    .all([password.result, group.primaryEndpointAddress])
                    .apply(([pw, host]) => redisUrl({ password: pw, host, port: REDIS_PORT, tls: true })),
            );
        }

        const secret = connectionSecret(`${name}-connection`, {
            namespace: a.namespace,
            key: this.secretKey,
            url: this.url,
            labels,
            provider: a.provider,
            parent: this,
        });
        this.secretName = secret.metadata.name;
        this.registerOutputs({ url: this.url, secretName: this.secretName, host: this.host });
    }
}
