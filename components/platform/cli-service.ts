import type * as k8s from "@pulumi/kubernetes";
import * as corev1 from "@pulumi/kubernetes/core/v1";
import * as appsv1 from "@pulumi/kubernetes/apps/v1";
import * as networkingv1 from "@pulumi/kubernetes/networking/v1";
import * as policyv1 from "@pulumi/kubernetes/policy/v1";
import * as autoscalingv2 from "@pulumi/kubernetes/autoscaling/v2";
import * as pulumi from "@pulumi/pulumi";
import { checksum, restrictedContainerSecurityContext, restrictedPodSecurityContext, resources, type Resources } from "../../lib/k8s";
import { k8sLabels, selectorLabels } from "../../lib/naming";
import { PORTS } from "../../service/src/ports";

type Probe = k8s.types.input.core.v1.Probe;
type EnvVar = k8s.types.input.core.v1.EnvVar;
type NetworkPolicySpec = k8s.types.input.networking.v1.NetworkPolicySpec;

export interface Autoscaling {
    minReplicas: number;
    maxReplicas: number;
    /** Target average CPU utilisation, %. @default 70 */
    cpuUtilization?: number;
    /** Target average memory utilisation, %. @default 80 */
    memoryUtilization?: number;
    /** A Pods metric served by prometheus-adapter, with its target average value. */
    podsMetric?: { name: string; averageValue: string };
}

export interface CliServiceArgs {
    /** Kubernetes namespace (PSA restricted). */
    namespace: pulumi.Input<string>;
    /** Image reference (a digest on EKS). */
    image: pulumi.Input<string>;
    /** @default "IfNotPresent" (a digest or a local image) */
    imagePullPolicy?: "IfNotPresent" | "Always" | "Never";
    /** Entry point, e.g. ["node", "dist/server.js"]. */
    command: string[];
    /** `app.kubernetes.io/component`, e.g. "api". */
    component: string;
    /** The container's service port (named "http"). */
    port: number;
    /** The container's metrics port (named "metrics"). @default PORTS.metrics (8080, service/src/ports.ts) */
    metricsPort?: number;
    /** The HPA (autoscaling/v2); its minimum is also the replica count the Deployment is created with. */
    autoscaling: Autoscaling;
    resources: Resources;
    probes: { liveness: Probe; readiness: Probe; startup?: Probe };
    /** Plain environment variables. */
    env?: Record<string, pulumi.Input<string>>;
    /** Environment variables from Secrets: variable -> { secret, key, optional }. */
    secretEnv?: Record<string, { secret: pulumi.Input<string>; key: string; optional?: boolean }>;
    /** config.yaml content, mounted at /home/app/config/config.yaml from a generated ConfigMap. */
    configYaml?: pulumi.Input<string>;
    /** Changes to these values roll the pods (checksum annotation); e.g. the Secrets' digests. */
    rolloutOn?: pulumi.Input<string>[];
    /** Seconds the process drains after SIGTERM (SHUTDOWN_TIMEOUT). @default 25 */
    drainSeconds?: number;
    /** This workload's NetworkPolicy (ingress and egress). */
    networkPolicy: Omit<NetworkPolicySpec, "podSelector">;
    /** uid/gid the container runs as. @default 1000 */
    uid?: number;
    /** The pod's RuntimeClass (e.g. "gvisor": a user-space kernel between the pod and the node). Default none (the node's runc). */
    runtimeClassName?: string;
}

const DEFAULTS = { imagePullPolicy: "IfNotPresent" as const, metricsPort: PORTS.metrics, drainSeconds: 25, uid: 1000 };
/** Seconds the pod keeps serving after it is marked for deletion, so endpoints and load balancers let go first. */
export const PRE_STOP_SECONDS = 5;
/** The Service's port for `http` (the deployment guide's 80). */
export const SERVICE_PORT = 80;

/** The deployment guide's HPA behaviour: fast scale-up, slow scale-down. */
export const HPA_BEHAVIOR = {
    scaleUp: { stabilizationWindowSeconds: 60, policies: [{ type: "Percent", value: 100, periodSeconds: 15 }] },
    scaleDown: { stabilizationWindowSeconds: 300, policies: [{ type: "Percent", value: 10, periodSeconds: 60 }] },
};

export function hpaMetrics(a: Autoscaling): k8s.types.input.autoscaling.v2.MetricSpec[] {
    const metrics: k8s.types.input.autoscaling.v2.MetricSpec[] = [
        { type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: a.cpuUtilization ?? 70 } } },
        { type: "Resource", resource: { name: "memory", target: { type: "Utilization", averageUtilization: a.memoryUtilization ?? 80 } } },
    ];
    if (a.podsMetric)
        metrics.push({
            type: "Pods",
            pods: { metric: { name: a.podsMetric.name }, target: { type: "AverageValue", averageValue: a.podsMetric.averageValue } },
        });
    return metrics;
}

/** Spread replicas over zones and nodes; prefer, never block scheduling (a one-AZ dev cluster still schedules). */
export function topologySpread(labels: Record<string, string>): k8s.types.input.core.v1.TopologySpreadConstraint[] {
    return ["topology.kubernetes.io/zone", "kubernetes.io/hostname"].map((topologyKey) => ({
        maxSkew: 1,
        topologyKey,
        whenUnsatisfiable: "ScheduleAnyway",
        labelSelector: { matchLabels: labels },
    }));
}

/**
 * One workload of the platform service (cli-api or cli-runner): ServiceAccount (no token), a
 * ConfigMap with config.yaml, a Deployment under the restricted security context (non-root uid
 * 1000, read-only root, no privilege escalation, all capabilities dropped, RuntimeDefault seccomp,
 * emptyDir /tmp), probes, requests and limits, zone and node spread, surge-only rolling updates, a
 * grace period longer than the drain, a rollout on config or secret change; a ClusterIP Service
 * with named ports; a PodDisruptionBudget when it has more than one replica; an HPA; its
 * NetworkPolicy. Public exposure is a `GatewayRoute` (components/traffic) to its Service.
 */
export class CliService extends pulumi.ComponentResource {
    public readonly serviceName: pulumi.Output<string>;
    public readonly deploymentName: pulumi.Output<string>;
    /** In-cluster URL of the Service's http port. */
    public readonly url: pulumi.Output<string>;
    public readonly selector: Record<string, string>;
    /** The workload's name (Deployment, Service, Prometheus job). */
    public readonly name: string;

    constructor(name: string, args: CliServiceArgs, opts?: pulumi.ComponentResourceOptions) {
        const a = { ...DEFAULTS, ...args };
        if (a.autoscaling.minReplicas > a.autoscaling.maxReplicas || a.autoscaling.minReplicas < 1) {
            throw new Error(
                `CliService ${name}: autoscaling needs 1 <= minReplicas <= maxReplicas, got ${a.autoscaling.minReplicas}..${a.autoscaling.maxReplicas}`,
            );
        }
        super("cli-platform:service:CliService", name, {}, opts);
        const k8sOpts = { parent: this };
        const selector = selectorLabels(name);
        const labels = k8sLabels(name, a.component);
        const metadata = (suffix = "") => ({ name: `${name}${suffix}`, namespace: a.namespace, labels });
        this.selector = selector;
        this.name = name;

        const sa = new corev1.ServiceAccount(`${name}-sa`, { metadata: metadata(), automountServiceAccountToken: false }, k8sOpts);
        const config =
            a.configYaml === undefined
                ? undefined
                : new corev1.ConfigMap(`${name}-config`, { metadata: metadata("-config"), data: { "config.yaml": a.configYaml } }, k8sOpts);

        const env: EnvVar[] = [
            ...Object.entries(a.env ?? {}).map(([n, value]) => ({ name: n, value })),
            ...Object.entries(a.secretEnv ?? {}).map(([n, ref]) => ({
                name: n,
                valueFrom: { secretKeyRef: { name: ref.secret, key: ref.key, optional: ref.optional } },
            })),
        ];
        const rolloutChecksum = pulumi.all([a.configYaml ?? "", ...(a.rolloutOn ?? [])]).apply((values) => checksum(values.map(String)));
        const replicas = a.autoscaling.minReplicas;

        const deployment = new appsv1.Deployment(
            `${name}-deployment`,
            {
                metadata: metadata(),
                spec: {
                    replicas,
                    revisionHistoryLimit: 5,
                    selector: { matchLabels: selector },
                    strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: "25%" } },
                    template: {
                        metadata: { labels, annotations: { "cli-platform/rollout-checksum": rolloutChecksum } },
                        spec: {
                            serviceAccountName: sa.metadata.name,
                            automountServiceAccountToken: false,
                            runtimeClassName: a.runtimeClassName,
                            securityContext: restrictedPodSecurityContext(a.uid),
                            terminationGracePeriodSeconds: PRE_STOP_SECONDS + a.drainSeconds + 10,
                            topologySpreadConstraints: topologySpread(selector),
                            containers: [
                                {
                                    name,
                                    image: a.image,
                                    imagePullPolicy: a.imagePullPolicy,
                                    command: a.command,
                                    ports: [
                                        { name: "http", containerPort: a.port, protocol: "TCP" },
                                        { name: "metrics", containerPort: a.metricsPort, protocol: "TCP" },
                                    ],
                                    env: [...env, { name: "SHUTDOWN_TIMEOUT", value: String(a.drainSeconds) }],
                                    resources: resources(a.resources),
                                    livenessProbe: a.probes.liveness,
                                    readinessProbe: a.probes.readiness,
                                    startupProbe: a.probes.startup,
                                    securityContext: restrictedContainerSecurityContext(),
                                    lifecycle: { preStop: { exec: { command: ["sleep", String(PRE_STOP_SECONDS)] } } },
                                    volumeMounts: [
                                        { name: "tmp", mountPath: "/tmp" },
                                        ...(config ? [{ name: "config", mountPath: "/home/app/config", readOnly: true }] : []),
                                    ],
                                },
                            ],
                            volumes: [
                                { name: "tmp", emptyDir: { sizeLimit: "256Mi" } },
                                ...(config ? [{ name: "config", configMap: { name: config.metadata.name } }] : []),
                            ],
                        },
                    },
                },
            },
            // With an HPA the replica count is the HPA's after creation.
            { ...k8sOpts, ignoreChanges: ["spec.replicas"] },
        );

        const service = new corev1.Service(
            `${name}-svc`,
            {
                metadata: metadata(),
                spec: {
                    type: "ClusterIP",
                    selector,
                    ports: [
                        { name: "http", port: SERVICE_PORT, targetPort: "http", protocol: "TCP" },
                        { name: "metrics", port: a.metricsPort, targetPort: "metrics", protocol: "TCP" },
                    ],
                },
            },
            k8sOpts,
        );

        if (replicas > 1) {
            new policyv1.PodDisruptionBudget(
                `${name}-pdb`,
                { metadata: metadata(), spec: { maxUnavailable: 1, selector: { matchLabels: selector } } },
                k8sOpts,
            );
        }
        new autoscalingv2.HorizontalPodAutoscaler(
            `${name}-hpa`,
            {
                metadata: metadata(),
                spec: {
                    scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: deployment.metadata.name },
                    minReplicas: a.autoscaling.minReplicas,
                    maxReplicas: a.autoscaling.maxReplicas,
                    metrics: hpaMetrics(a.autoscaling),
                    behavior: HPA_BEHAVIOR,
                },
            },
            k8sOpts,
        );
        new networkingv1.NetworkPolicy(
            `${name}-netpol`,
            { metadata: metadata(), spec: { podSelector: { matchLabels: selector }, ...a.networkPolicy } },
            k8sOpts,
        );

        this.serviceName = service.metadata.name;
        this.deploymentName = deployment.metadata.name;
        this.url = pulumi.interpolate`http://${service.metadata.name}.${service.metadata.namespace}.svc.cluster.local:${SERVICE_PORT}`;
        this.registerOutputs({ serviceName: this.serviceName, deploymentName: this.deploymentName, url: this.url });
    }
}
