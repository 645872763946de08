/**
 * What the two workloads of the platform service are, as pure data: config.yaml, probes and
 * NetworkPolicies of cli-api and cli-runner. index.ts hands these to two CliService instances.
 */
import type * as k8s from "@pulumi/kubernetes";
import * as YAML from "yaml";
import type { ServiceConfig } from "../config";
import { namespacePeer, WORKLOAD_LABELS } from "../lib/k8s";
import { POSTGRES_PORT } from "./postgres";
import { REDIS_PORT } from "./redis";

type Probe = k8s.types.input.core.v1.Probe;
type Egress = k8s.types.input.networking.v1.NetworkPolicyEgressRule;
type Ingress = k8s.types.input.networking.v1.NetworkPolicyIngressRule;

export const API = { name: "cli-api", port: 8000, command: ["node", "dist/server.js"] } as const;
export const RUNNER = { name: "cli-runner", port: 8001, command: ["node", "dist/runner/server.js"] } as const;
export const METRICS_PORT = 8080;
/** The Pods metric the api's HPA scales on (served by prometheus-adapter). */
export const GENERATION_RATE_METRIC = "code_generation_requests_per_second";

/** The deployment guide's config.yaml, generated from stack config. Connection secrets stay in env. */
export function serviceConfigYaml(service: ServiceConfig, hosts: { redis: string; postgres: string }, database: string): string {
    return YAML.stringify({
        version: "1.0.0",
        llm: {
            provider: service.llm.provider,
            model: service.llm.model,
            temperature: service.llm.temperature,
            timeout: service.llm.timeoutSeconds,
            base_url: service.llm.baseUrl,
        },
        validation: { enabled: service.validation.enabled, strict_mode: service.validation.strictMode },
        security: { sandbox_enabled: service.security.sandboxEnabled, max_execution_time: service.security.maxExecutionTimeSeconds },
        redis: { host: hosts.redis, port: REDIS_PORT },
        postgres: { host: hosts.postgres, port: POSTGRES_PORT, database },
    });
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

/** runner: in only from the api (and Prometheus on metrics); out only to DNS. */
export function runnerNetworkPolicy(monitoringNamespace: string): { policyTypes: string[]; ingress: Ingress[]; egress: Egress[] } {
    return {
        policyTypes: ["Ingress", "Egress"],
        ingress: [
            { from: [{ podSelector: { matchLabels: WORKLOAD_LABELS.api } }], ports: [{ protocol: "TCP", port: RUNNER.port }] },
            { from: [namespacePeer(monitoringNamespace)], ports: [{ protocol: "TCP", port: METRICS_PORT }] },
        ],
        egress: [dns],
    };
}

/** Default deny of all ingress and egress for every pod in the namespace. */
export function defaultDenySpec(): k8s.types.input.networking.v1.NetworkPolicySpec {
    return { podSelector: {}, policyTypes: ["Ingress", "Egress"] };
}
