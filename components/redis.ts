import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { namespacePeer, restrictedContainerSecurityContext, restrictedPodSecurityContext, resources, type Resources, WORKLOAD_LABELS } from "../lib/k8s";
import { k8sLabels } from "../lib/naming";
import {
    clusterOnlySecurityGroup,
    connectionSecret,
    type ConnectionInfo,
    dataService,
    type DataServiceArgs,
    dataVolume,
    exporterContainer,
    generatedPassword,
    redisUrl,
} from "./connection";
import { ENGINES, IMAGES } from "./versions";

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
    protect: false,
    clientPodLabels: WORKLOAD_LABELS.api as Record<string, string>,
    monitoringNamespace: "monitoring",
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

export function redisNetworkPolicySpec(clientPodLabels: Record<string, string>, monitoringNamespace: string): k8s.types.input.networking.v1.NetworkPolicySpec {
    return {
        podSelector: { matchLabels: { ...WORKLOAD_LABELS.redis } },
        policyTypes: ["Ingress"],
        ingress: [
            { from: [{ podSelector: { matchLabels: clientPodLabels } }], ports: [{ protocol: "TCP", port: REDIS_PORT }] },
            { from: [namespacePeer(monitoringNamespace)], ports: [{ protocol: "TCP", port: REDIS_EXPORTER_PORT }] },
        ],
    };
}

function memoryBytes(q: string): number {
    const m = /^(\d+)(Mi|Gi)$/.exec(q);
    if (!m) throw new Error(`memory quantity "${q}": expected <n>Mi or <n>Gi`);
    return Number(m[1]) * (m[2] === "Gi" ? 2 ** 30 : 2 ** 20);
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
        super("cli-platform:data:Redis", name, {}, opts);
        const labels = { ...k8sLabels("redis", "cache", name), ...WORKLOAD_LABELS.redis };
        const password = generatedPassword(`${name}-password`, this, a.protect);

        if (a.mode === "in-cluster") {
            const k8sOpts = { parent: this, provider: a.provider };
            // 80% of the container's memory limit for data; the rest for the process and AOF rewrite buffers.
            const maxMemory = Math.floor(memoryBytes(a.resources.memoryLimit) * 0.8);
            const config = new k8s.core.v1.Secret(
                `${name}-config`,
                {
                    metadata: { name: `${name}-config`, namespace: a.namespace, labels },
                    type: "Opaque",
                    stringData: { "redis.conf": password.result.apply((pw) => redisConf(pw, maxMemory)), REDIS_PASSWORD: password.result },
                },
                k8sOpts,
            );
            const pvc = dataVolume(`${name}-data`, {
                namespace: a.namespace,
                labels,
                storageClassName: a.storageClassName!,
                storageGiB: a.storageGiB,
                protect: a.protect,
                provider: a.provider,
                parent: this,
            });
            const service = dataService(name, {
                namespace: a.namespace,
                labels,
                selector: WORKLOAD_LABELS.redis,
                port: { name: "redis", number: REDIS_PORT },
                exporterPort: REDIS_EXPORTER_PORT,
                provider: a.provider,
                parent: this,
            });
            const passwordEnv = { name: "REDIS_PASSWORD", valueFrom: { secretKeyRef: { name: config.metadata.name, key: "REDIS_PASSWORD" } } };
            const ping = ["sh", "-c", 'REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli -h 127.0.0.1 ping | grep -q PONG'];
            new k8s.apps.v1.StatefulSet(
                `${name}-sts`,
                {
                    metadata: { name, namespace: a.namespace, labels },
                    spec: {
                        serviceName: service.metadata.name,
                        replicas: 1,
                        selector: { matchLabels: WORKLOAD_LABELS.redis },
                        template: {
                            metadata: { labels },
                            spec: {
                                automountServiceAccountToken: false,
                                securityContext: restrictedPodSecurityContext(REDIS_UID),
                                containers: [
                                    {
                                        name: "redis",
                                        image: IMAGES.redis,
                                        command: ["redis-server", "/etc/redis/redis.conf"],
                                        ports: [{ name: "redis", containerPort: REDIS_PORT }],
                                        env: [passwordEnv],
                                        securityContext: restrictedContainerSecurityContext(),
                                        resources: resources(a.resources),
                                        readinessProbe: { exec: { command: ping }, periodSeconds: 5, timeoutSeconds: 3 },
                                        livenessProbe: { exec: { command: ping }, initialDelaySeconds: 15, periodSeconds: 10, timeoutSeconds: 5 },
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
                                volumes: [
                                    { name: "data", persistentVolumeClaim: { claimName: pvc.metadata.name } },
                                    { name: "config", secret: { secretName: config.metadata.name, items: [{ key: "redis.conf", path: "redis.conf" }] } },
                                    { name: "tmp", emptyDir: {} },
                                ],
                            },
                        },
                    },
                },
                { ...k8sOpts, protect: a.protect, retainOnDelete: a.protect },
            );
            new k8s.networking.v1.NetworkPolicy(
                `${name}-netpol`,
                { metadata: { name, namespace: a.namespace, labels }, spec: redisNetworkPolicySpec(a.clientPodLabels, a.monitoringNamespace) },
                k8sOpts,
            );
            this.host = pulumi.interpolate`${service.metadata.name}.${service.metadata.namespace}.svc.cluster.local`;
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
