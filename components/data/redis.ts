import * as kms from "@pulumi/aws/kms";
import * as elasticache from "@pulumi/aws/elasticache";
import * as corev1 from "@pulumi/kubernetes/core/v1";
import * as pulumi from "@pulumi/pulumi";
import type * as random from "@pulumi/random";
import { memoryBytes, restrictedContainerSecurityContext, resources, type Resources, WORKLOAD_LABELS } from "../../lib/k8s";
import { k8sLabels } from "../../lib/naming";
import {
    connectionSecret,
    type ConnectionInfo,
    type DataServiceArgs,
    exporterContainer,
    generatedPassword,
    IN_CLUSTER_DEFAULTS,
    inClusterDataService,
    type InClusterPlacement,
    type ManagedPlacement,
    redisUrl,
} from "./data-service";
import { clusterOnlySecurityGroup } from "../aws/security-group";
import { ENGINES, IMAGES } from "../versions";

/** A StatefulSet in the cluster. */
export interface RedisInClusterArgs extends DataServiceArgs, InClusterPlacement {
    mode: "in-cluster";
    /** AOF volume in GiB. */
    storageGiB: number;
    /** Resources of the redis container. @default 100m/256Mi to 500m/512Mi */
    resources?: Resources;
}

/** An Amazon ElastiCache replication group. */
export interface RedisElastiCacheArgs extends DataServiceArgs {
    mode: "elasticache";
    /** Node type, e.g. cache.r7g.large. */
    nodeType: string;
    /** Cache clusters (primary + replicas). */
    nodeCount: number;
    /** Multi-AZ with automatic failover (needs nodeCount >= 2). */
    multiAz: boolean;
    network: ManagedPlacement;
}

export type RedisArgs = RedisInClusterArgs | RedisElastiCacheArgs;

const REDIS_RESOURCES: Resources = { cpuRequest: "100m", memoryRequest: "256Mi", cpuLimit: "500m", memoryLimit: "512Mi" };

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
        if (args.mode === "elasticache" && args.multiAz && args.nodeCount < 2)
            throw new Error(`Redis ${name}: multiAz needs nodeCount >= 2, got ${args.nodeCount}`);
        if (args.mode === "in-cluster" && args.resources !== undefined && Number.isNaN(memoryBytes(args.resources.memoryLimit)))
            throw new Error(`Redis ${name}: resources.memoryLimit "${args.resources.memoryLimit}" is not a memory quantity such as 512Mi`);
        super("cli-platform:data:Redis", name, {}, opts);
        const protect = args.protect ?? false;
        const labels = { ...k8sLabels("redis", "cache", name), ...WORKLOAD_LABELS.redis };
        const password = generatedPassword(`${name}-password`, this, protect);
        const built = args.mode === "in-cluster" ? this.inCluster(name, args, protect, labels, password) : this.elastiCache(name, args, protect, password);
        this.host = built.host;
        this.url = pulumi.secret(
            pulumi.all([password.result, built.host]).apply(([pw, host]) => redisUrl({ password: pw, host, port: REDIS_PORT, tls: built.tls })),
        );
        const secret = connectionSecret(`${name}-connection`, { namespace: args.namespace, key: this.secretKey, url: this.url, labels, parent: this });
        this.secretName = secret.metadata.name;
        this.registerOutputs({ url: this.url, secretName: this.secretName, host: this.host });
    }

    /** A one-replica StatefulSet: AUTH, AOF on the volume, the exporter sidecar; plain TCP inside the namespace. */
    private inCluster(
        name: string,
        a: RedisInClusterArgs,
        protect: boolean,
        labels: Record<string, string>,
        password: random.RandomPassword,
    ): { host: pulumi.Output<string>; tls: boolean } {
        const placement = { ...IN_CLUSTER_DEFAULTS, ...a };
        const redisResources = a.resources ?? REDIS_RESOURCES;
        // 80% of the container's memory limit for data; the rest for the process and AOF rewrite buffers.
        const maxMemory = Math.floor(memoryBytes(redisResources.memoryLimit) * 0.8);
        const config = new corev1.Secret(
            `${name}-config`,
            {
                metadata: { name: `${name}-config`, namespace: a.namespace, labels },
                type: "Opaque",
                stringData: { "redis.conf": password.result.apply((pw) => redisConf(pw, maxMemory)), REDIS_PASSWORD: password.result },
            },
            { parent: this },
        );
        const passwordEnv = { name: "REDIS_PASSWORD", valueFrom: { secretKeyRef: { name: config.metadata.name, key: "REDIS_PASSWORD" } } };
        const ping = { exec: { command: ["sh", "-c", 'REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli -h 127.0.0.1 ping | grep -q PONG'] } };
        const host = inClusterDataService(name, {
            namespace: a.namespace,
            labels,
            selector: WORKLOAD_LABELS.redis,
            parent: this,
            protect,
            storageClassName: a.storageClassName,
            storageGiB: a.storageGiB,
            uid: REDIS_UID,
            port: { name: "redis", number: REDIS_PORT },
            exporterPort: REDIS_EXPORTER_PORT,
            clientPodLabels: placement.clientPodLabels,
            monitoringNamespace: placement.monitoringNamespace,
            containers: [
                {
                    name: "redis",
                    image: IMAGES.redis,
                    command: ["redis-server", "/etc/redis/redis.conf"],
                    ports: [{ name: "redis", containerPort: REDIS_PORT }],
                    env: [passwordEnv],
                    securityContext: restrictedContainerSecurityContext(),
                    resources: resources(redisResources),
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
        return { host, tls: false };
    }

    /** ElastiCache: encrypted at rest and in transit, AUTH token, failover and Multi-AZ as configured. */
    private elastiCache(
        name: string,
        a: RedisElastiCacheArgs,
        protect: boolean,
        password: random.RandomPassword,
    ): { host: pulumi.Output<string>; tls: boolean } {
        const tags = a.network.tags ?? {};
        const key = new kms.Key(
            `${name}-kms`,
            { description: `At-rest encryption of ${name}`, enableKeyRotation: true, deletionWindowInDays: 30, tags },
            { parent: this },
        );
        const subnets = new elasticache.SubnetGroup(
            `${name}-subnets`,
            { subnetIds: a.network.subnetIds, description: `${name} private subnets`, tags },
            { parent: this },
        );
        const sg = clusterOnlySecurityGroup(`${name}-sg`, {
            what: `Redis ${name}`,
            vpcId: a.network.vpcId,
            port: REDIS_PORT,
            clientSecurityGroupId: a.network.clientSecurityGroupId,
            tags,
            parent: this,
        });
        const group = new elasticache.ReplicationGroup(
            `${name}-rg`,
            {
                description: `${name}: cli-platform generation cache`,
                engine: ENGINES.elasticacheRedis.engine,
                engineVersion: ENGINES.elasticacheRedis.version,
                nodeType: a.nodeType,
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
                snapshotRetentionLimit: protect ? 7 : 1,
                finalSnapshotIdentifier: `${name}-final-snapshot`,
                autoMinorVersionUpgrade: true,
                applyImmediately: !protect,
                maintenanceWindow: "sun:04:30-sun:05:30",
                snapshotWindow: "02:00-03:00",
                tags,
            },
            { parent: this, protect: protect, retainOnDelete: protect },
        );
        return { host: group.primaryEndpointAddress, tls: true };
    }
}
