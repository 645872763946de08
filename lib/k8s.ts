/**
 * Kubernetes building blocks every workload shares: the Pod Security "restricted" contexts,
 * resources, and the labels of the platform's own pods (for NetworkPolicy peers).
 */
import type * as k8s from "@pulumi/kubernetes";
import { createHash } from "node:crypto";

type PodSecurityContext = k8s.types.input.core.v1.PodSecurityContext;
type SecurityContext = k8s.types.input.core.v1.SecurityContext;

/** Pod-level context satisfying PSA `restricted`: non-root uid/gid, fsGroup, RuntimeDefault seccomp. */
export function restrictedPodSecurityContext(uid: number): PodSecurityContext {
    return {
        runAsNonRoot: true,
        runAsUser: uid,
        runAsGroup: uid,
        fsGroup: uid,
        fsGroupChangePolicy: "OnRootMismatch",
        seccompProfile: { type: "RuntimeDefault" },
    };
}

/** Container-level context satisfying PSA `restricted`, with a read-only root filesystem. */
export function restrictedContainerSecurityContext(): SecurityContext {
    return {
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        runAsNonRoot: true,
        capabilities: { drop: ["ALL"] },
        seccompProfile: { type: "RuntimeDefault" },
    };
}

export interface Resources {
    cpuRequest: string;
    memoryRequest: string;
    cpuLimit: string;
    memoryLimit: string;
}

export function resources(r: Resources): k8s.types.input.core.v1.ResourceRequirements {
    return { requests: { cpu: r.cpuRequest, memory: r.memoryRequest }, limits: { cpu: r.cpuLimit, memory: r.memoryLimit } };
}

/** The namespace every platform workload (service and in-cluster data) lives in. */
export const PLATFORM_NAMESPACE = "cli-platform";
/** The namespace of Prometheus (kube-prometheus-stack): allowed to scrape metrics ports. */
export const MONITORING_NAMESPACE = "monitoring";

/** Pod labels of the platform's workloads, used by selectors and NetworkPolicy peers. */
export const WORKLOAD_LABELS = {
    api: { "app.kubernetes.io/name": "cli-api" },
    runner: { "app.kubernetes.io/name": "cli-runner" },
    postgres: { "app.kubernetes.io/name": "postgres" },
    redis: { "app.kubernetes.io/name": "redis" },
} as const;

/** A NetworkPolicy peer selecting every pod of a namespace by its immutable name label. */
export function namespacePeer(namespace: string): k8s.types.input.networking.v1.NetworkPolicyPeer {
    return { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": namespace } } };
}

/** A stable digest of values, for rollout-on-change annotations (a hash reveals nothing of a secret). */
export function checksum(values: string[]): string {
    return createHash("sha256").update(values.join("\0")).digest("hex");
}

/** Bytes of a Kubernetes memory quantity in binary units (Ki, Mi, Gi, Ti); NaN when it is not one. */
export function memoryBytes(quantity: string): number {
    const units: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 };
    const m = /^([0-9]+)(Ki|Mi|Gi|Ti)$/.exec(quantity);
    return m ? Number(m[1]) * units[m[2]] : NaN;
}
