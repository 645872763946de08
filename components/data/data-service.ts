/**
 * What the data components hand to the service: a connection URL (a secret Output) and a
 * Kubernetes Secret in the service's namespace holding it under a fixed key (POSTGRES_URL,
 * REDIS_URL), the same in every mode.
 */
import type * as k8s from "@pulumi/kubernetes";
import * as corev1 from "@pulumi/kubernetes/core/v1";
import * as appsv1 from "@pulumi/kubernetes/apps/v1";
import * as networkingv1 from "@pulumi/kubernetes/networking/v1";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import {
    MONITORING_NAMESPACE,
    namespacePeer,
    resources,
    restrictedContainerSecurityContext,
    restrictedPodSecurityContext,
    WORKLOAD_LABELS,
} from "../../lib/k8s";

/** Arguments every data service (Postgres, Redis) takes, whatever its mode. */
export interface DataServiceArgs {
    /** Namespace of the service (the connection Secret goes there; in-cluster, the data service too). */
    namespace: pulumi.Input<string>;
    /** `protect` the data, its volume and its password; retain them on delete. @default false */
    protect?: boolean;
}

/** in-cluster mode: where the StatefulSet's volume comes from and who may connect. */
export interface InClusterPlacement {
    /** StorageClass of the volume. */
    storageClassName: pulumi.Input<string>;
    /** Labels of the pods allowed to connect (NetworkPolicy). @default the api's (`WORKLOAD_LABELS.api`) */
    clientPodLabels?: Record<string, string>;
    /** Namespace allowed to scrape the exporter. @default MONITORING_NAMESPACE ("monitoring") */
    monitoringNamespace?: string;
}

/** Managed mode (RDS, ElastiCache): the VPC, its private subnets and the clients' security group (the EKS cluster's). */
export interface ManagedPlacement {
    vpcId: pulumi.Input<string>;
    subnetIds: pulumi.Input<string>[];
    clientSecurityGroupId: pulumi.Input<string>;
    /** Tags on every AWS resource. @default {} */
    tags?: Record<string, string>;
}

/** Defaults of the in-cluster placement, shared by Postgres and Redis. */
export const IN_CLUSTER_DEFAULTS = {
    clientPodLabels: WORKLOAD_LABELS.api as Record<string, string>,
    monitoringNamespace: MONITORING_NAMESPACE,
};

/** The metrics exporter sidecar of an in-cluster data service (restricted, small, `metrics` port). */
export function exporterContainer(
    image: string,
    port: number,
    env: k8s.types.input.core.v1.EnvVar[],
    readinessPath: string,
): k8s.types.input.core.v1.Container {
    return {
        name: "exporter",
        image,
        ports: [{ name: "metrics", containerPort: port }],
        env,
        securityContext: restrictedContainerSecurityContext(),
        resources: resources({ cpuRequest: "10m", memoryRequest: "32Mi", cpuLimit: "100m", memoryLimit: "64Mi" }),
        readinessProbe: { httpGet: { path: readinessPath, port: "metrics" }, periodSeconds: 10 },
    };
}

export interface ConnectionInfo {
    /** Connection URL with credentials (secret). */
    url: pulumi.Output<string>;
    /** Name of the Kubernetes Secret holding the URL. */
    secretName: pulumi.Output<string>;
    /** The key of the URL in that Secret. */
    secretKey: string;
    /** Host name clients connect to. */
    host: pulumi.Output<string>;
    port: number;
}

export function postgresUrl(p: { user: string; password: string; host: string; port: number; database: string; tls: boolean }): string {
    return `postgres://${encodeURIComponent(p.user)}:${encodeURIComponent(p.password)}@${p.host}:${p.port}/${p.database}${p.tls ? "?sslmode=require" : ""}`;
}

export function redisUrl(p: { password: string; host: string; port: number; tls: boolean }): string {
    return `${p.tls ? "rediss" : "redis"}://:${encodeURIComponent(p.password)}@${p.host}:${p.port}`;
}

/**
 * A generated password. Its inputs are constants: changing them would replace it (a new password),
 * so they never follow config. Alphanumeric only: valid in URLs and as an ElastiCache AUTH token.
 */
export function generatedPassword(name: string, parent: pulumi.Resource, protect: boolean): random.RandomPassword {
    return new random.RandomPassword(name, { length: 40, special: false, minUpper: 2, minLower: 2, minNumeric: 2 }, { parent, protect });
}

/** The Secret the service reads its connection URL from. */
export function connectionSecret(
    name: string,
    args: {
        namespace: pulumi.Input<string>;
        key: string;
        url: pulumi.Output<string>;
        labels: Record<string, string>;
        parent: pulumi.Resource;
    },
): corev1.Secret {
    return new corev1.Secret(
        name,
        {
            metadata: { name, namespace: args.namespace, labels: args.labels },
            type: "Opaque",
            stringData: { [args.key]: pulumi.secret(args.url) },
        },
        { parent: args.parent },
    );
}

/** Ingress of an in-cluster data service: clients on its port, Prometheus on the exporter's. */
export function dataNetworkPolicySpec(
    selector: Record<string, string>,
    port: number,
    exporterPort: number,
    clientPodLabels: Record<string, string>,
    monitoringNamespace: string,
): k8s.types.input.networking.v1.NetworkPolicySpec {
    return {
        podSelector: { matchLabels: { ...selector } },
        policyTypes: ["Ingress"],
        ingress: [
            { from: [{ podSelector: { matchLabels: clientPodLabels } }], ports: [{ protocol: "TCP", port }] },
            { from: [namespacePeer(monitoringNamespace)], ports: [{ protocol: "TCP", port: exporterPort }] },
        ],
    };
}

export interface InClusterDataServiceArgs {
    namespace: pulumi.Input<string>;
    labels: Record<string, string>;
    /** Pod labels the Service, StatefulSet and NetworkPolicy select. */
    selector: Record<string, string>;
    /** The component the objects belong to (they inherit its Kubernetes provider). */
    parent: pulumi.Resource;
    protect: boolean;
    storageClassName: pulumi.Input<string>;
    storageGiB: number;
    /** uid/gid of the image's user (restricted pod context). */
    uid: number;
    /** The data port, named like the main container's port. */
    port: { name: string; number: number };
    exporterPort: number;
    clientPodLabels: Record<string, string>;
    monitoringNamespace: string;
    /** The data container (it mounts the volume `data`; `tmp` is an emptyDir at /tmp) and the exporter sidecar. */
    containers: k8s.types.input.core.v1.Container[];
    /** Volumes besides `data` and `tmp`. */
    extraVolumes?: k8s.types.input.core.v1.Volume[];
    terminationGracePeriodSeconds?: number;
}

/**
 * An in-cluster data service: a standalone PVC (not a volumeClaimTemplate, so resizing it is an
 * in-place update), a ClusterIP Service with the data and `metrics` ports, a one-replica
 * StatefulSet under the restricted pod context, and its NetworkPolicy. The volume and the
 * StatefulSet are protected and retained with `protect`. Returns the in-cluster host name.
 */
export function inClusterDataService(name: string, a: InClusterDataServiceArgs): pulumi.Output<string> {
    const opts = { parent: a.parent };
    const stateful = { ...opts, protect: a.protect, retainOnDelete: a.protect };
    const metadata = { name, namespace: a.namespace, labels: a.labels };
    const pvc = new corev1.PersistentVolumeClaim(
        `${name}-data`,
        {
            metadata: { ...metadata, name: `${name}-data` },
            spec: { accessModes: ["ReadWriteOnce"], storageClassName: a.storageClassName, resources: { requests: { storage: `${a.storageGiB}Gi` } } },
        },
        stateful,
    );
    const service = new corev1.Service(
        `${name}-svc`,
        {
            metadata,
            spec: {
                selector: a.selector,
                ports: [
                    { name: a.port.name, port: a.port.number, targetPort: a.port.name },
                    { name: "metrics", port: a.exporterPort, targetPort: "metrics" },
                ],
            },
        },
        opts,
    );
    new appsv1.StatefulSet(
        `${name}-sts`,
        {
            metadata,
            spec: {
                serviceName: service.metadata.name,
                replicas: 1,
                selector: { matchLabels: a.selector },
                template: {
                    metadata: { labels: a.labels },
                    spec: {
                        automountServiceAccountToken: false,
                        securityContext: restrictedPodSecurityContext(a.uid),
                        terminationGracePeriodSeconds: a.terminationGracePeriodSeconds,
                        containers: a.containers,
                        volumes: [
                            { name: "data", persistentVolumeClaim: { claimName: pvc.metadata.name } },
                            ...(a.extraVolumes ?? []),
                            { name: "tmp", emptyDir: {} },
                        ],
                    },
                },
            },
        },
        stateful,
    );
    new networkingv1.NetworkPolicy(
        `${name}-netpol`,
        { metadata, spec: dataNetworkPolicySpec(a.selector, a.port.number, a.exporterPort, a.clientPodLabels, a.monitoringNamespace) },
        opts,
    );
    return pulumi.interpolate`${service.metadata.name}.${service.metadata.namespace}.svc.cluster.local`;
}
