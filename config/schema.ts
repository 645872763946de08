/**
 * The stack config's schema: one strict zod object per section (unknown keys are errors: a typo
 * never silently falls back to a default), one shape per mode where a section has modes, and the
 * types they yield. Every default is in `DEFAULTS` (defaults.ts), per environment.
 */
import type * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { parseCidr } from "../lib/cidr";
import { SUPPORTED_EKS_VERSIONS } from "../components/versions";
import { CLIENT_NAME_PATTERN, CLIENT_NAME_RULE } from "../service/src/clients";

export const PROJECT = "cli-platform";

export const ENVIRONMENTS = ["dev", "staging", "prod", "local"] as const;
export type Environment = (typeof ENVIRONMENTS)[number];

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const HOSTNAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;
const QUANTITY_CPU = /^([0-9]+m|[0-9]+(\.[0-9]+)?)$/;
const QUANTITY_MEM = /^[0-9]+(Ki|Mi|Gi|Ti)$/;
const DURATION = /^[0-9]+(s|m|h|d|w|y)$/;
const IAM_PRINCIPAL_ARN = /^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)\/[\w+=,.@/-]+$/;
export const AWS_REGION = /^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]$/;
/** Retention periods CloudWatch Logs accepts. */
const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653] as const;
const logRetention = z.int().refine((v) => (LOG_RETENTION_DAYS as readonly number[]).includes(v), {
    message: `must be one of the CloudWatch retention periods (${LOG_RETENTION_DAYS.join(", ")})`,
});
const cpu = z.string().regex(QUANTITY_CPU, { message: 'must be a CPU quantity such as "250m" or "1"' });
const memory = z.string().regex(QUANTITY_MEM, { message: 'must be a memory quantity such as "256Mi" or "1Gi"' });
const cidrString = z.string().refine((v) => parseCidr(v) !== undefined, { message: 'must be an IPv4 CIDR with host bits clear, such as "10.0.0.0/16"' });

export const EKS_LOG_TYPES = ["api", "audit", "authenticator", "controllerManager", "scheduler"] as const;
/** Control-plane log types every cluster must ship (security review baseline). */
export const REQUIRED_LOG_TYPES = ["api", "audit", "authenticator"] as const;

const networkSchema = z.strictObject({
    /** VPC CIDR. */
    cidr: cidrString,
    /** Availability zones to spread subnets over, 1..6. */
    azCount: z.int().min(1).max(6),
    /** One NAT gateway for the VPC (`single`) or one per AZ (`perAz`). */
    natGateways: z.enum(["single", "perAz"]),
    /** VPC flow logs to CloudWatch. */
    flowLogs: z.boolean(),
    /** Flow-log retention in days (a CloudWatch retention period). */
    flowLogRetentionDays: logRetention.optional(),
    /** Explicit public subnet CIDRs, one per AZ. @default planned from `cidr` (lib/cidr.ts) */
    publicSubnetCidrs: z.array(cidrString).optional(),
    /** Explicit private subnet CIDRs, one per AZ. @default planned from `cidr` (lib/cidr.ts) */
    privateSubnetCidrs: z.array(cidrString).optional(),
});

const taintSchema = z.strictObject({
    key: z.string().min(1),
    value: z.string().optional(),
    effect: z.enum(["NO_SCHEDULE", "NO_EXECUTE", "PREFER_NO_SCHEDULE"]),
});

const nodeGroupSchema = z.strictObject({
    /** Node group name, a DNS label; unique within the cluster. */
    name: z.string().regex(DNS_LABEL, { message: "must be a lowercase DNS label (a-z, 0-9, -; at most 63 characters)" }),
    /** EC2 instance types; several allow SPOT diversification. */
    instanceTypes: z.array(z.string().regex(/^[a-z][a-z0-9-]*\.[a-z0-9]+$/, { message: 'must be an EC2 instance type such as "m6i.large"' })).min(1),
    /** ON_DEMAND or SPOT. */
    capacityType: z.enum(["ON_DEMAND", "SPOT"]),
    minSize: z.int().min(0),
    desiredSize: z.int().min(0),
    maxSize: z.int().min(1).max(450),
    /** Root volume size (GiB, gp3, encrypted). */
    diskSizeGiB: z.int().min(20).max(16384),
    /** Kubernetes node labels. */
    labels: z.record(z.string(), z.string()),
    /** Kubernetes node taints. */
    taints: z.array(taintSchema),
});

const clusterSchema = z.strictObject({
    /** Kubernetes minor version. */
    kubernetesVersion: z.enum(SUPPORTED_EKS_VERSIONS),
    /** Public API endpoint on (restricted to `publicAccessCidrs`). Private access is always on. */
    endpointPublicAccess: z.boolean(),
    /** CIDRs allowed to reach the public endpoint. staging and prod may not contain 0.0.0.0/0. */
    publicAccessCidrs: z.array(cidrString),
    /** IAM role/user ARNs granted cluster admin through EKS access entries. */
    adminPrincipalArns: z.array(
        z.string().regex(IAM_PRINCIPAL_ARN, { message: "must be an IAM role or user ARN (arn:aws:iam::<12-digit account>:role/<name>)" }),
    ),
    /** Control-plane log types; must include api, audit and authenticator. */
    logTypes: z.array(z.enum(EKS_LOG_TYPES)),
    /** Control-plane log retention in days. */
    logRetentionDays: logRetention,
    /** Managed node groups. */
    nodeGroups: z.array(nodeGroupSchema).min(1),
    /** Install the cluster-autoscaler. */
    autoscaler: z.boolean(),
});

const kubernetesSchema = z.strictObject({
    /** kubeconfig context of the existing cluster (local stack only), e.g. "kind-cli-platform". */
    context: z.string().min(1),
    /** StorageClass for persistent volumes on the existing cluster. */
    storageClassName: z.string().regex(DNS_LABEL, { message: "must be a StorageClass name (a DNS label)" }),
});

const pgIdentifier = z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, { message: "must be a PostgreSQL identifier (a-z, 0-9, _)" });
const postgresCommon = {
    /** Database name. */
    database: pgIdentifier,
    /** Owner role name. */
    username: pgIdentifier,
    /** Storage in GiB (the PVC, or RDS allocated storage). */
    storageGiB: z.int().min(1).max(65536),
};
/** PostgreSQL: a StatefulSet in the cluster, or Amazon RDS. */
const postgresSchema = z.discriminatedUnion("mode", [
    z.strictObject({ mode: z.literal("in-cluster"), ...postgresCommon }),
    z.strictObject({
        mode: z.literal("rds"),
        ...postgresCommon,
        /** RDS instance class. */
        instanceClass: z.string().regex(/^db\.[a-z0-9]+\.[a-z0-9]+$/, { message: 'must be an RDS instance class such as "db.r6g.large"' }),
        /** RDS Multi-AZ standby. */
        multiAz: z.boolean(),
        /** RDS automated backup retention, 7..35 days. */
        backupRetentionDays: z.int().min(7).max(35),
    }),
]);

/** Redis: a StatefulSet in the cluster, or an Amazon ElastiCache replication group. */
const redisSchema = z.discriminatedUnion("mode", [
    z.strictObject({
        mode: z.literal("in-cluster"),
        /** AOF volume in GiB. */
        storageGiB: z.int().min(1).max(1024),
    }),
    z.strictObject({
        mode: z.literal("elasticache"),
        /** ElastiCache node type. */
        nodeType: z.string().regex(/^cache\.[a-z0-9]+\.[a-z0-9]+$/, { message: 'must be an ElastiCache node type such as "cache.r7g.large"' }),
        /** Cache clusters (1 primary + replicas), 1..6. */
        nodeCount: z.int().min(1).max(6),
        /** Multi-AZ with automatic failover (needs nodeCount >= 2). */
        multiAz: z.boolean(),
    }),
]);

const workloadShape = {
    /** The HPA's minimum, and the replica count the Deployment is created with. */
    minReplicas: z.int().min(1).max(100),
    /** The HPA's maximum. */
    maxReplicas: z.int().min(1).max(100),
    cpuRequest: cpu,
    memoryRequest: memory,
    cpuLimit: cpu,
    memoryLimit: memory,
};
const workloadSchema = z.strictObject(workloadShape);

const serviceSchema = z.strictObject({
    /** cli-api: resources and replicas (the deployment guide's 250m/256Mi to 500m/512Mi). */
    api: z.strictObject({
        ...workloadShape,
        /** The HPA's target of the Pods metric code_generation_requests_per_second, per pod. */
        targetGenerationRate: z.number().positive().max(1000),
    }),
    /** cli-runner: resources and replicas (the deployment guide's 100m/128Mi to 200m/256Mi). */
    runner: workloadSchema.extend({
        /**
         * RuntimeClass of the runner's pods, e.g. "gvisor" (it must exist in the cluster): another
         * kernel boundary around the engine that runs generated code. @default unset (the node's runtime)
         */
        runtimeClassName: z
            .string()
            .regex(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, { message: 'must be a RuntimeClass name (DNS subdomain) such as "gvisor"' })
            .optional(),
    }),
    llm: z.strictObject({
        provider: z.enum(["openai"]),
        /** Chat-completions model. */
        model: z.string().min(1),
        /** Sampling temperature 0..2. */
        temperature: z.number().min(0).max(2),
        /** LLM request timeout in seconds, 1..300. */
        timeoutSeconds: z.int().min(1).max(300),
        /** OpenAI-compatible base URL. */
        baseUrl: z.url({ protocol: /^https?$/, message: "must be an http(s) URL" }),
    }),
    validation: z.strictObject({
        enabled: z.boolean(),
        strictMode: z.boolean(),
    }),
    security: z.strictObject({
        sandboxEnabled: z.boolean(),
        /** Sandbox hard timeout in seconds, 1..600. */
        maxExecutionTimeSeconds: z.int().min(1).max(600),
    }),
    /** The API's named clients: one generated bearer token each (stack output apiTokens). @default ["admin"] */
    apiClients: z
        .array(z.string().regex(CLIENT_NAME_PATTERN, `must be a client name: ${CLIENT_NAME_RULE}`))
        .min(1)
        .refine((names) => new Set(names).size === names.length, "must not name a client twice"),
});

/** The traffic layer (Envoy Gateway and the Gateway, cert-manager, external-dns) exposing the api, or nothing (port-forward). */
const trafficSchema = z.discriminatedUnion("enabled", [
    z.strictObject({ enabled: z.literal(false) }),
    z.strictObject({
        enabled: z.literal(true),
        /** Public host name of the api (an HTTPS listener of the Gateway). */
        apiHost: z.string().regex(HOSTNAME, { message: 'must be a fully qualified host name such as "cli.example.com"' }),
        /** HTTPS listeners with Let's Encrypt (letsencrypt-prod) certificates and an HTTP-to-HTTPS redirect. Must be true on AWS. */
        tls: z.boolean(),
        /** ACME account e-mail for Let's Encrypt. Required when tls is on, allowed only then. */
        acmeEmail: z.email({ message: "must be an e-mail address" }).optional(),
        /** Replicas of the controllers (Envoy Gateway, cert-manager's three, the load balancer controller); PDBs when > 1. */
        controllerReplicas: z.int().min(1).max(10),
        /** Envoy proxy replicas (the data plane); a PodDisruptionBudget when more than one. */
        proxyReplicas: z.int().min(1).max(20),
        /** POST /evolve requests per minute per client IP at the Gateway (429 above it); 0 = no limit. */
        evolveRateLimitPerMinute: z.int().min(0).max(100000),
    }),
]);

/** Route 53: set = external-dns keeps the Gateway's host records in that zone; unset = records by hand. AWS only. */
const dnsSchema = z.strictObject({
    hostedZoneId: z
        .string()
        .regex(/^Z[A-Z0-9]{1,32}$/, { message: 'must be a Route 53 hosted zone id such as "Z0123456789ABCDEFGHIJ"' })
        .optional(),
});

/** kube-prometheus-stack, prometheus-adapter, rules and dashboards, or nothing. */
const monitoringSchema = z.discriminatedUnion("enabled", [
    z.strictObject({ enabled: z.literal(false) }),
    z.strictObject({
        enabled: z.literal(true),
        /** Prometheus retention, e.g. "15d". */
        retention: z.string().regex(DURATION, { message: 'must be a Prometheus duration such as "15d"' }),
        /** Prometheus volume in GiB. */
        storageGiB: z.int().min(1).max(16384),
        /** Prometheus replicas. */
        prometheusReplicas: z.int().min(1).max(5),
        /** Grafana host on its own HTTPS listener of the Gateway (needs traffic.enabled); unset = port-forward only. */
        grafanaHost: z.string().regex(HOSTNAME, { message: 'must be a fully qualified host name such as "grafana.example.com"' }).optional(),
        /** Alertmanager receiver kind; its URL is the secret `alertWebhookUrl`. */
        alertReceiver: z.enum(["none", "webhook", "slack"]),
    }),
]);

/** Where container logs go: CloudWatch Logs, Amazon OpenSearch, Fluent Bit's stdout, or nowhere. */
const loggingSchema = z.discriminatedUnion("sink", [
    z.strictObject({
        sink: z.literal("cloudwatch"),
        /** Log group retention in days (a CloudWatch retention period). */
        retentionDays: logRetention,
    }),
    z.strictObject({
        sink: z.literal("opensearch"),
        /** Days an index lives (the index lifecycle; a CloudWatch retention period, for symmetry). */
        retentionDays: logRetention,
        /** OpenSearch data node instance type. */
        opensearchInstanceType: z
            .string()
            .regex(/^[a-z0-9]+\.[a-z0-9]+\.search$/, { message: 'must be an OpenSearch instance type such as "r6g.large.search"' }),
        /** OpenSearch EBS volume per data node in GiB. */
        opensearchVolumeGiB: z.int().min(10).max(16384),
    }),
    z.strictObject({ sink: z.literal("stdout") }),
    z.strictObject({ sink: z.literal("none") }),
]);

/** The sections a stack file may set under `cli-platform:`, besides scalars and secrets. */
export const SECTIONS = {
    network: networkSchema,
    cluster: clusterSchema,
    kubernetes: kubernetesSchema,
    postgres: postgresSchema,
    redis: redisSchema,
    service: serviceSchema,
    traffic: trafficSchema,
    dns: dnsSchema,
    monitoring: monitoringSchema,
    logging: loggingSchema,
} as const;
export type SectionName = keyof typeof SECTIONS;

/** The sections with one shape per mode: the key that picks the shape, and the shapes. */
export const MODE_KEYS = { postgres: "mode", redis: "mode", traffic: "enabled", monitoring: "enabled", logging: "sink" } as const;
export type ModalSection = keyof typeof MODE_KEYS;

/** Keys that mean something only while another key of their section has one value: `[key, value]`. */
export const DEPENDENT_KEYS: Partial<Record<SectionName, Record<string, [string, unknown]>>> = {
    network: { flowLogRetentionDays: ["flowLogs", true] },
};

/** Keys a stack may no longer set, and what replaces them. */
export const REMOVED_KEYS: Record<string, string> = {
    "service.api.replicas": "it had no effect; set service.api.minReplicas (the HPA's floor and the initial replica count)",
    "service.runner.replicas": "it had no effect; set service.runner.minReplicas (the HPA's floor and the initial replica count)",
};

export type NetworkConfig = z.infer<typeof networkSchema> & { publicSubnetCidrs: string[]; privateSubnetCidrs: string[] };
export type NodeGroupConfig = z.infer<typeof nodeGroupSchema>;
export type ClusterConfig = z.infer<typeof clusterSchema>;
export type KubernetesConfig = z.infer<typeof kubernetesSchema>;
export type PostgresConfig = z.infer<typeof postgresSchema>;
export type RedisConfig = z.infer<typeof redisSchema>;
export type WorkloadConfig = z.infer<typeof workloadSchema>;
export type ServiceConfig = z.infer<typeof serviceSchema>;
export type TrafficConfig = z.infer<typeof trafficSchema>;
export type DnsConfig = z.infer<typeof dnsSchema>;
export type MonitoringConfig = z.infer<typeof monitoringSchema>;
export type LoggingConfig = z.infer<typeof loggingSchema>;

interface CommonPlatformConfig {
    stack: string;
    environment: Environment;
    postgres: PostgresConfig;
    redis: RedisConfig;
    service: ServiceConfig;
    traffic: TrafficConfig;
    monitoring: MonitoringConfig;
    logging: LoggingConfig;
    /** `protect` + retain-on-delete on stateful resources. */
    protectStatefulResources: boolean;
    /** Secret values, kept as secret Outputs end to end. */
    secrets: {
        /** `cli-platform:openaiApiKey`; without it the api answers /evolve with 503. */
        openaiApiKey?: pulumi.Output<string>;
        /** `cli-platform:alertWebhookUrl`: Alertmanager webhook or Slack URL. */
        alertWebhookUrl?: pulumi.Output<string>;
    };
}

/** dev, staging, prod: a VPC and an EKS cluster of our own. */
export interface AwsPlatformConfig extends CommonPlatformConfig {
    target: "aws";
    /** AWS region (`aws:region`). */
    awsRegion: string;
    network: NetworkConfig;
    cluster: ClusterConfig;
    /** Route 53 (external-dns); `{}` when unset. */
    dns: DnsConfig;
}

/** local: an existing cluster, no AWS. */
export interface LocalPlatformConfig extends CommonPlatformConfig {
    target: "local";
    kubernetes: KubernetesConfig;
}

/** The validated configuration of one stack. */
export type PlatformConfig = AwsPlatformConfig | LocalPlatformConfig;
