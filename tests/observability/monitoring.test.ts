import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parser } from "@prometheus-io/lezer-promql";
import * as YAML from "yaml";
import { CHARTS } from "../../components/versions";
import { alertmanagerConfig, ALERT_URL_FILE, loadDashboards, loadRules, prometheusAdapterValues } from "../../components/observability/monitoring/monitoring";
import { createApiMetrics, createRunnerMetrics } from "../../service/src/metrics";
import { byType, named, meta, type Obj, one, patchSection, type RecordedResource, render, renderWith, ROOT, SECRET, STACKS } from "../harness";

const RULES_DIR = path.join(ROOT, "components", "observability", "monitoring", "rules");
const stackValues = (r: RecordedResource) => r.inputs.values as { prometheus: { prometheusSpec: Obj }; alertmanager: Obj; grafana: Obj };

function promtool(args: string[], cwd: string): string {
    try {
        return execFileSync("promtool", args, { cwd, encoding: "utf8", stdio: "pipe" });
    } catch (err) {
        const e = err as { code?: string; stdout?: string; stderr?: string };
        if (e.code === "ENOENT") assert.fail("promtool is not installed: run `npm run setup` (apt-get install prometheus)");
        assert.fail(`promtool ${args.join(" ")} failed:\n${e.stdout}${e.stderr}`);
    }
}

/** Metric names a PromQL expression selects; throws on a syntax error. */
function metricsOf(expr: string): string[] {
    const tree = parser.parse(expr);
    const names: string[] = [];
    const cursor = tree.cursor();
    do {
        if (cursor.type.isError) throw new Error(`PromQL syntax error at ${cursor.from} in: ${expr}`);
        if (cursor.name === "Identifier" && cursor.node.parent?.name === "VectorSelector") names.push(expr.slice(cursor.from, cursor.to));
    } while (cursor.next());
    return names;
}

/** Every metric the platform's own processes, its exporters, kube-state-metrics and our recording rules expose. */
async function knownMetrics(): Promise<Set<string>> {
    const known = new Set<string>();
    for (const registry of [createApiMetrics(false).registry, createRunnerMetrics(false).registry]) {
        for (const m of await registry.getMetricsAsJSON()) {
            known.add(m.name);
            if (String(m.type) === "histogram") for (const s of ["_bucket", "_sum", "_count"]) known.add(m.name + s);
        }
    }
    // postgres-exporter and redis_exporter series the dashboards and rules use.
    for (const m of ["pg_up", "redis_up", "redis_connected_clients", "redis_memory_used_bytes", "up"]) known.add(m);
    for (const body of Object.values(loadRules(RULES_DIR)))
        for (const g of body.groups as { rules: { record?: string }[] }[]) for (const r of g.rules) if (r.record) known.add(r.record);
    return known;
}
const fromKubeStateMetricsOrKubelet = (m: string) => m.startsWith("kube_") || m.startsWith("kubelet_volume_stats_");

describe("Monitoring", () => {
    describe("kube-prometheus-stack values per stack", () => {
        const expected = {
            dev: ["3d", "10Gi", 1, "gp3-encrypted"],
            staging: ["14d", "20Gi", 1, "gp3-encrypted"],
            prod: ["30d", "100Gi", 2, "gp3-encrypted"],
            local: ["1d", "2Gi", 1, "standard"],
        } as const;
        for (const stack of STACKS) {
            it(`${stack}: retention, storage, replicas, selectors that pick up our objects`, async () => {
                const r = await render(stack);
                const release = one(r, "kubernetes:helm.sh/v3:Release", "monitoring-stack");
                assert.equal(release.inputs.version, CHARTS.kubePrometheusStack.version);
                assert.equal(release.inputs.namespace, "monitoring");
                const spec = stackValues(release).prometheus.prometheusSpec as Obj & {
                    storageSpec: { volumeClaimTemplate: { spec: { storageClassName: string; resources: { requests: { storage: string } } } } };
                };
                const [retention, size, replicas, sc] = expected[stack];
                assert.equal(spec.retention, retention);
                assert.equal(spec.replicas, replicas);
                assert.equal(spec.storageSpec.volumeClaimTemplate.spec.resources.requests.storage, size);
                assert.equal(spec.storageSpec.volumeClaimTemplate.spec.storageClassName, sc);
                assert.deepEqual([spec.serviceMonitorSelectorNilUsesHelmValues, spec.ruleSelectorNilUsesHelmValues], [false, false]);
                assert.ok((spec.resources as { limits: Obj }).limits.memory);
                const grafana = stackValues(release).grafana as { admin: Obj; persistence: Obj; sidecar: { dashboards: Obj } };
                assert.deepEqual(grafana.admin, { existingSecret: "grafana-admin", userKey: "admin-user", passwordKey: "admin-password" });
                assert.equal(grafana.persistence.enabled, true);
                assert.deepEqual(grafana.sidecar.dashboards, { enabled: true, label: "grafana_dashboard", labelValue: "1", searchNamespace: "ALL" });
                const ns = named(r, "kubernetes:core/v1:Namespace", "monitoring");
                assert.equal(meta(ns).labels["pod-security.kubernetes.io/enforce"], "privileged", "node-exporter needs host access");
            });
        }
    });

    it("a chart bump upgrades the CRDs: the chart's pre-upgrade Job server-side-applies them, forcing conflicts with Helm's create, on a pinned busybox", async () => {
        for (const stack of STACKS) {
            const release = one(await render(stack), "kubernetes:helm.sh/v3:Release", "monitoring-stack");
            const crds = (release.inputs.values as { crds: unknown }).crds as {
                enabled: boolean;
                upgradeJob: { enabled: boolean; forceConflicts: boolean; image: { busybox: { tag: string } } };
            };
            assert.equal(release.inputs.skipCrds, false, stack);
            assert.equal(crds.enabled, true, stack);
            assert.equal(crds.upgradeJob.enabled, true, stack);
            assert.equal(crds.upgradeJob.forceConflicts, true, stack);
            assert.equal(crds.upgradeJob.image.busybox.tag, "1.37.0", stack);
        }
    });

    it("Grafana's admin password is generated, kept in a Secret and exported only as a secret", async () => {
        const r = await render("dev");
        const secret = named(r, "kubernetes:core/v1:Secret", "grafana-admin");
        // The whole map is secret on the wire: both keys are masked.
        assert.deepEqual(secret.inputs.stringData, { "admin-user": SECRET, "admin-password": SECRET });
        assert.equal(r.outputs.grafanaAdminPassword, SECRET);
    });

    it("Alertmanager: no receiver in dev; a Slack receiver reads its URL from a mounted Secret, never from values", async () => {
        const dev = stackValues(one(await render("dev"), "kubernetes:helm.sh/v3:Release", "monitoring-stack")).alertmanager as { config: { receivers: Obj[] } };
        assert.deepEqual(dev.config.receivers, [{ name: "platform" }]);
        const r = await renderWith(
            "prod",
            {
                ...patchSection("prod", "cli-platform:monitoring", { alertReceiver: "slack" }),
                "cli-platform:alertWebhookUrl": "https://hooks.slack.com/services/T000/B000/XXXX",
            },
            { secretKeys: ["cli-platform:alertWebhookUrl"] },
        );
        const am = stackValues(one(r, "kubernetes:helm.sh/v3:Release", "monitoring-stack")).alertmanager as {
            config: { receivers: { slack_configs: Obj[] }[] };
            alertmanagerSpec: { secrets: string[] };
        };
        assert.equal(am.config.receivers[0].slack_configs[0].api_url_file, ALERT_URL_FILE);
        assert.deepEqual(am.alertmanagerSpec.secrets, ["alertmanager-receiver"]);
        const secret = named(r, "kubernetes:core/v1:Secret", "alertmanager-receiver");
        assert.deepEqual(secret.inputs.stringData, { url: SECRET });
        assert.ok(!JSON.stringify(r.resources).includes("hooks.slack.com"), "the webhook URL leaked");
        assert.deepEqual((alertmanagerConfig("webhook").receivers as Obj[])[0], {
            name: "platform",
            webhook_configs: [{ url_file: ALERT_URL_FILE, send_resolved: true }],
        });
    });

    it("ServiceMonitors scrape the api, the runner, the in-cluster exporters and the Envoy Gateway controller on their metrics ports", async () => {
        const monitors = (stack: "dev" | "prod") =>
            render(stack).then((r) =>
                byType(r, "kubernetes:monitoring.coreos.com/v1:ServiceMonitor")
                    .map((m) => [meta(m).name, meta(m).namespace, (m.inputs.spec as { endpoints: { port: string }[] }).endpoints[0].port])
                    .sort(),
            );
        assert.deepEqual(await monitors("dev"), [
            ["cli-api", "cli-platform", "metrics"],
            ["cli-runner", "cli-platform", "metrics"],
            ["envoy-gateway", "envoy-gateway-system", "metrics"],
            ["postgres", "cli-platform", "metrics"],
            ["redis", "cli-platform", "metrics"],
        ]);
        assert.deepEqual(await monitors("prod"), [
            ["cli-api", "cli-platform", "metrics"],
            ["cli-runner", "cli-platform", "metrics"],
            ["envoy-gateway", "envoy-gateway-system", "metrics"],
        ]);
    });

    it("each rule file is deployed as a PrometheusRule with the file's body", async () => {
        const r = await render("prod");
        const rules = byType(r, "kubernetes:monitoring.coreos.com/v1:PrometheusRule");
        const files = loadRules(RULES_DIR);
        assert.deepEqual(rules.map((x) => meta(x).name).sort(), Object.keys(files).sort());
        for (const x of rules) assert.deepEqual(x.inputs.spec, files[meta(x).name]);
    });

    it("promtool check rules passes and promtool test rules passes (a firing and a silent case per alert)", () => {
        const files = fs.readdirSync(RULES_DIR).filter((f) => f.endsWith(".yaml"));
        assert.match(promtool(["check", "rules", ...files], RULES_DIR), /SUCCESS/);
        const testsDir = path.join(ROOT, "components", "observability", "monitoring", "tests");
        const tests = fs.readdirSync(testsDir).filter((f) => f.endsWith(".test.yaml"));
        assert.match(promtool(["test", "rules", ...tests], testsDir), /SUCCESS/);
        // Every alert has a firing and a silent case in the unit tests.
        const testText = tests.map((t) => fs.readFileSync(path.join(testsDir, t), "utf8")).join("\n");
        for (const alert of alerts()) {
            const cases = [...testText.matchAll(new RegExp(`alertname: ${alert.alert}\\n\\s+exp_alerts:(.*)`, "g"))].map((m) => m[1].trim());
            assert.ok(cases.includes("[]"), `${alert.alert}: no silent case`);
            assert.ok(cases.includes(""), `${alert.alert}: no firing case`);
        }
    });

    function alerts(): { alert: string; labels: Record<string, string>; annotations: Record<string, string> }[] {
        return Object.values(loadRules(RULES_DIR)).flatMap((b) =>
            (b.groups as { rules: { alert?: string; labels: Record<string, string>; annotations: Record<string, string> }[] }[]).flatMap((g) =>
                g.rules.filter((r) => r.alert),
            ),
        ) as never;
    }

    it("every alert has severity, summary, description and a runbook entry", () => {
        const runbook = fs.readFileSync(path.join(ROOT, "docs", "RUNBOOK.md"), "utf8");
        const list = alerts();
        assert.ok(list.length >= 9);
        for (const a of list) {
            assert.ok(["critical", "warning"].includes(a.labels.severity), a.alert);
            assert.ok(a.annotations.summary && a.annotations.description, a.alert);
            assert.equal(a.annotations.runbook_url, `docs/RUNBOOK.md#${a.alert.toLowerCase()}`);
            assert.match(runbook, new RegExp(`^## ${a.alert}$`, "m"), `docs/RUNBOOK.md has no section for ${a.alert}`);
        }
        const names = list.map((a) => a.alert);
        for (const required of [
            "CliServiceDown",
            "CliHighErrorRate",
            "CliHighLatency",
            "CodeGenerationSuccessLow",
            "CliHpaAtMaxReplicas",
            "CliPodCrashLooping",
            "PostgresDown",
            "RedisDown",
            "PersistentVolumeAlmostFull",
        ]) {
            assert.ok(names.includes(required), required);
        }
    });

    describe("dashboards", () => {
        const dashboards = loadDashboards(path.join(ROOT, "components", "observability", "monitoring", "dashboards"));
        const panels = Object.values(dashboards).flatMap((j) => (JSON.parse(j) as { panels: { title: string; targets: { expr: string }[] }[] }).panels);

        it("hold the deployment guide's four panels and the platform's health panels", () => {
            const titles = panels.map((p) => p.title);
            for (const t of [
                "Request Rate",
                "Response Time (p95)",
                "Error Rate (5xx)",
                "Code Generation Success Rate",
                "Validation Latency (p95)",
                "Active Connections",
                "HPA Replicas",
                "PostgreSQL Health",
                "Redis Health",
            ]) {
                assert.ok(titles.includes(t), t);
            }
        });

        it("every panel query parses and uses only metrics the service, the exporters, kube-state-metrics or our rules expose", async () => {
            const known = await knownMetrics();
            for (const p of panels) {
                for (const t of p.targets) {
                    for (const m of metricsOf(t.expr)) assert.ok(known.has(m) || fromKubeStateMetricsOrKubelet(m), `${p.title}: unknown metric ${m}`);
                }
            }
            // promtool agrees that each expression is valid PromQL.
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dash-"));
            const rules = {
                groups: [
                    { name: "dashboards", rules: panels.flatMap((p, i) => p.targets.map((t, j) => ({ record: `dashboard:panel${i}_${j}`, expr: t.expr }))) },
                ],
            };
            fs.writeFileSync(path.join(dir, "dashboards.yaml"), YAML.stringify(rules));
            assert.match(promtool(["check", "rules", "dashboards.yaml"], dir), /SUCCESS/);
        });

        it("the rules' expressions use only known metrics too", async () => {
            const known = await knownMetrics();
            for (const body of Object.values(loadRules(RULES_DIR))) {
                for (const g of body.groups as { rules: { expr: string }[] }[])
                    for (const r of g.rules)
                        for (const m of metricsOf(r.expr)) assert.ok(known.has(m) || fromKubeStateMetricsOrKubelet(m), `unknown metric ${m} in ${r.expr}`);
            }
        });

        it("are provisioned as ConfigMaps labelled for the Grafana sidecar", async () => {
            const r = await render("dev");
            const cms = byType(r, "kubernetes:core/v1:ConfigMap").filter((c) => meta(c).labels?.grafana_dashboard === "1");
            assert.deepEqual(
                cms.map((c) => [meta(c).name, meta(c).namespace, Object.keys(c.inputs.data as Obj)]),
                [["dashboard-cli-platform", "monitoring", ["cli-platform.json"]]],
            );
        });
    });

    it("prometheus-adapter serves exactly the metric the api's HPA asks for, from a series the api exposes", async () => {
        const r = await render("prod");
        const adapter = one(r, "kubernetes:helm.sh/v3:Release", "monitoring-adapter");
        assert.equal(adapter.inputs.version, CHARTS.prometheusAdapter.version);
        const rule = (adapter.inputs.values as { rules: { custom: { seriesQuery: string; name: { as: string } }[] } }).rules.custom[0];
        assert.equal(rule.name.as, "code_generation_requests_per_second");
        const hpa = named(r, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "cli-api");
        const podsMetric = (hpa.inputs.spec as { metrics: { pods?: { metric: { name: string } } }[] }).metrics.find((m) => m.pods)!.pods!.metric.name;
        assert.equal(podsMetric, rule.name.as);
        const [series] = metricsOf(rule.seriesQuery);
        assert.ok((await knownMetrics()).has(series), series);
        assert.equal(
            (prometheusAdapterValues("monitoring") as { prometheus: { url: string } }).prometheus.url,
            "http://kube-prometheus-stack-prometheus.monitoring.svc",
        );
    });

    it("Grafana: an HTTPRoute on the Gateway's grafana listener in prod (no Ingress from the chart), port-forward in dev", async () => {
        const prod = await render("prod");
        assert.equal(prod.outputs.grafanaUrl, "https://grafana.example.com");
        const grafana = stackValues(one(prod, "kubernetes:helm.sh/v3:Release", "monitoring-stack")).grafana as { ingress: { enabled: boolean } };
        assert.deepEqual(grafana.ingress, { enabled: false });
        const route = byType(prod, "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute").find((x) => (x.inputs.metadata as Obj).name === "grafana")!;
        assert.deepEqual(route.inputs.metadata, {
            name: "grafana",
            namespace: "monitoring",
            labels: { "app.kubernetes.io/name": "grafana", "app.kubernetes.io/part-of": "cli-platform" },
        });
        assert.deepEqual(route.inputs.spec, {
            parentRefs: [
                { group: "gateway.networking.k8s.io", kind: "Gateway", name: "platform", namespace: "envoy-gateway-system", sectionName: "https-grafana" },
            ],
            hostnames: ["grafana.example.com"],
            rules: [
                {
                    matches: [{ path: { type: "PathPrefix", value: "/" } }],
                    filters: [
                        { type: "ResponseHeaderModifier", responseHeaderModifier: { set: [{ name: "Strict-Transport-Security", value: "max-age=31536000" }] } },
                    ],
                    backendRefs: [{ group: "", kind: "Service", name: "kube-prometheus-stack-grafana", port: 80 }],
                },
            ],
        });
        assert.match(
            String((await render("dev")).outputs.grafanaUrl),
            /^http:\/\/localhost:3000 \(kubectl -n monitoring port-forward svc\/kube-prometheus-stack-grafana 3000:80\)$/,
        );
    });

    it("scrapes Envoy Gateway: the controller's Service and the proxies' stats port (no Service exposes it)", async () => {
        const prod = await render("prod");
        const sm = byType(prod, "kubernetes:monitoring.coreos.com/v1:ServiceMonitor").find((x) => (x.inputs.metadata as Obj).name === "envoy-gateway")!;
        assert.equal((sm.inputs.metadata as Obj).namespace, "envoy-gateway-system");
        assert.deepEqual((sm.inputs.spec as Obj).selector, { matchLabels: { "control-plane": "envoy-gateway" } });
        assert.deepEqual((sm.inputs.spec as Obj).endpoints, [{ port: "metrics", path: "/metrics", interval: "30s" }]);
        const pm = one(prod, "kubernetes:monitoring.coreos.com/v1:PodMonitor");
        assert.equal((pm.inputs.metadata as Obj).namespace, "envoy-gateway-system");
        assert.deepEqual((pm.inputs.spec as Obj).selector, {
            matchLabels: { "app.kubernetes.io/name": "envoy", "app.kubernetes.io/component": "proxy", "app.kubernetes.io/managed-by": "envoy-gateway" },
        });
        assert.deepEqual((pm.inputs.spec as Obj).podMetricsEndpoints, [{ port: "metrics", path: "/stats/prometheus", interval: "30s" }]);
        const local = await render("local");
        assert.equal(byType(local, "kubernetes:monitoring.coreos.com/v1:PodMonitor").length, 0);
    });

    it("is absent when monitoring.enabled is false", async () => {
        const r = await renderWith("dev", patchSection("dev", "cli-platform:monitoring", { enabled: false }));
        assert.equal(byType(r, "cli-platform:monitoring:Monitoring").length, 0);
        assert.equal(r.outputs.grafanaUrl, undefined);
    });
});
