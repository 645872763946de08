/**
 * What the two workloads of the platform service are, as pure data: config.yaml, probes and
 * NetworkPolicies of cli-api and cli-runner. index.ts hands these to two CliService instances.
 */
import type * as k8s from "@pulumi/kubernetes";
import * as YAML from "yaml";
import { configFileSchema, type ConfigFileInput, PORTS } from "../../service/src/contract";
import { namespacePeer, WORKLOAD_LABELS } from "../../lib/k8s";
import { POSTGRES_PORT } from "../data/postgres";
import { REDIS_PORT } from "../data/redis";

type Probe = k8s.types.input.core.v1.Probe;
type Egress = k8s.types.input.networking.v1.NetworkPolicyEgressRule;
type Ingress = k8s.types.input.networking.v1.NetworkPolicyIngressRule;

/** The two workloads of the one image; ports are the service's own defaults (service/src/ports.ts). */
export const API = { name: "cli-api", port: PORTS.api, command: ["node", "dist/server.js"] } as const;
export const RUNNER = { name: "cli-runner", port: PORTS.runner, command: ["node", "dist/runner/server.js"] } as const;
export const METRICS_PORT = PORTS.metrics;

/** What the service's config.yaml carries from stack config. */
export interface ServiceSettings {
    llm: { provider: "openai"; model: string; temperature: number; timeoutSeconds: number; baseUrl: string };
    validation: { enabled: boolean; strictMode: boolean };
    security: { sandboxEnabled: boolean; maxExecutionTimeSeconds: number };
}

/**
 * The deployment guide's config.yaml, built and validated through the service's own schema
 * (service/src/contract.ts), so the file the infrastructure writes is one the service accepts.
 * Connection secrets stay in env.
 */
export function serviceConfigYaml(settings: ServiceSettings, hosts: { redis: string; postgres: string }, database: string): string {
    const file: ConfigFileInput = {
        version: "1.0.0",
        llm: {
            provider: settings.llm.provider,
            model: settings.llm.model,
            temperature: settings.llm.temperature,
            timeout: settings.llm.timeoutSeconds,
            base_url: settings.llm.baseUrl,
        },
        validation: { enabled: settings.validation.enabled, strict_mode: settings.validation.strictMode },
        security: { sandbox_enabled: settings.security.sandboxEnabled, max_execution_time: settings.security.maxExecutionTimeSeconds },
        redis: { host: hosts.redis, port: REDIS_PORT },
        postgres: { host: hosts.postgres, port: POSTGRES_PORT, database },
    };
    const checked = configFileSchema.safeParse(file);
    if (!checked.success) {
        throw new Error(`config.yaml for the service is invalid: ${checked.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
    }
    return YAML.stringify(file);
}

/** cli-api: liveness /health, readiness /ready (the deployment guide's timings), startup `cli-platform status`. */
export function apiProbes(): { liveness: Probe; readiness: Probe; startup: Probe } {
    return {
        liveness: { httpGet: { path: "/health", port: "http" }, initialDelaySeconds: 30, periodSeconds: 10, timeoutSeconds: 3, failureThreshold: 3 },
        readiness: { httpGet: { path: "/ready", port: "http" }, initialDelaySeconds: 5, periodSeconds: 5, timeoutSeconds: 3, failureThreshold: 2 },
        startup: { exec: { command: ["cli-platform", "--timeout", "2000", "status"] }, periodSeconds: 5, timeoutSeconds: 4, failureThreshold: 30 },
    };
}

/** cli-runner: exec liveness (the deployment guide's cli-cpp style), HTTP readiness on its own /ready. */
export function runnerProbes(): { liveness: Probe; readiness: Probe; startup: Probe } {
    return {
        liveness: { exec: { command: ["node", "dist/healthcheck.js"] }, initialDelaySeconds: 10, periodSeconds: 30, timeoutSeconds: 5 },
        readiness: { httpGet: { path: "/ready", port: "http" }, initialDelaySeconds: 5, periodSeconds: 10, timeoutSeconds: 3 },
        startup: { httpGet: { path: "/health", port: "http" }, periodSeconds: 2, failureThreshold: 30 },
    };
}

const dns: Egress = {
    to: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } }, podSelector: { matchLabels: { "k8s-app": "kube-dns" } } }],
    ports: [
        { protocol: "UDP", port: 53 },
        { protocol: "TCP", port: 53 },
    ],
};

export interface ApiPolicyArgs {
    /** Where public traffic comes from: the Gateway's proxy pods (none = no public traffic). */
    gatewayPeer?: k8s.types.input.networking.v1.NetworkPolicyPeer;
    monitoringNamespace: string;
    /** Where PostgreSQL and Redis are: in the namespace (pods) or managed in the VPC (CIDR). */
    postgres: { inCluster: true } | { inCluster: false; cidr: string };
    redis: { inCluster: true } | { inCluster: false; cidr: string };
}

/** api: in from the Gateway's proxies (http) and Prometheus (metrics); out to DNS, PostgreSQL, Redis, the runner and HTTPS. */
export function apiNetworkPolicy(a: ApiPolicyArgs): { policyTypes: string[]; ingress: Ingress[]; egress: Egress[] } {
    const data = (target: ApiPolicyArgs["postgres"], labels: Record<string, string>, port: number): Egress => ({
        to: [target.inCluster ? { podSelector: { matchLabels: labels } } : { ipBlock: { cidr: target.cidr } }],
        ports: [{ protocol: "TCP", port }],
    });
    return {
        policyTypes: ["Ingress", "Egress"],
        ingress: [
            ...(a.gatewayPeer ? [{ from: [a.gatewayPeer], ports: [{ protocol: "TCP", port: API.port }] }] : []),
            { from: [namespacePeer(a.monitoringNamespace)], ports: [{ protocol: "TCP", port: METRICS_PORT }] },
        ],
        egress: [
            dns,
            data(a.postgres, WORKLOAD_LABELS.postgres, POSTGRES_PORT),
            data(a.redis, WORKLOAD_LABELS.redis, REDIS_PORT),
            { to: [{ podSelector: { matchLabels: WORKLOAD_LABELS.runner } }], ports: [{ protocol: "TCP", port: RUNNER.port }] },
            // The LLM: HTTPS anywhere but the cluster's private ranges.
            {
                to: [{ ipBlock: { cidr: "0.0.0.0/0", except: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"] } }],
                ports: [{ protocol: "TCP", port: 443 }],
            },
        ],
    };
}

/** runner: in only from the api (and Prometheus on metrics); no egress at all, not even DNS (it calls nothing). */
export function runnerNetworkPolicy(monitoringNamespace: string): { policyTypes: string[]; ingress: Ingress[]; egress: Egress[] } {
    return {
        policyTypes: ["Ingress", "Egress"],
        ingress: [
            { from: [{ podSelector: { matchLabels: WORKLOAD_LABELS.api } }], ports: [{ protocol: "TCP", port: RUNNER.port }] },
            { from: [namespacePeer(monitoringNamespace)], ports: [{ protocol: "TCP", port: METRICS_PORT }] },
        ],
        egress: [],
    };
}

/** Default deny of all ingress and egress for every pod in the namespace. */
export function defaultDenySpec(): k8s.types.input.networking.v1.NetworkPolicySpec {
    return { podSelector: {}, policyTypes: ["Ingress", "Egress"] };
}
