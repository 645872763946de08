/**
 * The stack's configuration, read once, validated, defaulted and typed.
 *
 * This is the only module that calls `new pulumi.Config()`. Everything else receives the plain
 * `PlatformConfig` object. `parseConfig` is pure (no Pulumi runtime) so every validation rule is
 * unit-tested with its exact message; `loadConfig` is the thin adapter over the Pulumi config.
 *
 * Bad input fails here, before any resource is declared, with one line naming the stack, the key,
 * the bad value and what is allowed.
 */
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { cidrContains, cidrsOverlap, defaultSubnetPlan, parseCidr } from "./lib/cidr";
import { memoryBytes } from "./lib/k8s";
import { SUPPORTED_EKS_VERSIONS } from "./components/versions";

export const PROJECT = "cli-platform";

// ---------------------------------------------------------------------------------------------
// Schemas. Each section is a strict object (unknown keys are errors: a typo never silently falls
// back to a default). Sections are merged over the environment's DEFAULTS below.
// ---------------------------------------------------------------------------------------------

const ENVIRONMENTS = ["dev", "prod", "local"] as const;
export type Environment = (typeof ENVIRONMENTS)[number];

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const HOSTNAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;
const QUANTITY_CPU = /^([0-9]+m|[0-9]+(\.[0-9]+)?)$/;
const QUANTITY_MEM = /^[0-9]+(Ki|Mi|Gi|Ti)$/;
const DURATION = /^[0-9]+(s|m|h|d|w|y)$/;
const IAM_PRINCIPAL_ARN = /^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)\/[\w+=,.@/-]+$/;
const AWS_REGION = /^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]$/;
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

const trafficSchema = z.strictObject({
    /** Install the traffic layer (Envoy Gateway, cert-manager, external-dns) and expose the api through the Gateway. Default dev/prod true, local false. */
    enabled: z.boolean(),
    /** Public host name of the api (an HTTPS listener of the Gateway). */
    apiHost: z.string().regex(HOSTNAME, { message: 'must be a fully qualified host name such as "cli.example.com"' }),
    /** HTTPS listeners with Let's Encrypt certificates (letsencrypt-prod) and an HTTP-to-HTTPS redirect. Must be true on AWS. Default dev/prod true, local false. */
    tls: z.boolean(),
    /** ACME account e-mail for Let's Encrypt. Required when tls is on. */
    acmeEmail: z.email({ message: "must be an e-mail address" }).optional(),
    /** POST /evolve requests per minute per client IP at the Gateway (429 above it); 0 = no limit. Default dev 30, prod 60, local 0. */
    evolveRateLimitPerMinute: z.int().min(0).max(100000),
    /** Envoy proxy replicas (the data plane); a PodDisruptionBudget keeps one up when more than one. Default dev/local 1, prod 2. */
    proxyReplicas: z.int().min(1).max(20),
});

const dnsSchema = z.strictObject({
    /** Route 53 hosted zone id; set = external-dns keeps the Gateway's host records in that zone. Default unset (records by hand). */
    hostedZoneId: z
        .string()
        .regex(/^Z[A-Z0-9]{1,32}$/, { message: 'must be a Route 53 hosted zone id such as "Z0123456789ABCDEFGHIJ"' })
        .optional(),
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
    /** Grafana host through the Gateway (an HTTPS listener); unset = port-forward only. */
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
const SECTIONS = {
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
type SectionName = keyof typeof SECTIONS;

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
    traffic: TrafficConfig;
    /** Route 53 settings; AWS only (`{}` when unset). */
    dns?: DnsConfig;
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

// ---------------------------------------------------------------------------------------------
// Defaults, in one place, per environment. A stack file overrides field by field (node groups as
// a whole list).
// ---------------------------------------------------------------------------------------------

const apiDefaults = { cpuRequest: "250m", memoryRequest: "256Mi", cpuLimit: "500m", memoryLimit: "512Mi" };
const runnerDefaults = { cpuRequest: "100m", memoryRequest: "128Mi", cpuLimit: "200m", memoryLimit: "256Mi" };
const serviceDefaults = {
    llm: { provider: "openai" as const, model: "gpt-4", temperature: 0.7, timeoutSeconds: 30, baseUrl: "https://api.openai.com/v1" },
    validation: { enabled: true, strictMode: true },
    security: { sandboxEnabled: true, maxExecutionTimeSeconds: 60 },
};
const commonData = { database: "cli_platform", username: "cli_user" };

type Defaults = { [K in SectionName]?: z.input<(typeof SECTIONS)[K]> } & { protectStatefulResources: boolean };

export const DEFAULTS: Record<Environment, Defaults> = {
    dev: {
        network: { cidr: "10.10.0.0/16", azCount: 2, natGateways: "single", flowLogs: false, flowLogRetentionDays: 7 },
        cluster: {
            kubernetesVersion: "1.35",
            endpointPublicAccess: true,
            publicAccessCidrs: ["0.0.0.0/0"],
            adminPrincipalArns: [],
            logTypes: ["api", "audit", "authenticator"],
            logRetentionDays: 7,
            nodeGroups: [{ name: "general", instanceTypes: ["t3.large"], minSize: 1, desiredSize: 2, maxSize: 4 }],
            autoscaler: true,
        },
        postgres: { mode: "in-cluster", ...commonData, storageGiB: 10, instanceClass: "db.t4g.medium", multiAz: false, backupRetentionDays: 7 },
        redis: { mode: "in-cluster", nodeType: "cache.t4g.small", nodeCount: 1, multiAz: false, storageGiB: 5 },
        service: {
            api: { replicas: 1, minReplicas: 1, maxReplicas: 3, ...apiDefaults },
            runner: { replicas: 1, minReplicas: 1, maxReplicas: 2, ...runnerDefaults },
            ...serviceDefaults,
        },
        traffic: { enabled: true, apiHost: "cli.dev.example.com", tls: true, evolveRateLimitPerMinute: 30, proxyReplicas: 1 },
        dns: {},
        monitoring: { enabled: true, retention: "3d", storageGiB: 10, prometheusReplicas: 1, alertReceiver: "none" },
        logging: { sink: "cloudwatch", retentionDays: 14, opensearchInstanceType: "r6g.large.search", opensearchVolumeGiB: 100 },
        protectStatefulResources: false,
    },
    prod: {
        network: { cidr: "10.20.0.0/16", azCount: 3, natGateways: "perAz", flowLogs: true, flowLogRetentionDays: 90 },
        cluster: {
            kubernetesVersion: "1.35",
            endpointPublicAccess: true,
            publicAccessCidrs: [],
            adminPrincipalArns: [],
            logTypes: [...EKS_LOG_TYPES],
            logRetentionDays: 90,
            nodeGroups: [{ name: "general", instanceTypes: ["m6i.xlarge"], minSize: 3, desiredSize: 3, maxSize: 12, diskSizeGiB: 100 }],
            autoscaler: true,
        },
        postgres: { mode: "rds", ...commonData, storageGiB: 50, instanceClass: "db.r6g.large", multiAz: true, backupRetentionDays: 14 },
        redis: { mode: "elasticache", nodeType: "cache.r7g.large", nodeCount: 2, multiAz: true, storageGiB: 5 },
        service: {
            api: { replicas: 3, minReplicas: 3, maxReplicas: 20, ...apiDefaults },
            runner: { replicas: 2, minReplicas: 2, maxReplicas: 10, ...runnerDefaults },
            ...serviceDefaults,
        },
        traffic: { enabled: true, apiHost: "cli.example.com", tls: true, evolveRateLimitPerMinute: 60, proxyReplicas: 2 },
        dns: {},
        monitoring: { enabled: true, retention: "30d", storageGiB: 100, prometheusReplicas: 2, alertReceiver: "none" },
        logging: { sink: "opensearch", retentionDays: 30, opensearchInstanceType: "r6g.large.search", opensearchVolumeGiB: 100 },
        protectStatefulResources: true,
    },
    local: {
        kubernetes: { context: "kind-cli-platform", storageClassName: "standard" },
        postgres: { mode: "in-cluster", ...commonData, storageGiB: 2, instanceClass: "db.t4g.medium", multiAz: false, backupRetentionDays: 7 },
        redis: { mode: "in-cluster", nodeType: "cache.t4g.small", nodeCount: 1, multiAz: false, storageGiB: 1 },
        service: {
            api: { replicas: 1, minReplicas: 1, maxReplicas: 2, ...apiDefaults },
            runner: { replicas: 1, minReplicas: 1, maxReplicas: 1, ...runnerDefaults },
            ...serviceDefaults,
        },
        traffic: { enabled: false, apiHost: "cli.localtest.me", tls: false, evolveRateLimitPerMinute: 0, proxyReplicas: 1 },
        monitoring: { enabled: true, retention: "1d", storageGiB: 2, prometheusReplicas: 1, alertReceiver: "none" },
        logging: { sink: "stdout", retentionDays: 7, opensearchInstanceType: "r6g.large.search", opensearchVolumeGiB: 100 },
        protectStatefulResources: false,
    },
};

/** Sections that exist only where the stack runs on AWS, and only on an existing cluster. */
const AWS_ONLY: SectionName[] = ["network", "cluster", "dns"];
const LOCAL_ONLY: SectionName[] = ["kubernetes"];

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/** A configuration problem; `message` is one line naming the stack, key, value and what is allowed. */
export class ConfigError extends Error {
    constructor(
        readonly stack: string,
        readonly problems: string[],
    ) {
        super(`Invalid configuration for stack "${stack}": ${problems.join("; ")}`);
        this.name = "ConfigError";
    }
}

type PathPart = string | number;

function keyName(path: readonly PathPart[]): string {
    const [section, ...rest] = path;
    let key = `${PROJECT}:${String(section)}`;
    for (const part of rest) key += typeof part === "number" ? `[${part}]` : `.${part}`;
    return key;
}

function show(value: unknown): string {
    return value === undefined ? "(unset)" : JSON.stringify(value);
}

function valueAt(root: unknown, path: readonly PathPart[]): unknown {
    let v: unknown = root;
    for (const part of path) {
        if (v === null || typeof v !== "object") return undefined;
        v = (v as Record<string | number, unknown>)[part];
    }
    return v;
}

function problem(path: readonly PathPart[], value: unknown, allowed: string): string {
    return `${keyName(path)} = ${show(value)}: ${allowed}`;
}

/** Keys a strict object schema accepts, for "unknown key" messages. */
function schemaKeysAt(schema: z.ZodType, path: readonly PathPart[]): string[] {
    let s: z.ZodType = schema;
    for (const part of path) {
        while (s instanceof z.ZodOptional || s instanceof z.ZodDefault) s = s.unwrap() as z.ZodType;
        if (s instanceof z.ZodArray && typeof part === "number") s = s.element as z.ZodType;
        else if (s instanceof z.ZodObject && typeof part === "string") s = s.shape[part] as z.ZodType;
        else return [];
    }
    while (s instanceof z.ZodOptional || s instanceof z.ZodDefault) s = s.unwrap() as z.ZodType;
    return s instanceof z.ZodObject ? Object.keys(s.shape) : [];
}

function describeIssue(issue: z.core.$ZodIssue): string {
    switch (issue.code) {
        case "invalid_type":
            return `must be ${issue.expected === "int" ? "an integer" : `a ${issue.expected}`}`;
        case "too_small":
            if (issue.origin === "array") return `must have at least ${issue.minimum} item(s)`;
            if (issue.origin === "string") return "must not be empty";
            return `must be >= ${issue.minimum}`;
        case "too_big":
            if (issue.origin === "array") return `must have at most ${issue.maximum} item(s)`;
            return `must be <= ${issue.maximum}`;
        case "invalid_value":
            return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
        default:
            return issue.message;
    }
}

function zodProblems(section: SectionName, raw: unknown, error: z.ZodError): string[] {
    return error.issues.map((issue) => {
        const path = [section, ...(issue.path as PathPart[])];
        if (issue.code === "unrecognized_keys") {
            const allowed = schemaKeysAt(SECTIONS[section], issue.path as PathPart[]);
            return issue.keys
                .map((k) => problem([...path, k], valueAt(raw, [...(issue.path as PathPart[]), k]), `unknown key; allowed keys: ${allowed.join(", ")}`))
                .join("; ");
        }
        return problem(path, valueAt(raw, issue.path as PathPart[]), describeIssue(issue));
    });
}

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

/** What the stack's config holds, before validation: section values are already JSON-decoded. */
export interface RawConfig {
    stack: string;
    /** `cli-platform:<key>` values, keyed without the namespace. */
    values: Record<string, unknown>;
    /** `aws:region`. */
    awsRegion?: string;
    secrets?: PlatformConfig["secrets"];
}

const SCALAR_KEYS = ["environment", "protectStatefulResources"] as const;
const SECRET_KEYS = ["openaiApiKey", "alertWebhookUrl"] as const;
export const KNOWN_KEYS: readonly string[] = [...SCALAR_KEYS, ...SECRET_KEYS, ...Object.keys(SECTIONS)];
/** Keys of older versions of this program and where their fields live now. */
const RENAMED_KEYS: Record<string, string> = { ingress: "traffic" };

function isPlainObject(v: unknown): v is Record<string, unknown> {
    return typeof v === "object" && v !== null && !Array.isArray(v);
}

function parseCpu(q: string): number {
    return q.endsWith("m") ? Number(q.slice(0, -1)) / 1000 : Number(q);
}

/**
 * Validates and defaults one stack's configuration. Pure: no Pulumi runtime needed.
 * Throws ConfigError listing every problem found.
 */
export function parseConfig(raw: RawConfig): PlatformConfig {
    const { stack, values } = raw;
    const problems: string[] = [];

    for (const key of Object.keys(values)) {
        if (key in RENAMED_KEYS) problems.push(problem([key], values[key], `renamed to ${PROJECT}:${RENAMED_KEYS[key]}; move its fields there`));
        else if (!KNOWN_KEYS.includes(key)) problems.push(problem([key], values[key], `unknown key; allowed keys: ${KNOWN_KEYS.join(", ")}`));
    }

    const environmentRaw = values.environment;
    if (!ENVIRONMENTS.includes(environmentRaw as Environment)) {
        problems.push(problem(["environment"], environmentRaw, `must be one of ${ENVIRONMENTS.map((e) => JSON.stringify(e)).join(", ")}`));
        throw new ConfigError(stack, problems);
    }
    const environment = environmentRaw as Environment;
    const defaults = DEFAULTS[environment];
    const onAws = environment !== "local";

    let protectStatefulResources = defaults.protectStatefulResources;
    if (values.protectStatefulResources !== undefined) {
        if (typeof values.protectStatefulResources === "boolean") protectStatefulResources = values.protectStatefulResources;
        else problems.push(problem(["protectStatefulResources"], values.protectStatefulResources, "must be true or false"));
    }

    if (onAws && (raw.awsRegion === undefined || !AWS_REGION.test(raw.awsRegion))) {
        problems.push(`aws:region = ${show(raw.awsRegion)}: must be an AWS region such as "eu-west-1" (pulumi config set aws:region <region>)`);
    }
    if (!onAws && raw.awsRegion !== undefined) {
        problems.push(`aws:region = ${show(raw.awsRegion)}: the local stack uses no AWS; remove aws:region`);
    }

    const sections: Partial<Record<SectionName, unknown>> = {};
    for (const name of Object.keys(SECTIONS) as SectionName[]) {
        const given = values[name];
        if (onAws && LOCAL_ONLY.includes(name)) {
            if (given !== undefined) problems.push(problem([name], given, `only the local environment uses ${PROJECT}:${name}; remove it`));
            continue;
        }
        if (!onAws && AWS_ONLY.includes(name)) {
            if (given !== undefined) problems.push(problem([name], given, `the local environment has no AWS ${name}; remove it`));
            continue;
        }
        if (given !== undefined && !isPlainObject(given)) {
            problems.push(problem([name], given, "must be an object (a YAML mapping)"));
            continue;
        }
        // Field-wise merge over the environment's defaults; nested objects (service.api, ...) too.
        const base = (defaults[name] ?? {}) as Record<string, unknown>;
        const merged: Record<string, unknown> = { ...base };
        for (const [k, v] of Object.entries(given ?? {})) {
            merged[k] = isPlainObject(v) && isPlainObject(base[k]) ? { ...(base[k] as object), ...v } : v;
        }
        const result = SECTIONS[name].safeParse(merged);
        if (result.success) sections[name] = result.data;
        else problems.push(...zodProblems(name, merged, result.error));
    }
    if (problems.length > 0) throw new ConfigError(stack, problems);

    const cfg: PlatformConfig = {
        stack,
        environment,
        awsRegion: onAws ? raw.awsRegion : undefined,
        onAws,
        network: sections.network as NetworkConfig | undefined,
        cluster: sections.cluster as ClusterConfig | undefined,
        kubernetes: sections.kubernetes as KubernetesConfig | undefined,
        postgres: sections.postgres as PostgresConfig,
        redis: sections.redis as RedisConfig,
        service: sections.service as ServiceConfig,
        traffic: sections.traffic as TrafficConfig,
        dns: sections.dns as DnsConfig | undefined,
        monitoring: sections.monitoring as MonitoringConfig,
        logging: sections.logging as LoggingConfig,
        protectStatefulResources,
        secrets: raw.secrets ?? {},
    };

    problems.push(...crossFieldProblems(cfg));
    if (problems.length > 0) throw new ConfigError(stack, problems);
    return cfg;
}

/** Rules that span fields or depend on the environment. Fills in the planned subnet CIDRs. */
function crossFieldProblems(cfg: PlatformConfig): string[] {
    const out: string[] = [];
    const { network, cluster, environment } = cfg;

    if (network) {
        const vpc = parseCidr(network.cidr)!;
        if (vpc.prefix < 16 || vpc.prefix > 20) {
            out.push(problem(["network", "cidr"], network.cidr, "the VPC prefix must be between /16 and /20"));
        } else {
            const plan = defaultSubnetPlan(network.cidr, network.azCount);
            for (const kind of ["public", "private"] as const) {
                const key = kind === "public" ? "publicSubnetCidrs" : "privateSubnetCidrs";
                const given = network[key];
                if (given === undefined) {
                    network[key] = plan[kind];
                    continue;
                }
                if (given.length !== network.azCount) {
                    out.push(problem(["network", key], given, `must list exactly one CIDR per AZ (network.azCount = ${network.azCount})`));
                }
                given.forEach((c, i) => {
                    if (!cidrContains(vpc, parseCidr(c)!)) out.push(problem(["network", key, i], c, `must lie inside the VPC CIDR ${network.cidr}`));
                });
            }
            const all = (["publicSubnetCidrs", "privateSubnetCidrs"] as const).flatMap((key) =>
                (network[key] ?? []).map((cidr, i) => ({ path: ["network", key, i], cidr })),
            );
            all.forEach((a, i) =>
                all.slice(i + 1).forEach((b) => {
                    if (cidrsOverlap(parseCidr(a.cidr)!, parseCidr(b.cidr)!)) {
                        out.push(problem(a.path, a.cidr, `overlaps ${keyName(b.path)} (${b.cidr}); subnets must be disjoint`));
                    }
                }),
            );
        }
    }

    if (cluster) {
        const seen = new Set<string>();
        cluster.nodeGroups.forEach((ng, i) => {
            const path = ["cluster", "nodeGroups", i];
            if (seen.has(ng.name)) out.push(problem([...path, "name"], ng.name, "node group names must be unique"));
            seen.add(ng.name);
            if (ng.minSize > ng.maxSize) out.push(problem([...path, "minSize"], ng.minSize, `must be <= maxSize (${ng.maxSize})`));
            else if (ng.desiredSize < ng.minSize || ng.desiredSize > ng.maxSize) {
                out.push(problem([...path, "desiredSize"], ng.desiredSize, `must be between minSize (${ng.minSize}) and maxSize (${ng.maxSize})`));
            }
        });
        const missing = REQUIRED_LOG_TYPES.filter((t) => !cluster.logTypes.includes(t));
        if (missing.length > 0)
            out.push(problem(["cluster", "logTypes"], cluster.logTypes, `must include ${REQUIRED_LOG_TYPES.join(", ")} (missing ${missing.join(", ")})`));
        if (!cluster.endpointPublicAccess && cluster.publicAccessCidrs.length > 0) {
            out.push(problem(["cluster", "publicAccessCidrs"], cluster.publicAccessCidrs, "must be empty when cluster.endpointPublicAccess is false"));
        }
        if (cluster.endpointPublicAccess && cluster.publicAccessCidrs.length === 0) {
            out.push(
                problem(
                    ["cluster", "publicAccessCidrs"],
                    cluster.publicAccessCidrs,
                    "must list at least one CIDR when cluster.endpointPublicAccess is true (or turn public access off)",
                ),
            );
        }
        if (environment === "prod" && cluster.publicAccessCidrs.some((c) => parseCidr(c)!.prefix === 0)) {
            out.push(
                problem(
                    ["cluster", "publicAccessCidrs"],
                    cluster.publicAccessCidrs,
                    "prod may not open the API endpoint to 0.0.0.0/0; list your office/VPN CIDRs",
                ),
            );
        }
    }

    if (environment === "local") {
        if (cfg.postgres.mode !== "in-cluster") out.push(problem(["postgres", "mode"], cfg.postgres.mode, 'the local stack has no AWS; must be "in-cluster"'));
        if (cfg.redis.mode !== "in-cluster") out.push(problem(["redis", "mode"], cfg.redis.mode, 'the local stack has no AWS; must be "in-cluster"'));
        if (cfg.logging.sink === "opensearch" || cfg.logging.sink === "cloudwatch") {
            out.push(problem(["logging", "sink"], cfg.logging.sink, 'the local stack has no AWS; must be "stdout" or "none"'));
        }
    }

    for (const name of ["api", "runner"] as const) {
        const w = cfg.service[name];
        const path = ["service", name];
        if (w.minReplicas > w.maxReplicas) out.push(problem([...path, "minReplicas"], w.minReplicas, `must be <= maxReplicas (${w.maxReplicas})`));
        if (w.replicas < w.minReplicas || w.replicas > w.maxReplicas) {
            out.push(problem([...path, "replicas"], w.replicas, `must be between minReplicas (${w.minReplicas}) and maxReplicas (${w.maxReplicas})`));
        }
        if (parseCpu(w.cpuRequest) > parseCpu(w.cpuLimit)) out.push(problem([...path, "cpuRequest"], w.cpuRequest, `must be <= cpuLimit (${w.cpuLimit})`));
        if (memoryBytes(w.memoryRequest) > memoryBytes(w.memoryLimit)) {
            out.push(problem([...path, "memoryRequest"], w.memoryRequest, `must be <= memoryLimit (${w.memoryLimit})`));
        }
    }

    if (cfg.redis.mode === "elasticache" && cfg.redis.multiAz && cfg.redis.nodeCount < 2) {
        out.push(problem(["redis", "nodeCount"], cfg.redis.nodeCount, "must be >= 2 when redis.multiAz is true (a replica in another AZ)"));
    }
    const { traffic } = cfg;
    if (traffic.enabled && traffic.tls && traffic.acmeEmail === undefined) {
        out.push(problem(["traffic", "acmeEmail"], undefined, "required when traffic.tls is true (the Let's Encrypt account e-mail)"));
    }
    if (cfg.onAws && traffic.enabled && !traffic.tls) {
        out.push(problem(["traffic", "tls"], traffic.tls, "must be true on AWS: every internet-facing listener is HTTPS (plain HTTP only on local)"));
    }
    if (!cfg.onAws && traffic.tls) {
        out.push(problem(["traffic", "tls"], traffic.tls, "must be false on local: Let's Encrypt cannot reach a local cluster for the HTTP-01 challenge"));
    }
    if (cfg.dns?.hostedZoneId !== undefined && !traffic.enabled) {
        out.push(problem(["dns", "hostedZoneId"], cfg.dns.hostedZoneId, "needs traffic.enabled (external-dns publishes the Gateway's hosts)"));
    }
    if (cfg.monitoring.alertReceiver !== "none" && cfg.secrets.alertWebhookUrl === undefined) {
        out.push(
            `${PROJECT}:alertWebhookUrl = (unset): required when monitoring.alertReceiver is "${cfg.monitoring.alertReceiver}" ` +
                `(pulumi config set --secret alertWebhookUrl <url>)`,
        );
    }
    return out;
}

// ---------------------------------------------------------------------------------------------
// Pulumi adapter
// ---------------------------------------------------------------------------------------------

function decode(key: string, text: string): unknown {
    if (key === "environment") return text;
    try {
        return JSON.parse(text);
    } catch {
        return text;
    }
}

/**
 * Reads the current stack's configuration from Pulumi and validates it. Call once, from index.ts.
 */
export function loadConfig(): PlatformConfig {
    const cfg = new pulumi.Config(PROJECT);
    const values: Record<string, unknown> = {};
    const prefix = `${PROJECT}:`;
    for (const fullKey of Object.keys(pulumi.runtime.allConfig())) {
        if (!fullKey.startsWith(prefix)) continue;
        const key = fullKey.slice(prefix.length);
        if ((SECRET_KEYS as readonly string[]).includes(key)) continue;
        const text = cfg.get(key);
        if (text !== undefined) values[key] = decode(key, text);
    }
    return parseConfig({
        stack: pulumi.getStack(),
        values,
        awsRegion: new pulumi.Config("aws").get("region"),
        secrets: {
            openaiApiKey: cfg.getSecret("openaiApiKey"),
            alertWebhookUrl: cfg.getSecret("alertWebhookUrl"),
        },
    });
}
