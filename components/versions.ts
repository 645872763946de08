/**
 * Every pinned version in the program: Kubernetes minors, EKS add-ons, Helm charts, images.
 * Change a version here and nowhere else; tests read these constants, so a bump is one reviewed diff.
 *
 * EKS add-on versions are per Kubernetes minor (kube-proxy and coredns must match the control
 * plane). Refresh them with:
 *   aws eks describe-addon-versions --kubernetes-version <minor> --addon-name <name> \
 *     --query 'addons[].addonVersions[0].addonVersion'
 */

/** The EKS managed add-ons this program installs on every cluster. */
export const EKS_ADDON_NAMES = ["vpc-cni", "coredns", "kube-proxy", "aws-ebs-csi-driver", "metrics-server"] as const;
export type EksAddonName = (typeof EKS_ADDON_NAMES)[number];

interface EksVersionPins {
    /** cluster-autoscaler image tag built for this Kubernetes minor. */
    clusterAutoscalerTag: string;
    addons: Record<EksAddonName, string>;
}

/** Kubernetes minor versions supported on EKS by this program, with everything pinned to each. */
export const EKS_VERSIONS: Record<"1.33" | "1.34" | "1.35", EksVersionPins> = {
    "1.33": {
        clusterAutoscalerTag: "v1.33.6",
        addons: {
            "vpc-cni": "v1.20.4-eksbuild.2",
            coredns: "v1.12.4-eksbuild.1",
            "kube-proxy": "v1.33.3-eksbuild.6",
            "aws-ebs-csi-driver": "v1.50.1-eksbuild.1",
            "metrics-server": "v0.8.0-eksbuild.2",
        },
    },
    "1.34": {
        clusterAutoscalerTag: "v1.34.5",
        addons: {
            "vpc-cni": "v1.20.4-eksbuild.2",
            coredns: "v1.12.4-eksbuild.1",
            "kube-proxy": "v1.34.0-eksbuild.2",
            "aws-ebs-csi-driver": "v1.50.1-eksbuild.1",
            "metrics-server": "v0.8.0-eksbuild.2",
        },
    },
    "1.35": {
        clusterAutoscalerTag: "v1.35.2",
        addons: {
            "vpc-cni": "v1.21.1-eksbuild.3",
            coredns: "v1.13.2-eksbuild.1",
            "kube-proxy": "v1.35.0-eksbuild.2",
            "aws-ebs-csi-driver": "v1.50.1-eksbuild.1",
            "metrics-server": "v0.8.0-eksbuild.2",
        },
    },
};

export type EksVersion = keyof typeof EKS_VERSIONS;
export const SUPPORTED_EKS_VERSIONS = Object.keys(EKS_VERSIONS) as EksVersion[];

/**
 * Helm charts of third-party software: repository (absent for an OCI chart, whose `chart` is the
 * full `oci://` reference), chart name and exact version. Each has a committed values key list in
 * tools/chart-keys/ (`npm run chart-keys`), which tests check every value the program sets against.
 */
export const CHARTS = {
    clusterAutoscaler: { repo: "https://kubernetes.github.io/autoscaler", chart: "cluster-autoscaler", version: "9.59.0" },
    /** AWS Load Balancer Controller: provisions the Gateway's NLB (`aws-load-balancer-type: external`). */
    awsLoadBalancerController: { repo: "https://aws.github.io/eks-charts", chart: "aws-load-balancer-controller", version: "1.17.1" },
    /** Envoy Gateway v1.9 (Gateway API v1.6.1; Kubernetes 1.33-1.36 in its compatibility matrix). */
    envoyGateway: { chart: "oci://docker.io/envoyproxy/gateway-helm", version: "v1.9.0" },
    certManager: { repo: "https://charts.jetstack.io", chart: "cert-manager", version: "v1.21.1" },
    externalDns: { repo: "https://kubernetes-sigs.github.io/external-dns", chart: "external-dns", version: "1.21.1" },
    kubePrometheusStack: { repo: "https://prometheus-community.github.io/helm-charts", chart: "kube-prometheus-stack", version: "79.12.0" },
    prometheusAdapter: { repo: "https://prometheus-community.github.io/helm-charts", chart: "prometheus-adapter", version: "5.3.0" },
    fluentBit: { repo: "https://fluent.github.io/helm-charts", chart: "fluent-bit", version: "0.58.1" },
} as const;

/** Container images of third-party software we run as plain Kubernetes workloads. */
export const IMAGES = {
    postgres: "docker.io/library/postgres:16.10-bookworm",
    postgresExporter: "quay.io/prometheuscommunity/postgres-exporter:v0.19.1",
    redis: "docker.io/library/redis:7.4.6-bookworm",
    redisExporter: "docker.io/oliver006/redis_exporter:v1.80.0",
    /** Runs the OpenSearch bootstrap job (stdlib-only Python: SigV4 requests with IRSA credentials). */
    python: "docker.io/library/python:3.12.12-slim-bookworm",
    /**
     * kube-prometheus-stack's CRD upgrade job unpacks the CRDs with busybox (the chart defaults to "latest").
     * 1.37.0 is the official image's stable line (docker-library/official-images library/busybox at 37079fb:
     * amd64 and arm64v8 among its architectures); 1.38.0 is tagged "unstable" there.
     */
    busyboxTag: "1.37.0",
} as const;

/** Managed data services: engine versions (a change is an in-place upgrade, reviewed like any other). */
export const ENGINES = {
    opensearch: { version: "OpenSearch_2.19" },
    rdsPostgres: { engine: "postgres", version: "16.10", parameterFamily: "postgres16" },
    elasticacheRedis: { engine: "redis", version: "7.1", parameterFamily: "redis7" },
} as const;
