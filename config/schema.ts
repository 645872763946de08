/**
 * The stack config's schema: one strict zod object per section (unknown keys are errors: a typo
 * never silently falls back to a default), and the types they yield.
 */
import type * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { parseCidr } from "../lib/cidr";
import { SUPPORTED_EKS_VERSIONS } from "../components/versions";

export const PROJECT = "cli-platform";

export const ENVIRONMENTS = ["dev", "prod", "local"] as const;
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
    /** VPC CIDR. Default dev 10.10.0.0/16, prod 10.20.0.0/16. */
    cidr: cidrString,
    /** Availability zones to spread subnets over, 1..6. Default dev 2, prod 3. */
    azCount: z.int().min(1).max(6),
    /** One NAT gateway for the VPC (`single`) or one per AZ (`perAz`). Default dev single, prod perAz. */
    natGateways: z.enum(["single", "perAz"]),
    /** VPC flow logs to CloudWatch. Default dev false, prod true. */
    flowLogs: z.boolean(),
    /** Flow-log retention in days (a CloudWatch retention period). Default dev 7, prod 90. */
    flowLogRetentionDays: logRetention,
    /** Explicit public subnet CIDRs, one per AZ. Default: planned from `cidr` (see lib/cidr.ts). */
    publicSubnetCidrs: z.array(cidrString).optional(),
    /** Explicit private subnet CIDRs, one per AZ. Default: planned from `cidr`. */
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
    /** ON_DEMAND or SPOT. Default ON_DEMAND. */
    capacityType: z.enum(["ON_DEMAND", "SPOT"]).default("ON_DEMAND"),
    minSize: z.int().min(0),
    desiredSize: z.int().min(0),
    maxSize: z.int().min(1).max(450),
    /** Root volume size (GiB, gp3, encrypted). Default 50. */
    diskSizeGiB: z.int().min(20).max(16384).default(50),
    /** Kubernetes node labels. Default none. */
    labels: z.record(z.string(), z.string()).default({}),
    /** Kubernetes node taints. Default none. */
    taints: z.array(taintSchema).default([]),
});

const clusterSchema = z.strictObject({
    /** Kubernetes minor version. Default 1.35. */
    kubernetesVersion: z.enum(SUPPORTED_EKS_VERSIONS),
    /** Public API endpoint on (restricted to `publicAccessCidrs`). Private access is always on. Default true. */
    endpointPublicAccess: z.boolean(),
    /** CIDRs allowed to reach the public endpoint. prod may not contain 0.0.0.0/0. */
    publicAccessCidrs: z.array(cidrString),
    /** IAM role/user ARNs granted cluster admin through EKS access entries. Default none. */
    adminPrincipalArns: z.array(
        z.string().regex(IAM_PRINCIPAL_ARN, { message: "must be an IAM role or user ARN (arn:aws:iam::<12-digit account>:role/<name>)" }),
    ),
    /** Control-plane log types; must include api, audit and authenticator. Default dev those three, prod all five. */
    logTypes: z.array(z.enum(EKS_LOG_TYPES)),
    /** Control-plane log retention in days. Default dev 7, prod 90. */
    logRetentionDays: logRetention,
    /** Managed node groups. */
    nodeGroups: z.array(nodeGroupSchema).min(1),
    /** Install the cluster-autoscaler. Default true. */
    autoscaler: z.boolean(),
});

const kubernetesSchema = z.strictObject({
    /** kubeconfig context of the existing cluster (local stack only), e.g. "kind-cli-platform". */
    context: z.string().min(1),
    /** StorageClass for persistent volumes on the existing cluster. Default "standard". */
    storageClassName: z.string().regex(DNS_LABEL, { message: "must be a StorageClass name (a DNS label)" }),
});

const postgresSchema = z.strictObject({
    /** in-cluster StatefulSet or Amazon RDS. Default dev/local in-cluster, prod rds. */
    mode: z.enum(["in-cluster", "rds"]),
    /** Database name. Default cli_platform. */
    database: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, { message: "must be a PostgreSQL identifier (a-z, 0-9, _)" }),
    /** Owner role name. Default cli_user. */
    username: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, { message: "must be a PostgreSQL identifier (a-z, 0-9, _)" }),
    /** Storage in GiB (PVC or RDS allocated storage). Default dev 10, prod 50. */
    storageGiB: z.int().min(1).max(65536),
    /** RDS instance class (rds mode). Default db.t4g.medium (prod: db.r6g.large). */
    instanceClass: z.string().regex(/^db\.[a-z0-9]+\.[a-z0-9]+$/, { message: 'must be an RDS instance class such as "db.r6g.large"' }),
    /** RDS Multi-AZ (rds mode). Default prod true. */
    multiAz: z.boolean(),
    /** RDS automated backup retention, 7..35 days. Default dev 7, prod 14. */
    backupRetentionDays: z.int().min(7).max(35),
});

const redisSchema = z.strictObject({
    /** in-cluster StatefulSet or Amazon ElastiCache. Default dev/local in-cluster, prod elasticache. */
    mode: z.enum(["in-cluster", "elasticache"]),
    /** ElastiCache node type (elasticache mode). Default cache.t4g.small (prod cache.r7g.large). */
    nodeType: z.string().regex(/^cache\.[a-z0-9]+\.[a-z0-9]+$/, { message: 'must be an ElastiCache node type such as "cache.r7g.large"' }),
    /** ElastiCache cache clusters (1 primary + replicas), 1..6. Default dev 1, prod 2. */
    nodeCount: z.int().min(1).max(6),
    /** ElastiCache Multi-AZ with automatic failover (needs nodeCount >= 2). Default dev false, prod true. */
    multiAz: z.boolean(),
    /** AOF volume in GiB (in-cluster mode). Default 5. */
    storageGiB: z.int().min(1).max(1024),
});

const workloadSchema = z.strictObject({
    /** Replicas when not autoscaled, and the HPA's floor when `minReplicas` is unset. */
    replicas: z.int().min(1).max(100),
    /** HPA minimum. Default = replicas. */
    minReplicas: z.int().min(1).max(100),
    /** HPA maximum. */
    maxReplicas: z.int().min(1).max(100),
    cpuRequest: cpu,
    memoryRequest: memory,
    cpuLimit: cpu,
    memoryLimit: memory,
});

const serviceSchema = z.strictObject({
    /** cli-api (port 8000). Defaults from the deployment guide: 250m/256Mi to 500m/512Mi; dev 1..3, prod 3..20. */
    api: workloadSchema,
    /** cli-runner (port 8001). Defaults from the deployment guide: 100m/128Mi to 200m/256Mi; dev 1..2, prod 2..10. */
    runner: workloadSchema,
    llm: z.strictObject({
        provider: z.enum(["openai"]),
        /** Chat-completions model. Default gpt-4. */
        model: z.string().min(1),
        /** Sampling temperature 0..2. Default 0.7. */
        temperature: z.number().min(0).max(2),
        /** LLM request timeout in seconds, 1..300. Default 30. */
        timeoutSeconds: z.int().min(1).max(300),
        /** OpenAI-compatible base URL. Default https://api.openai.com/v1. */
        baseUrl: z.url({ protocol: /^https?$/, message: "must be an http(s) URL" }),
    }),
    validation: z.strictObject({
        enabled: z.boolean(),
        strictMode: z.boolean(),
    }),
    security: z.strictObject({
        sandboxEnabled: z.boolean(),
        /** Sandbox hard timeout in seconds, 1..600. Default 60. */
        maxExecutionTimeSeconds: z.int().min(1).max(600),
    }),
});

const ingressSchema = z.strictObject({
    /** Install ingress-nginx + cert-manager and expose the api. Default true. */
    enabled: z.boolean(),
    /** Public host name of the api. */
    apiHost: z.string().regex(HOSTNAME, { message: 'must be a fully qualified host name such as "cli.example.com"' }),
    /** Let's Encrypt (letsencrypt-prod ClusterIssuer) TLS. Default dev false, prod true. */
    tls: z.boolean(),
    /** ACME account e-mail for Let's Encrypt. Required when tls is on. */
    acmeEmail: z.email({ message: "must be an e-mail address" }).optional(),
});

const monitoringSchema = z.strictObject({
    /** Install kube-prometheus-stack, prometheus-adapter, rules and dashboards. Default true. */
    enabled: z.boolean(),
    /** Prometheus retention, e.g. "15d". Default dev 3d, prod 30d. */
    retention: z.string().regex(DURATION, { message: 'must be a Prometheus duration such as "15d"' }),
    /** Prometheus volume in GiB. Default dev 10, prod 100. */
    storageGiB: z.int().min(1).max(16384),
    /** Prometheus replicas. Default dev 1, prod 2. */
    prometheusReplicas: z.int().min(1).max(5),
    /** Grafana host through the ingress; unset = port-forward only. */
    grafanaHost: z.string().regex(HOSTNAME, { message: 'must be a fully qualified host name such as "grafana.example.com"' }).optional(),
    /** Alertmanager receiver kind; its URL is the secret `alertWebhookUrl`. Default none. */
    alertReceiver: z.enum(["none", "webhook", "slack"]),
});

const loggingSchema = z.strictObject({
    /** Where container logs go. Default dev cloudwatch, prod opensearch, local stdout. */
    sink: z.enum(["opensearch", "cloudwatch", "stdout", "none"]),
    /** Log retention in days (CloudWatch retention period, or the OpenSearch index lifecycle). Default dev 14, prod 30. */
    retentionDays: logRetention,
    /** OpenSearch data node instance type (opensearch sink). Default r6g.large.search. */
    opensearchInstanceType: z.string().regex(/^[a-z0-9]+\.[a-z0-9]+\.search$/, { message: 'must be an OpenSearch instance type such as "r6g.large.search"' }),
    /** OpenSearch EBS volume per data node in GiB. Default 100. */
    opensearchVolumeGiB: z.int().min(10).max(16384),
});

/** The sections a stack file may set under `cli-platform:`, besides scalars and secrets. */
export const SECTIONS = {
    network: networkSchema,
    cluster: clusterSchema,
    kubernetes: kubernetesSchema,
    postgres: postgresSchema,
    redis: redisSchema,
    service: serviceSchema,
    ingress: ingressSchema,
    monitoring: monitoringSchema,
    logging: loggingSchema,
} as const;
export type SectionName = keyof typeof SECTIONS;

export type NetworkConfig = z.infer<typeof networkSchema> & { publicSubnetCidrs: string[]; privateSubnetCidrs: string[] };
export type NodeGroupConfig = z.infer<typeof nodeGroupSchema>;
export type ClusterConfig = z.infer<typeof clusterSchema>;
export type KubernetesConfig = z.infer<typeof kubernetesSchema>;
export type PostgresConfig = z.infer<typeof postgresSchema>;
export type RedisConfig = z.infer<typeof redisSchema>;
export type WorkloadConfig = z.infer<typeof workloadSchema>;
export type ServiceConfig = z.infer<typeof serviceSchema>;
export type IngressConfig = z.infer<typeof ingressSchema>;
export type MonitoringConfig = z.infer<typeof monitoringSchema>;
export type LoggingConfig = z.infer<typeof loggingSchema>;

/** The validated configuration of one stack. AWS-only sections are absent on `local`. */
export interface PlatformConfig {
    stack: string;
    environment: Environment;
    /** AWS region (`aws:region`); undefined on local. */
    awsRegion?: string;
    /** true on dev and prod (EKS); false on local (existing cluster, no AWS). */
    onAws: boolean;
    network?: NetworkConfig;
    cluster?: ClusterConfig;
    /** Existing-cluster settings; local only. */
    kubernetes?: KubernetesConfig;
    postgres: PostgresConfig;
    redis: RedisConfig;
    service: ServiceConfig;
    ingress: IngressConfig;
    monitoring: MonitoringConfig;
    logging: LoggingConfig;
    /** `protect` + retain-on-delete on stateful resources. Default dev/local false, prod true. */
    protectStatefulResources: boolean;
    /** Secret values, kept as secret Outputs end to end. */
    secrets: {
        /** `cli-platform:openaiApiKey`; without it the api answers /evolve with 503. */
        openaiApiKey?: pulumi.Output<string>;
        /** `cli-platform:alertWebhookUrl`: Alertmanager webhook or Slack URL. */
        alertWebhookUrl?: pulumi.Output<string>;
    };
}
