import * as corev1 from "@pulumi/kubernetes/core/v1";
import { CustomResource } from "@pulumi/kubernetes/apiextensions/customResource";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import * as fs from "node:fs";
import * as path from "node:path";
import * as YAML from "yaml";
import { CHARTS, IMAGES } from "../../versions";
import { k8sLabels } from "../../../lib/naming";
import { chartRelease } from "../../helm";

export interface ScrapeTarget {
    /** Service name (also the Prometheus job). */
    service: string;
    namespace: pulumi.Input<string>;
    /** Labels selecting the Service. */
    selector: Record<string, string>;
    /** Service (or pod) port name. Default "metrics". */
    port?: string;
    /** Metrics path. Default "/metrics". */
    path?: string;
    /** Scrape the Service's endpoints (ServiceMonitor) or the selected pods directly (PodMonitor, for pods no Service exposes). Default "service". */
    kind?: "service" | "pod";
}

export interface MonitoringArgs {
    /** The namespace (created by the caller). */
    namespace: pulumi.Input<string>;
    /** Prometheus retention, e.g. "15d". */
    retention: string;
    /** Prometheus volume in GiB. */
    storageGiB: number;
    storageClassName: pulumi.Input<string>;
    /** Prometheus (and Alertmanager) replicas. */
    replicas: number;
    /** Where Alertmanager sends alerts: nowhere, or a webhook / Slack URL (a secret). */
    alerts: { receiver: "none" } | { receiver: "webhook" | "slack"; url: pulumi.Output<string> };
    /** The services scraped through ServiceMonitors. */
    targets: ScrapeTarget[];
    /** Directory of PrometheusRule bodies (*.yaml) and dashboards (*.json). Default this module's. */
    rulesDir?: string;
    dashboardsDir?: string;
    /** Resources of Prometheus. Default 250m/1Gi to 1/2Gi. */
    prometheusResources?: { requests: Record<string, string>; limits: Record<string, string> };
}

export const RELEASE_NAME = "kube-prometheus-stack";
export const PROMETHEUS_SERVICE = `${RELEASE_NAME}-prometheus`;
/** Grafana's Service (the chart's `<release>-grafana`, port 80), the backend of its HTTPRoute. */
export const GRAFANA_SERVICE = { name: `${RELEASE_NAME}-grafana`, port: 80 } as const;
const DEFAULTS = {
    rulesDir: path.join(__dirname, "rules"),
    dashboardsDir: path.join(__dirname, "dashboards"),
    prometheusResources: { requests: { cpu: "250m", memory: "1Gi" }, limits: { cpu: "1", memory: "2Gi" } },
};
/** Where Alertmanager finds the receiver URL (a mounted Secret; the URL never enters the config). */
export const ALERT_URL_SECRET = "alertmanager-receiver";
export const ALERT_URL_FILE = `/etc/alertmanager/secrets/${ALERT_URL_SECRET}/url`;

/** Alertmanager routing: everything to one receiver, critical alerts repeated sooner. */
export function alertmanagerConfig(receiver: MonitoringArgs["alerts"]["receiver"]): Record<string, unknown> {
    const target =
        receiver === "slack"
            ? {
                  name: "platform",
                  slack_configs: [
                      {
                          api_url_file: ALERT_URL_FILE,
                          send_resolved: true,
                          title: "{{ .CommonAnnotations.summary }}",
                          text: "{{ .CommonAnnotations.description }}",
                      },
                  ],
              }
            : receiver === "webhook"
              ? { name: "platform", webhook_configs: [{ url_file: ALERT_URL_FILE, send_resolved: true }] }
              : { name: "platform" };
    return {
        route: {
            receiver: "platform",
            group_by: ["alertname", "namespace", "job"],
            group_wait: "30s",
            group_interval: "5m",
            repeat_interval: "4h",
            routes: [{ matchers: ['severity="critical"'], receiver: "platform", repeat_interval: "1h" }],
        },
        receivers: [target],
        inhibit_rules: [{ source_matchers: ['severity="critical"'], target_matchers: ['severity="warning"'], equal: ["alertname", "namespace"] }],
    };
}

/** kube-prometheus-stack values for a stack. */
export function prometheusStackValues(a: Omit<MonitoringArgs, "namespace" | "targets"> & { storageClassName: string }): Record<string, unknown> {
    const ha = a.replicas > 1;
    return {
        // Helm installs crds/ once and never upgrades them; the chart's pre-install/pre-upgrade hook
        // Job server-side-applies the CRDs of the pinned version (forceConflicts: the CRDs Helm created
        // belong to another field manager). Keys as in the chart's values.yaml at the pinned version.
        crds: {
            enabled: true,
            upgradeJob: {
                enabled: true,
                forceConflicts: true,
                image: { busybox: { tag: IMAGES.busyboxTag } },
                resources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { memory: "256Mi" } },
            },
        },
        // Pick up every ServiceMonitor and PrometheusRule, not only the chart's own.
        prometheus: {
            prometheusSpec: {
                replicas: a.replicas,
                retention: a.retention,
                serviceMonitorSelectorNilUsesHelmValues: false,
                podMonitorSelectorNilUsesHelmValues: false,
                ruleSelectorNilUsesHelmValues: false,
                resources: a.prometheusResources ?? DEFAULTS.prometheusResources,
                storageSpec: {
                    volumeClaimTemplate: {
                        spec: {
                            storageClassName: a.storageClassName,
                            accessModes: ["ReadWriteOnce"],
                            resources: { requests: { storage: `${a.storageGiB}Gi` } },
                        },
                    },
                },
                podAntiAffinity: ha ? "soft" : "",
            },
        },
        alertmanager: {
            config: alertmanagerConfig(a.alerts.receiver),
            alertmanagerSpec: {
                replicas: ha ? 2 : 1,
                secrets: a.alerts.receiver === "none" ? [] : [ALERT_URL_SECRET],
                resources: { requests: { cpu: "10m", memory: "64Mi" }, limits: { memory: "256Mi" } },
            },
        },
        grafana: {
            admin: { existingSecret: "grafana-admin", userKey: "admin-user", passwordKey: "admin-password" },
            persistence: { enabled: true, type: "pvc", storageClassName: a.storageClassName, size: "10Gi" },
            sidecar: { dashboards: { enabled: true, label: "grafana_dashboard", labelValue: "1", searchNamespace: "ALL" } },
            // Exposed (when at all) by an HTTPRoute on the platform's Gateway, never by an Ingress.
            ingress: { enabled: false },
            resources: { requests: { cpu: "50m", memory: "128Mi" }, limits: { memory: "512Mi" } },
        },
        kubeStateMetrics: { enabled: true },
        nodeExporter: { enabled: true },
    };
}

/** The Pods custom metric prometheus-adapter serves and the api's HPA scales on: generations per second per pod. */
export const GENERATION_RATE_METRIC = "code_generation_requests_per_second";

/** prometheus-adapter values: serves GENERATION_RATE_METRIC as a Pods custom metric. */
export function prometheusAdapterValues(namespace: string): Record<string, unknown> {
    return {
        prometheus: { url: `http://${PROMETHEUS_SERVICE}.${namespace}.svc`, port: 9090 },
        rules: {
            default: false,
            custom: [
                {
                    seriesQuery: 'code_generation_attempts_total{namespace!="",pod!=""}',
                    resources: { overrides: { namespace: { resource: "namespace" }, pod: { resource: "pod" } } },
                    name: { matches: "^code_generation_attempts_total$", as: GENERATION_RATE_METRIC },
                    metricsQuery: "sum(rate(<<.Series>>{<<.LabelMatchers>>}[2m])) by (<<.GroupBy>>)",
                },
            ],
        },
        resources: { requests: { cpu: "50m", memory: "128Mi" }, limits: { memory: "256Mi" } },
    };
}

/**
 * Files read once per process and directory: a process evaluates the program many times (the test
 * suite, the evaluation pool's workers), and parsing the rules was ~20 ms of each evaluation. Frozen,
 * so a caller that mutated what it got would fail instead of changing the next evaluation's resources.
 */
const assetCache = new Map<string, unknown>();
function cached<T>(key: string, load: () => T): T {
    if (!assetCache.has(key)) assetCache.set(key, deepFreeze(load()));
    return assetCache.get(key) as T;
}
function deepFreeze<T>(value: T): T {
    if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
        Object.freeze(value);
        for (const v of Object.values(value)) deepFreeze(v);
    }
    return value;
}

/** The rule files: name (file stem) -> PrometheusRule spec (`groups`). */
export function loadRules(dir: string): Readonly<Record<string, { groups: unknown[] }>> {
    return cached(`rules ${dir}`, () =>
        Object.fromEntries(
            fs
                .readdirSync(dir)
                .filter((f) => f.endsWith(".yaml"))
                .sort()
                .map((f) => [path.basename(f, ".yaml"), YAML.parse(fs.readFileSync(path.join(dir, f), "utf8")) as { groups: unknown[] }]),
        ),
    );
}

/** The dashboards: name (file stem) -> JSON text. */
export function loadDashboards(dir: string): Readonly<Record<string, string>> {
    return cached(`dashboards ${dir}`, () =>
        Object.fromEntries(
            fs
                .readdirSync(dir)
                .filter((f) => f.endsWith(".json"))
                .sort()
                .map((f) => [path.basename(f, ".json"), fs.readFileSync(path.join(dir, f), "utf8")]),
        ),
    );
}

/**
 * Monitoring: kube-prometheus-stack (Prometheus, Alertmanager, Grafana, kube-state-metrics,
 * node-exporter) with our ServiceMonitors, PrometheusRules and dashboards, and prometheus-adapter
 * serving the HPA's custom metric.
 */
export class Monitoring extends pulumi.ComponentResource {
    public readonly grafanaAdminPassword: pulumi.Output<string>;
    public readonly prometheusUrl: pulumi.Output<string>;

    constructor(name: string, args: MonitoringArgs, opts?: pulumi.ComponentResourceOptions) {
        const a = { ...DEFAULTS, ...args };
        if (!/^[0-9]+(s|m|h|d|w|y)$/.test(a.retention)) throw new Error(`Monitoring ${name}: retention "${a.retention}" is not a Prometheus duration`);
        super("cli-platform:monitoring:Monitoring", name, {}, opts);
        const k8sOpts = { parent: this };
        const labels = k8sLabels("monitoring", "monitoring", name);

        const password = new random.RandomPassword(`${name}-grafana-admin`, { length: 32, special: false }, { parent: this });
        const admin = new corev1.Secret(
            `${name}-grafana-admin`,
            {
                metadata: { name: "grafana-admin", namespace: a.namespace, labels },
                type: "Opaque",
                stringData: { "admin-user": "admin", "admin-password": password.result },
            },
            k8sOpts,
        );
        const secrets: pulumi.Resource[] = [admin];
        if (a.alerts.receiver !== "none") {
            secrets.push(
                new corev1.Secret(
                    `${name}-alert-receiver`,
                    {
                        metadata: { name: ALERT_URL_SECRET, namespace: a.namespace, labels },
                        type: "Opaque",
                        stringData: { url: pulumi.secret(a.alerts.url) },
                    },
                    k8sOpts,
                ),
            );
        }

        const stack = chartRelease(
            `${name}-stack`,
            CHARTS.kubePrometheusStack,
            {
                name: RELEASE_NAME,
                namespace: a.namespace,
                // Helm creates the CRDs from the chart's crds/ on install (no client-side apply, so no annotation
                // size limit); the chart's upgrade Job (crds.upgradeJob above) brings them to each new version.
                skipCrds: false,
                values: pulumi.output(a.storageClassName).apply((storageClassName) => prometheusStackValues({ ...a, storageClassName })),
                timeout: 900,
            },
            { ...k8sOpts, dependsOn: secrets },
        );

        chartRelease(
            `${name}-adapter`,
            CHARTS.prometheusAdapter,
            {
                name: "prometheus-adapter",
                namespace: a.namespace,
                values: pulumi.output(a.namespace).apply(prometheusAdapterValues),
            },
            { ...k8sOpts, dependsOn: [stack] },
        );

        for (const t of a.targets) {
            const endpoint = { port: t.port ?? "metrics", path: t.path ?? "/metrics", interval: "30s" };
            new CustomResource(
                `${name}-${t.kind === "pod" ? "pm" : "sm"}-${t.service}`,
                t.kind === "pod"
                    ? {
                          apiVersion: "monitoring.coreos.com/v1",
                          kind: "PodMonitor",
                          metadata: { name: t.service, namespace: t.namespace, labels },
                          spec: { jobLabel: "app.kubernetes.io/name", selector: { matchLabels: t.selector }, podMetricsEndpoints: [endpoint] },
                      }
                    : {
                          apiVersion: "monitoring.coreos.com/v1",
                          kind: "ServiceMonitor",
                          metadata: { name: t.service, namespace: t.namespace, labels },
                          spec: { jobLabel: "app.kubernetes.io/name", selector: { matchLabels: t.selector }, endpoints: [endpoint] },
                      },
                { ...k8sOpts, dependsOn: [stack] },
            );
        }
        for (const [rule, body] of Object.entries(loadRules(a.rulesDir))) {
            new CustomResource(
                `${name}-rules-${rule}`,
                { apiVersion: "monitoring.coreos.com/v1", kind: "PrometheusRule", metadata: { name: rule, namespace: a.namespace, labels }, spec: body },
                { ...k8sOpts, dependsOn: [stack] },
            );
        }
        for (const [dashboard, json] of Object.entries(loadDashboards(a.dashboardsDir))) {
            new corev1.ConfigMap(
                `${name}-dashboard-${dashboard}`,
                {
                    metadata: { name: `dashboard-${dashboard}`, namespace: a.namespace, labels: { ...labels, grafana_dashboard: "1" } },
                    data: { [`${dashboard}.json`]: json },
                },
                k8sOpts,
            );
        }

        this.grafanaAdminPassword = pulumi.secret(password.result);
        this.prometheusUrl = pulumi.interpolate`http://${PROMETHEUS_SERVICE}.${a.namespace}.svc:9090`;
        this.registerOutputs({ grafanaAdminPassword: this.grafanaAdminPassword, prometheusUrl: this.prometheusUrl });
    }
}
