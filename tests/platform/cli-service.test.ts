import * as assert from "node:assert/strict";
import * as YAML from "yaml";
import { kubernetesObjects } from "../../tools/render";
import { byType, meta, named, type Obj, podSpec, render, renderWith, stackFile, STACKS, type StackName, type StackRender, validateK8sObject } from "../harness";

const DEPLOYMENT = "kubernetes:apps/v1:Deployment";
const HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler";
const PDB = "kubernetes:policy/v1:PodDisruptionBudget";

describe("CliService (cli-api, cli-runner)", () => {
    for (const stack of STACKS) {
        describe(stack, () => {
            it("every container of every workload runs restricted, with probes, requests and limits", async () => {
                const r = await render(stack);
                const workloads = [...byType(r, DEPLOYMENT), ...byType(r, "kubernetes:apps/v1:StatefulSet")];
                assert.ok(workloads.length >= 2);
                for (const w of workloads) {
                    const spec = podSpec(w);
                    assert.equal(spec.automountServiceAccountToken, false, meta(w).name);
                    assert.equal(spec.securityContext.runAsNonRoot, true);
                    assert.deepEqual(spec.securityContext.seccompProfile, { type: "RuntimeDefault" });
                    for (const c of spec.containers) {
                        const sc = c.securityContext as Obj;
                        assert.deepEqual(
                            [sc.allowPrivilegeEscalation, sc.readOnlyRootFilesystem, sc.runAsNonRoot],
                            [false, true, true],
                            `${meta(w).name}/${c.name}`,
                        );
                        assert.deepEqual(sc.capabilities, { drop: ["ALL"] });
                        const res = c.resources as { requests: Obj; limits: Obj };
                        for (const k of ["cpu", "memory"]) assert.ok(res.requests[k] && res.limits[k], `${meta(w).name}/${c.name} ${k}`);
                        assert.ok(c.readinessProbe, `${c.name} readiness`);
                    }
                }
            });

            it("api and runner: uid 1000, /tmp emptyDir, config.yaml from a ConfigMap, surge-only rollouts, spread, checksum rollout", async () => {
                const r = await render(stack);
                for (const name of ["cli-api", "cli-runner"]) {
                    const d = named(r, DEPLOYMENT, name);
                    const spec = podSpec(d);
                    assert.deepEqual([spec.securityContext.runAsUser, spec.securityContext.runAsGroup], [1000, 1000]);
                    const c = spec.containers[0];
                    assert.ok(c.livenessProbe && c.readinessProbe && c.startupProbe);
                    assert.deepEqual(
                        (c.volumeMounts as Obj[]).map((m) => m.mountPath),
                        ["/tmp", "/home/app/config"],
                    );
                    assert.deepEqual(spec.volumes[0], { name: "tmp", emptyDir: { sizeLimit: "256Mi" } });
                    assert.deepEqual(((d.inputs.spec as Obj).strategy as Obj).rollingUpdate, { maxUnavailable: 0, maxSurge: "25%" });
                    const drain = Number((c.env as { name: string; value?: string }[]).find((e) => e.name === "SHUTDOWN_TIMEOUT")!.value);
                    assert.ok(spec.terminationGracePeriodSeconds > drain + 5, "grace period covers preStop + drain");
                    assert.deepEqual(
                        spec.topologySpreadConstraints.map((t) => t.topologyKey),
                        ["topology.kubernetes.io/zone", "kubernetes.io/hostname"],
                    );
                    const annotations = ((d.inputs.spec as Obj).template as { metadata: { annotations: Record<string, string> } }).metadata.annotations;
                    assert.match(annotations["cli-platform/rollout-checksum"], /^[0-9a-f]{64}$/);
                    const config = named(r, "kubernetes:core/v1:ConfigMap", `${name}-config`);
                    const yaml = YAML.parse((config.inputs.data as Record<string, string>)["config.yaml"]) as Obj;
                    assert.deepEqual(Object.keys(yaml), ["version", "llm", "validation", "security", "redis", "postgres"]);
                    assert.deepEqual(yaml.llm, { provider: "openai", model: "gpt-4", temperature: 0.7, timeout: 30, base_url: "https://api.openai.com/v1" });
                    assert.deepEqual(yaml.security, { sandbox_enabled: true, max_execution_time: 60 });
                }
            });

            it("the api reads its secrets from Secrets only, never from plain env", async () => {
                const r = await render(stack);
                const env = podSpec(named(r, DEPLOYMENT, "cli-api")).containers[0].env as {
                    name: string;
                    value?: string;
                    valueFrom?: { secretKeyRef: { name: string; key: string } };
                }[];
                const fromSecret = Object.fromEntries(
                    env.filter((e) => e.valueFrom).map((e) => [e.name, `${e.valueFrom!.secretKeyRef.name}/${e.valueFrom!.secretKeyRef.key}`]),
                );
                assert.deepEqual(fromSecret, {
                    RUNNER_TOKEN: "cli-platform-secrets/RUNNER_TOKEN",
                    API_TOKENS: "cli-platform-secrets/API_TOKENS",
                    OPENAI_API_KEY: "cli-platform-secrets/OPENAI_API_KEY",
                    POSTGRES_URL: "postgres-connection/POSTGRES_URL",
                    REDIS_URL: "redis-connection/REDIS_URL",
                });
                for (const e of env.filter((x) => x.value !== undefined)) assert.doesNotMatch(e.value!, /:\/\/[^/]*:[^/]*@/, `${e.name} holds credentials`);
                assert.match(env.find((e) => e.name === "RUNNER_URL")!.value!, /^http:\/\/cli-runner\.cli-platform\.svc\.cluster\.local:80$/);
            });

            it("Services are ClusterIP with named http and metrics ports", async () => {
                const r = await render(stack);
                for (const name of ["cli-api", "cli-runner"]) {
                    const spec = named(r, "kubernetes:core/v1:Service", name).inputs.spec as {
                        type: string;
                        ports: { name: string; port: number; targetPort: string }[];
                    };
                    assert.equal(spec.type, "ClusterIP");
                    assert.deepEqual(
                        spec.ports.map((p) => [p.name, p.port, p.targetPort]),
                        [
                            ["http", 80, "http"],
                            ["metrics", 8080, "metrics"],
                        ],
                    );
                }
            });
        });
    }

    describe("the runner's defence in depth", () => {
        const runnerPod = (r: StackRender) => podSpec(named(r, DEPLOYMENT, "cli-runner"));
        for (const stack of STACKS) {
            it(`${stack}: no service-account token in either workload; the runner may send nothing at all; it runs on the node's default runtime`, async () => {
                const r = await render(stack);
                for (const name of ["cli-api", "cli-runner"]) assert.equal(podSpec(named(r, DEPLOYMENT, name)).automountServiceAccountToken, false, name);
                const accounts = byType(r, "kubernetes:core/v1:ServiceAccount").filter((o) => /^cli-(api|runner)/.test(meta(o).name));
                assert.equal(accounts.length, 2);
                for (const sa of accounts) assert.equal(sa.inputs.automountServiceAccountToken, false, meta(sa).name);
                const policy = byType(r, "kubernetes:networking.k8s.io/v1:NetworkPolicy").find(
                    (p) =>
                        (p.inputs.spec as { podSelector: { matchLabels?: Record<string, string> } }).podSelector.matchLabels?.["app.kubernetes.io/name"] ===
                        "cli-runner",
                )!;
                const spec = policy.inputs.spec as { policyTypes: string[]; egress: unknown[]; ingress: unknown[] };
                assert.deepEqual(spec.policyTypes, ["Ingress", "Egress"]);
                assert.deepEqual(spec.egress, []);
                assert.equal(spec.ingress.length, 2);
                assert.equal(runnerPod(r).runtimeClassName, undefined);
            });
        }

        it("service.runner.runtimeClassName puts the runner's pods (only) on that RuntimeClass", async () => {
            const service = (stackFile("dev")["cli-platform:service"] ?? {}) as Record<string, Record<string, unknown>>;
            const r = await renderWith("dev", { "cli-platform:service": { ...service, runner: { ...service.runner, runtimeClassName: "gvisor" } } });
            assert.equal(runnerPod(r).runtimeClassName, "gvisor");
            assert.equal(podSpec(named(r, DEPLOYMENT, "cli-api")).runtimeClassName, undefined);
        });
    });

    it("HPA per stack: the deployment guide's targets, custom metric and behaviour", async () => {
        const expected: Record<StackName, { api: [number, number]; runner: [number, number] }> = {
            dev: { api: [1, 3], runner: [1, 2] },
            staging: { api: [2, 6], runner: [2, 4] },
            prod: { api: [3, 20], runner: [2, 10] },
            local: { api: [1, 2], runner: [1, 1] },
        };
        for (const stack of STACKS) {
            const r = await render(stack);
            for (const w of ["api", "runner"] as const) {
                const spec = named(r, HPA, `cli-${w}`).inputs.spec as {
                    minReplicas: number;
                    maxReplicas: number;
                    metrics: Obj[];
                    behavior: unknown;
                    scaleTargetRef: Obj;
                };
                assert.deepEqual([spec.minReplicas, spec.maxReplicas], expected[stack][w], `${stack} ${w}`);
                assert.deepEqual(spec.behavior, {
                    scaleUp: { stabilizationWindowSeconds: 60, policies: [{ type: "Percent", value: 100, periodSeconds: 15 }] },
                    scaleDown: { stabilizationWindowSeconds: 300, policies: [{ type: "Percent", value: 10, periodSeconds: 60 }] },
                });
                assert.deepEqual(spec.scaleTargetRef, { apiVersion: "apps/v1", kind: "Deployment", name: `cli-${w}` });
                assert.deepEqual(spec.metrics.slice(0, 2), [
                    { type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 70 } } },
                    { type: "Resource", resource: { name: "memory", target: { type: "Utilization", averageUtilization: 80 } } },
                ]);
                if (w === "api")
                    assert.deepEqual(spec.metrics[2], {
                        type: "Pods",
                        pods: { metric: { name: "code_generation_requests_per_second" }, target: { type: "AverageValue", averageValue: "10" } },
                    });
                else assert.equal(spec.metrics.length, 2);
                const d = named(r, DEPLOYMENT, `cli-${w}`);
                assert.equal((d.inputs.spec as Obj).replicas, expected[stack][w][0]);
                assert.deepEqual(d.ignoreChanges, ["spec.replicas"], "the HPA owns the replica count");
            }
        }
    });

    it("a PodDisruptionBudget exists only where a workload has more than one replica", async () => {
        assert.deepEqual(byType(await render("dev"), PDB), []);
        for (const stack of ["staging", "prod"] as const) {
            const pdbs = byType(await render(stack), PDB).map((p) => [meta(p).name, (p.inputs.spec as Obj).maxUnavailable]);
            assert.deepEqual(
                pdbs,
                [
                    ["cli-runner", 1],
                    ["cli-api", 1],
                ],
                stack,
            );
        }
    });

    describe("NetworkPolicy graph", () => {
        // Pods of the platform and its neighbours, with their namespaces and labels.
        const PODS: Record<string, { namespace: string; labels: Record<string, string> }> = {
            "cli-api": { namespace: "cli-platform", labels: { "app.kubernetes.io/name": "cli-api", "app.kubernetes.io/instance": "cli-api" } },
            "cli-runner": { namespace: "cli-platform", labels: { "app.kubernetes.io/name": "cli-runner", "app.kubernetes.io/instance": "cli-runner" } },
            postgres: { namespace: "cli-platform", labels: { "app.kubernetes.io/name": "postgres" } },
            redis: { namespace: "cli-platform", labels: { "app.kubernetes.io/name": "redis" } },
            envoy: {
                namespace: "envoy-gateway-system",
                labels: { "app.kubernetes.io/name": "envoy", "app.kubernetes.io/component": "proxy", "app.kubernetes.io/managed-by": "envoy-gateway" },
            },
            "envoy-gateway": { namespace: "envoy-gateway-system", labels: { "control-plane": "envoy-gateway", "app.kubernetes.io/name": "gateway-helm" } },
            prometheus: { namespace: "monitoring", labels: { "app.kubernetes.io/name": "prometheus" } },
            "kube-dns": { namespace: "kube-system", labels: { "k8s-app": "kube-dns" } },
        };
        type Peer = {
            podSelector?: { matchLabels?: Record<string, string> };
            namespaceSelector?: { matchLabels?: Record<string, string> };
            ipBlock?: { cidr: string; except?: string[] };
        };
        type Rule = { from?: Peer[]; to?: Peer[]; ports?: { protocol?: string; port: number }[] };
        type Spec = { podSelector: { matchLabels?: Record<string, string> }; policyTypes: string[]; ingress?: Rule[]; egress?: Rule[] };
        const matches = (sel: Record<string, string> | undefined, labels: Record<string, string>) =>
            Object.entries(sel ?? {}).every(([k, v]) => labels[k] === v);

        /** Whether `from` may open a TCP/UDP connection to `to` on `port`, under both sides' policies. */
        function allowed(policies: { namespace: string; spec: Spec }[], from: string, to: string | { ip: string }, port: number, protocol = "TCP"): boolean {
            const src = PODS[from];
            const peerMatches = (peer: Peer, target: { namespace: string; labels: Record<string, string> } | { ip: string }, policyNs: string) => {
                if ("ip" in target)
                    return peer.ipBlock !== undefined && inCidr(target.ip, peer.ipBlock.cidr) && !(peer.ipBlock.except ?? []).some((e) => inCidr(target.ip, e));
                if (peer.ipBlock) return false;
                const nsOk = peer.namespaceSelector
                    ? matches(peer.namespaceSelector.matchLabels, { "kubernetes.io/metadata.name": target.namespace })
                    : target.namespace === policyNs;
                return nsOk && matches(peer.podSelector?.matchLabels, target.labels);
            };
            const portOk = (rule: Rule) => !rule.ports || rule.ports.some((p) => p.port === port && (p.protocol ?? "TCP") === protocol);
            const side = (podNs: string, labels: Record<string, string>, dir: "Ingress" | "Egress", other: Parameters<typeof peerMatches>[1]) => {
                const selecting = policies.filter(
                    (p) => p.namespace === podNs && matches(p.spec.podSelector.matchLabels, labels) && p.spec.policyTypes.includes(dir),
                );
                if (selecting.length === 0) return true;
                return selecting.some((p) =>
                    ((dir === "Ingress" ? p.spec.ingress : p.spec.egress) ?? []).some(
                        (rule) => portOk(rule) && (dir === "Ingress" ? rule.from : rule.to)!.some((peer) => peerMatches(peer, other, p.namespace)),
                    ),
                );
            };
            const dst = typeof to === "string" ? PODS[to] : undefined;
            const egressOk = side(src.namespace, src.labels, "Egress", dst ?? (to as { ip: string }));
            const ingressOk = dst ? side(dst.namespace, dst.labels, "Ingress", src) : true;
            return egressOk && ingressOk;
        }
        function inCidr(ip: string, cidr: string): boolean {
            const [base, bits] = cidr.split("/");
            const n = (s: string) => s.split(".").reduce((a, o) => a * 256 + Number(o), 0);
            const size = 2 ** (32 - Number(bits));
            return Math.floor(n(ip) / size) === Math.floor(n(base) / size);
        }
        const policiesOf = (r: StackRender) =>
            byType(r, "kubernetes:networking.k8s.io/v1:NetworkPolicy").map((p) => ({ namespace: String(meta(p).namespace), spec: p.inputs.spec as Spec }));

        it("dev (in-cluster data): exactly the intended edges", async () => {
            const policies = policiesOf(await render("dev"));
            const table: [string, string | { ip: string }, number, boolean][] = [
                ["envoy", "cli-api", 8000, true],
                ["envoy-gateway", "cli-api", 8000, false],
                ["prometheus", "cli-api", 8080, true],
                ["prometheus", "cli-runner", 8080, true],
                ["prometheus", "postgres", 9187, true],
                ["prometheus", "redis", 9121, true],
                ["cli-api", "cli-runner", 8001, true],
                ["cli-api", "postgres", 5432, true],
                ["cli-api", "redis", 6379, true],
                ["cli-api", "kube-dns", 53, true],
                ["cli-api", { ip: "104.18.0.1" }, 443, true],
                ["cli-api", { ip: "10.10.5.5" }, 443, false],
                ["cli-api", { ip: "104.18.0.1" }, 80, false],
                ["cli-runner", "kube-dns", 53, false],
                ["cli-runner", "cli-api", 8000, false],
                ["cli-runner", "postgres", 5432, false],
                ["cli-runner", "redis", 6379, false],
                ["cli-runner", { ip: "104.18.0.1" }, 443, false],
                ["envoy", "cli-runner", 8001, false],
                ["envoy", "postgres", 5432, false],
                ["prometheus", "cli-api", 8000, false],
                ["prometheus", "postgres", 5432, false],
                ["postgres", "cli-api", 8000, false],
                ["postgres", { ip: "104.18.0.1" }, 443, false],
                ["redis", "postgres", 5432, false],
            ];
            const got = table.map(([from, to, port]) => [from, to, port, allowed(policies, from, to, port)]);
            assert.deepEqual(got, table);
            assert.equal(allowed(policies, "cli-api", "kube-dns", 53, "UDP"), true);
            assert.equal(allowed(policies, "cli-runner", "kube-dns", 53, "UDP"), false);
        });

        it("prod (managed data): the api reaches PostgreSQL and Redis in the VPC, nothing else does", async () => {
            const policies = policiesOf(await render("prod"));
            const table: [string, string | { ip: string }, number, boolean][] = [
                ["cli-api", { ip: "10.20.10.20" }, 5432, true],
                ["cli-api", { ip: "10.20.10.21" }, 6379, true],
                ["cli-api", { ip: "10.99.0.1" }, 5432, false],
                ["cli-runner", { ip: "10.20.10.20" }, 5432, false],
                ["cli-api", "cli-runner", 8001, true],
                ["envoy", "cli-api", 8000, true],
            ];
            assert.deepEqual(
                table.map(([from, to, port]) => [from, to, port, allowed(policies, from, to, port)]),
                table,
            );
        });
    });

    for (const stack of STACKS) {
        it(`${stack}: every rendered object of the service validates against the API schema (Deployment, HPA, PDB, HTTPRoute, rate limit, NetworkPolicy, ...)`, async () => {
            const objects = kubernetesObjects(await render(stack)).filter((o) => {
                const name = String((o.metadata as Obj | undefined)?.name ?? "");
                return name.startsWith("cli-api") || name.startsWith("cli-runner") || name === "cli-platform-secrets" || o.kind === "ClusterIssuer";
            });
            const kinds = [...new Set(objects.map((o) => String(o.kind)))].sort();
            const expected: Record<StackName, string[]> = {
                dev: [
                    "BackendTrafficPolicy",
                    "ClusterIssuer",
                    "ConfigMap",
                    "Deployment",
                    "HTTPRoute",
                    "HorizontalPodAutoscaler",
                    "NetworkPolicy",
                    "Secret",
                    "Service",
                    "ServiceAccount",
                    "ServiceMonitor",
                ],
                staging: [
                    "BackendTrafficPolicy",
                    "ClusterIssuer",
                    "ConfigMap",
                    "Deployment",
                    "HTTPRoute",
                    "HorizontalPodAutoscaler",
                    "NetworkPolicy",
                    "PodDisruptionBudget",
                    "Secret",
                    "Service",
                    "ServiceAccount",
                    "ServiceMonitor",
                ],
                prod: [
                    "BackendTrafficPolicy",
                    "ClusterIssuer",
                    "ConfigMap",
                    "Deployment",
                    "HTTPRoute",
                    "HorizontalPodAutoscaler",
                    "NetworkPolicy",
                    "PodDisruptionBudget",
                    "Secret",
                    "Service",
                    "ServiceAccount",
                    "ServiceMonitor",
                ],
                local: ["ConfigMap", "Deployment", "HorizontalPodAutoscaler", "NetworkPolicy", "Secret", "Service", "ServiceAccount", "ServiceMonitor"],
            };
            assert.deepEqual(kinds, expected[stack]);
            for (const o of objects) validateK8sObject(o);
        });
    }

    it("the schema check rejects a broken object (it can fail)", () => {
        assert.throws(() => validateK8sObject({ apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "x" }, spec: { replicas: "three" } }));
    });
});
