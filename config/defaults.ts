/**
 * Every default, in one place, per environment. A stack file holds only what differs from its
 * environment's defaults, plus what has none: `aws:region`, host names (`traffic.apiHost`,
 * `monitoring.grafanaHost`, `traffic.acmeEmail`), CIDRs (`network.cidr`,
 * `cluster.publicAccessCidrs`) and `cluster.adminPrincipalArns`.
 *
 * A stack file overrides field by field (node groups as a whole list, each group completed from
 * `NODE_GROUP_DEFAULTS`). A section with modes takes from here only the keys of its mode's shape.
 */
import type { z } from "zod";
import { configFileSchema } from "../service/src/contract";
import { EKS_LOG_TYPES, type Environment, type ModalSection, type SectionName, type SECTIONS } from "./schema";

/** Every key of every shape of a union, optional (a section's defaults cover all of its modes). */
type AllKeys<T> = T extends unknown ? keyof T : never;
type Flatten<T> = { [K in AllKeys<T>]?: T extends { [P in K]?: infer V } ? V : never };
type NodeGroupInput = z.input<(typeof SECTIONS)["cluster"]>["nodeGroups"][number];
type SectionDefaults<K extends SectionName> = K extends "cluster"
    ? Omit<Flatten<z.input<(typeof SECTIONS)[K]>>, "nodeGroups"> & { nodeGroups?: Partial<NodeGroupInput>[] }
    : Flatten<z.input<(typeof SECTIONS)[K]>>;
type Defaults = { [K in SectionName]?: SectionDefaults<K> } & { protectStatefulResources: boolean };

/** Fields of a node group it does not set. */
export const NODE_GROUP_DEFAULTS = { capacityType: "ON_DEMAND", diskSizeGiB: 50, labels: {}, taints: [] } as const;

const apiResources = { cpuRequest: "250m", memoryRequest: "256Mi", cpuLimit: "500m", memoryLimit: "512Mi" };
/**
 * The runner's memory limit covers its worst-case RSS with the default pool (2 sandboxes, 64 MiB
 * engines): runnerMemoryBudgetMib() = 352 MiB (service/src/runner/limits.ts); config/rules.ts checks it.
 */
const runnerResources = { cpuRequest: "100m", memoryRequest: "128Mi", cpuLimit: "200m", memoryLimit: "384Mi" };
/** The service's own config.yaml defaults (service/src/contract.ts), so the two never disagree. */
const file = configFileSchema.parse({});
const serviceDefaults = {
    llm: {
        provider: file.llm.provider,
        model: file.llm.model,
        temperature: file.llm.temperature,
        timeoutSeconds: file.llm.timeout,
        baseUrl: file.llm.base_url,
    },
    validation: { enabled: file.validation.enabled, strictMode: file.validation.strict_mode },
    security: { sandboxEnabled: file.security.sandbox_enabled, maxExecutionTimeSeconds: file.security.max_execution_time },
    apiClients: ["admin"],
};
/** The api's HPA target: code generations per second per pod. */
const targetGenerationRate = 10;
const database = { database: "cli_platform", username: "cli_user" };
const cluster = { kubernetesVersion: "1.35" as const, endpointPublicAccess: true, adminPrincipalArns: [], autoscaler: true };
const opensearch = { opensearchInstanceType: "r6g.large.search", opensearchVolumeGiB: 100 };

export const DEFAULTS: Record<Environment, Defaults> = {
    dev: {
        network: { azCount: 2, natGateways: "single", flowLogs: false, flowLogRetentionDays: 7 },
        cluster: {
            ...cluster,
            logTypes: ["api", "audit", "authenticator"],
            logRetentionDays: 7,
            nodeGroups: [{ name: "general", instanceTypes: ["t3.large"], minSize: 1, desiredSize: 2, maxSize: 4 }],
        },
        postgres: { mode: "in-cluster", ...database, storageGiB: 10, instanceClass: "db.t4g.medium", multiAz: false, backupRetentionDays: 7 },
        redis: { mode: "in-cluster", storageGiB: 5, nodeType: "cache.t4g.small", nodeCount: 1, multiAz: false },
        service: {
            api: { minReplicas: 1, maxReplicas: 3, ...apiResources, targetGenerationRate },
            runner: { minReplicas: 1, maxReplicas: 2, ...runnerResources },
            ...serviceDefaults,
        },
        traffic: { enabled: true, tls: true, controllerReplicas: 1, proxyReplicas: 1, evolveRateLimitPerMinute: 30 },
        dns: {},
        monitoring: { enabled: true, retention: "3d", storageGiB: 10, prometheusReplicas: 1, alertReceiver: "none" },
        logging: { sink: "cloudwatch", retentionDays: 14, ...opensearch },
        protectStatefulResources: false,
    },
    // prod's shape at a smaller size: 3 AZs behind one NAT gateway, one on-demand group, managed
    // data single-AZ on small classes, OpenSearch, 14 days of metrics and logs, everything protected.
    staging: {
        network: { azCount: 3, natGateways: "single", flowLogs: true, flowLogRetentionDays: 14 },
        cluster: {
            ...cluster,
            logTypes: [...EKS_LOG_TYPES],
            logRetentionDays: 14,
            nodeGroups: [{ name: "general", instanceTypes: ["m6i.large"], minSize: 2, desiredSize: 2, maxSize: 6 }],
        },
        postgres: { mode: "rds", ...database, storageGiB: 20, instanceClass: "db.t4g.medium", multiAz: false, backupRetentionDays: 7 },
        redis: { mode: "elasticache", storageGiB: 5, nodeType: "cache.t4g.small", nodeCount: 1, multiAz: false },
        service: {
            api: { minReplicas: 2, maxReplicas: 6, ...apiResources, targetGenerationRate },
            runner: { minReplicas: 2, maxReplicas: 4, ...runnerResources },
            ...serviceDefaults,
        },
        traffic: { enabled: true, tls: true, controllerReplicas: 2, proxyReplicas: 2, evolveRateLimitPerMinute: 60 },
        dns: {},
        monitoring: { enabled: true, retention: "14d", storageGiB: 20, prometheusReplicas: 1, alertReceiver: "none" },
        logging: { sink: "opensearch", retentionDays: 14, opensearchInstanceType: "m6g.large.search", opensearchVolumeGiB: 20 },
        protectStatefulResources: true,
    },
    prod: {
        network: { azCount: 3, natGateways: "perAz", flowLogs: true, flowLogRetentionDays: 90 },
        cluster: {
            ...cluster,
            logTypes: [...EKS_LOG_TYPES],
            logRetentionDays: 90,
            nodeGroups: [{ name: "general", instanceTypes: ["m6i.xlarge"], minSize: 3, desiredSize: 3, maxSize: 12, diskSizeGiB: 100 }],
        },
        postgres: { mode: "rds", ...database, storageGiB: 50, instanceClass: "db.r6g.large", multiAz: true, backupRetentionDays: 14 },
        redis: { mode: "elasticache", storageGiB: 5, nodeType: "cache.r7g.large", nodeCount: 2, multiAz: true },
        service: {
            api: { minReplicas: 3, maxReplicas: 20, ...apiResources, targetGenerationRate },
            runner: { minReplicas: 2, maxReplicas: 10, ...runnerResources },
            ...serviceDefaults,
        },
        traffic: { enabled: true, tls: true, controllerReplicas: 2, proxyReplicas: 2, evolveRateLimitPerMinute: 60 },
        dns: {},
        monitoring: { enabled: true, retention: "30d", storageGiB: 100, prometheusReplicas: 2, alertReceiver: "none" },
        logging: { sink: "opensearch", retentionDays: 30, ...opensearch },
        protectStatefulResources: true,
    },
    local: {
        kubernetes: { context: "kind-cli-platform", storageClassName: "standard" },
        postgres: { mode: "in-cluster", ...database, storageGiB: 2 },
        redis: { mode: "in-cluster", storageGiB: 1 },
        service: {
            api: { minReplicas: 1, maxReplicas: 2, ...apiResources, targetGenerationRate },
            runner: { minReplicas: 1, maxReplicas: 1, ...runnerResources },
            ...serviceDefaults,
        },
        traffic: { enabled: false, tls: false, controllerReplicas: 1, proxyReplicas: 1, evolveRateLimitPerMinute: 0 },
        monitoring: { enabled: true, retention: "1d", storageGiB: 2, prometheusReplicas: 1, alertReceiver: "none" },
        logging: { sink: "stdout" },
        protectStatefulResources: false,
    },
};

/** Sections that exist only where the stack runs on AWS, and only on an existing cluster. */
export const AWS_ONLY: SectionName[] = ["network", "cluster", "dns"];
export const LOCAL_ONLY: SectionName[] = ["kubernetes"];
/** The modes the local environment (no AWS) can run. */
export const LOCAL_MODES: Partial<Record<ModalSection, readonly unknown[]>> = { postgres: ["in-cluster"], redis: ["in-cluster"], logging: ["stdout", "none"] };
