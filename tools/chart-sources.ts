/**
 * Where each pinned chart's source lives, and which of its values are free-form maps: the one
 * place both the key-list generator (tools/chart-keys.ts) and the values test read.
 *
 * A free-form path is a value the chart passes through as a whole (resources, annotations, a
 * config file, extra arguments): any key below it is accepted. Everything else the program sets
 * must be a key path of the chart's values.yaml, or one its templates read (`.Values.a.b`).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { CHARTS } from "../components/versions";

export type ChartKey = keyof typeof CHARTS;

/** One chart directory at one git ref of a GitHub repository. */
export interface ChartDir {
    /** GitHub owner/name. */
    repo: string;
    /** Tag (or commit) of the chart's release. */
    ref: string;
    /** Chart directory inside the repository. */
    dir: string;
    /** values file name. Default values.yaml. */
    valuesFile?: string;
}

export interface ChartSource extends ChartDir {
    /** The chart's own Chart.yaml carries the pinned version (false where release tooling stamps it). */
    chartYamlHasVersion: boolean;
    /** Subcharts whose values are set through the parent, by their values prefix (name or alias). */
    subcharts?: Record<string, ChartDir>;
    /** Free-form maps, as dotted key paths from the chart's values root. */
    freeForm: string[];
}

export const CHART_SOURCES: Record<ChartKey, ChartSource> = {
    clusterAutoscaler: {
        repo: "kubernetes/autoscaler",
        ref: `cluster-autoscaler-chart-${CHARTS.clusterAutoscaler.version}`,
        dir: "cluster-autoscaler/charts/cluster-autoscaler",
        chartYamlHasVersion: true,
        // extraArgs become `--<key>=<value>` flags.
        freeForm: ["resources", "extraArgs", "rbac.serviceAccount.annotations"],
    },
    awsLoadBalancerController: {
        repo: "kubernetes-sigs/aws-load-balancer-controller",
        // Chart 1.17.1 is released from the controller's tag v2.17.1 (Chart.yaml: version 1.17.1, appVersion v2.17.1).
        ref: "v2.17.1",
        dir: "helm/aws-load-balancer-controller",
        chartYamlHasVersion: true,
        freeForm: ["resources", "serviceAccount.annotations", "podDisruptionBudget"],
    },
    envoyGateway: {
        repo: "envoyproxy/gateway",
        ref: CHARTS.envoyGateway.version,
        dir: "charts/gateway-helm",
        // Released charts are rendered from values.tmpl.yaml (image tags substituted).
        valuesFile: "values.tmpl.yaml",
        chartYamlHasVersion: false,
        subcharts: { crds: { repo: "envoyproxy/gateway", ref: CHARTS.envoyGateway.version, dir: "charts/gateway-helm/charts/crds" } },
        // `config.envoyGateway` is the EnvoyGateway configuration (api/v1alpha1/envoygateway_types.go), written as a file.
        freeForm: ["deployment.envoyGateway.resources", "config.envoyGateway"],
    },
    certManager: {
        repo: "cert-manager/cert-manager",
        ref: CHARTS.certManager.version,
        dir: "deploy/charts/cert-manager",
        chartYamlHasVersion: false,
        // `config` is the ControllerConfiguration (pkg/apis/config/controller/v1alpha1/types.go), written as a file.
        freeForm: ["resources", "config"],
    },
    externalDns: {
        repo: "kubernetes-sigs/external-dns",
        ref: `external-dns-helm-chart-${CHARTS.externalDns.version}`,
        dir: "charts/external-dns",
        chartYamlHasVersion: true,
        // `extraArgs` becomes `--<key>=<value>` flags (templates/deployment.yaml).
        freeForm: ["resources", "extraArgs", "serviceAccount.annotations"],
    },
    kubePrometheusStack: {
        repo: "prometheus-community/helm-charts",
        ref: `kube-prometheus-stack-${CHARTS.kubePrometheusStack.version}`,
        dir: "charts/kube-prometheus-stack",
        chartYamlHasVersion: true,
        // Versions from the chart's Chart.yaml dependencies at that tag.
        subcharts: {
            crds: {
                repo: "prometheus-community/helm-charts",
                ref: `kube-prometheus-stack-${CHARTS.kubePrometheusStack.version}`,
                dir: "charts/kube-prometheus-stack/charts/crds",
            },
            grafana: { repo: "grafana/helm-charts", ref: "grafana-10.3.0", dir: "charts/grafana" },
            "kube-state-metrics": { repo: "prometheus-community/helm-charts", ref: "kube-state-metrics-6.4.2", dir: "charts/kube-state-metrics" },
            "prometheus-node-exporter": {
                repo: "prometheus-community/helm-charts",
                ref: "prometheus-node-exporter-4.49.2",
                dir: "charts/prometheus-node-exporter",
            },
        },
        // Alertmanager's configuration file, and fields passed through to the Prometheus/Alertmanager CRs.
        freeForm: [
            "crds.upgradeJob.resources",
            "alertmanager.config",
            "alertmanager.alertmanagerSpec.resources",
            "prometheus.prometheusSpec.resources",
            "prometheus.prometheusSpec.storageSpec",
            "grafana.resources",
        ],
    },
    prometheusAdapter: {
        repo: "prometheus-community/helm-charts",
        ref: `prometheus-adapter-${CHARTS.prometheusAdapter.version}`,
        dir: "charts/prometheus-adapter",
        chartYamlHasVersion: true,
        freeForm: ["resources"],
    },
    fluentBit: {
        repo: "fluent/helm-charts",
        ref: `fluent-bit-${CHARTS.fluentBit.version}`,
        dir: "charts/fluent-bit",
        chartYamlHasVersion: true,
        // The service account's annotations carry IRSA.
        freeForm: ["resources", "serviceAccount.annotations"],
    },
};

export const CHART_KEYS_DIR = path.join(__dirname, "chart-keys");

/** The committed key list of a chart version. */
export interface ChartKeyList {
    chart: string;
    version: string;
    /** Where the keys come from: repository, ref, the commit it resolved to, the values file(s). */
    sources: { prefix: string; repo: string; ref: string; commit: string; values: string; templates: string }[];
    /** Dotted key paths ("a.b.c"; a segment holding a dot is written [seg]). */
    keys: string[];
}

/** The key-list file of a pinned chart: `<chart name>-<version>.json` (the OCI reference's last segment). */
export function keyListFile(pin: { chart: string; version: string }): string {
    return path.join(CHART_KEYS_DIR, `${pin.chart.split("/").pop()}-${pin.version}.json`);
}

export function readKeyList(pin: { chart: string; version: string }): ChartKeyList {
    return JSON.parse(fs.readFileSync(keyListFile(pin), "utf8")) as ChartKeyList;
}

/** A path's dotted form. */
export function dotted(segments: readonly string[]): string {
    return segments.map((s) => (s.includes(".") ? `[${s}]` : s)).join(".");
}

/** Every leaf key path of a values object (arrays and empty maps are leaves). */
export function valuePaths(values: unknown, prefix: string[] = []): string[][] {
    if (values === null || typeof values !== "object" || Array.isArray(values)) return [prefix];
    const entries = Object.entries(values as Record<string, unknown>);
    if (entries.length === 0) return [prefix];
    return entries.flatMap(([k, v]) => valuePaths(v, [...prefix, k]));
}

/**
 * The values paths of `values` that the chart version does not have: neither a key of its
 * values.yaml (or one its templates read) nor inside a free-form map. Empty = all known.
 */
export function unknownValuePaths(values: unknown, keys: ReadonlySet<string>, freeForm: readonly string[]): string[] {
    return valuePaths(values)
        .filter((p) => p.length > 0)
        .filter((p) => !freeForm.some((f) => dotted(p) === f || dotted(p).startsWith(`${f}.`)))
        .filter((p) => !keys.has(dotted(p)))
        .map(dotted);
}
