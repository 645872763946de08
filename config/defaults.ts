/**
 * Defaults, in one place, per environment. A stack file overrides field by field (node groups as
 * a whole list).
 */
import type { z } from "zod";
import { EKS_LOG_TYPES, type Environment, type SectionName, type SECTIONS } from "./schema";

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
        ingress: { enabled: true, apiHost: "cli.dev.example.com", tls: false },
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
        ingress: { enabled: true, apiHost: "cli.example.com", tls: true },
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
        ingress: { enabled: false, apiHost: "cli.localtest.me", tls: false },
        monitoring: { enabled: true, retention: "1d", storageGiB: 2, prometheusReplicas: 1, alertReceiver: "none" },
        logging: { sink: "stdout", retentionDays: 7, opensearchInstanceType: "r6g.large.search", opensearchVolumeGiB: 100 },
        protectStatefulResources: false,
    },
};

/** Sections that exist only where the stack runs on AWS, and only on an existing cluster. */
export const AWS_ONLY: SectionName[] = ["network", "cluster"];
export const LOCAL_ONLY: SectionName[] = ["kubernetes"];
