/**
 * components/data/data-service.ts: what Postgres and Redis both build through it (the in-cluster
 * StatefulSet, its standalone volume and NetworkPolicy, protection, the connection Secrets). What
 * differs per service (images, probes, sizes, managed modes) is in postgres.test.ts and redis.test.ts.
 */
import * as assert from "node:assert/strict";
import { postgresUrl, redisUrl } from "../../components/data/data-service";
import { kubernetesObjects, manifestsYaml } from "../../tools/render";
import { byType, meta, named, type Obj, one, podSpec, render, renderWith, SECRET, STACKS, validateK8sObject } from "../harness";

const STS = "kubernetes:apps/v1:StatefulSet";
const PVC = "kubernetes:core/v1:PersistentVolumeClaim";
const SECRET_TYPE = "kubernetes:core/v1:Secret";
const NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy";

describe("data services (data-service.ts)", () => {
    describe("in-cluster (dev, local)", () => {
        for (const stack of ["dev", "local"] as const) {
            it(`${stack}: restricted one-replica StatefulSets with an exporter sidecar, probes and resources, on a standalone volume`, async () => {
                const r = await render(stack);
                for (const [name, uid] of [
                    ["postgres", 999],
                    ["redis", 999],
                ] as const) {
                    const sts = named(r, STS, name);
                    assert.equal(meta(sts).namespace, "cli-platform");
                    const spec = podSpec(sts);
                    assert.equal(spec.automountServiceAccountToken, false);
                    assert.deepEqual(spec.securityContext, {
                        runAsNonRoot: true,
                        runAsUser: uid,
                        runAsGroup: uid,
                        fsGroup: uid,
                        fsGroupChangePolicy: "OnRootMismatch",
                        seccompProfile: { type: "RuntimeDefault" },
                    });
                    const [main, exporter] = spec.containers;
                    assert.equal(exporter.name, "exporter");
                    for (const c of spec.containers) {
                        assert.deepEqual(c.securityContext, {
                            allowPrivilegeEscalation: false,
                            readOnlyRootFilesystem: true,
                            runAsNonRoot: true,
                            capabilities: { drop: ["ALL"] },
                            seccompProfile: { type: "RuntimeDefault" },
                        });
                        const res = c.resources as { requests: Obj; limits: Obj };
                        assert.ok(res.requests.cpu && res.requests.memory && res.limits.cpu && res.limits.memory, `${c.name} resources`);
                        assert.ok(c.readinessProbe, `${c.name} readiness probe`);
                    }
                    assert.ok(main.livenessProbe);
                    assert.equal((sts.inputs.spec as Obj).volumeClaimTemplates, undefined, "standalone PVC: resizing is an in-place update");
                }
            });

            it(`${stack}: volumes on the stack's StorageClass`, async () => {
                const r = await render(stack);
                const claims = Object.fromEntries(byType(r, PVC).map((p) => [meta(p).name, p.inputs.spec as { storageClassName: string }]));
                const sc = stack === "dev" ? "gp3-encrypted" : "standard";
                assert.deepEqual([claims["postgres-data"].storageClassName, claims["redis-data"].storageClassName], [sc, sc]);
            });

            it(`${stack}: NetworkPolicies admit only the api on the data port and Prometheus on the exporter`, async () => {
                const r = await render(stack);
                for (const [name, port, exporterPort] of [
                    ["postgres", 5432, 9187],
                    ["redis", 6379, 9121],
                ] as const) {
                    const np = named(r, NETPOL, name);
                    assert.deepEqual(np.inputs.spec, {
                        podSelector: { matchLabels: { "app.kubernetes.io/name": name } },
                        policyTypes: ["Ingress"],
                        ingress: [
                            { from: [{ podSelector: { matchLabels: { "app.kubernetes.io/name": "cli-api" } } }], ports: [{ protocol: "TCP", port }] },
                            {
                                from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } } }],
                                ports: [{ protocol: "TCP", port: exporterPort }],
                            },
                        ],
                    });
                }
            });
        }

        it("dev: nothing is protected", async () => {
            const r = await render("dev");
            for (const res of [...byType(r, STS), ...byType(r, PVC)]) assert.deepEqual([res.protect, res.retainOnDelete], [false, false], res.name);
        });

        it("with protectStatefulResources, StatefulSets and volumes are protected and retained", async () => {
            const r = await renderWith("dev", { "cli-platform:protectStatefulResources": true });
            const stateful = [...byType(r, STS), ...byType(r, PVC)];
            assert.equal(stateful.length, 4);
            for (const res of stateful) assert.deepEqual([res.protect, res.retainOnDelete], [true, true], res.name);
            assert.equal(one(r, "kubernetes:storage.k8s.io/v1:StorageClass").inputs.reclaimPolicy, "Retain");
        });
    });

    for (const stack of ["staging", "prod"] as const)
        it(`${stack}: managed data, no in-cluster data services`, async () => {
            assert.equal(byType(await render(stack), STS).length, 0, `no in-cluster data services in ${stack}`);
        });

    for (const stack of STACKS) {
        it(`${stack}: the service gets the same Secret keys in every mode`, async () => {
            const r = await render(stack);
            const secrets = Object.fromEntries(byType(r, SECRET_TYPE).map((s) => [meta(s).name, s.inputs.stringData]));
            assert.deepEqual(secrets["postgres-connection"], { POSTGRES_URL: SECRET });
            assert.deepEqual(secrets["redis-connection"], { REDIS_URL: SECRET });
        });

        it(`${stack}: no security group opens 5432 or 6379 to 0.0.0.0/0, and no password appears in plain text`, async () => {
            const r = await render(stack);
            for (const sg of byType(r, "aws:ec2/securityGroup:SecurityGroup")) {
                for (const rule of (sg.inputs.ingress as { fromPort: number; toPort: number; cidrBlocks?: string[] }[]) ?? []) {
                    const covers = (p: number) => rule.fromPort <= p && p <= rule.toPort;
                    if (covers(5432) || covers(6379)) assert.ok(!(rule.cidrBlocks ?? []).includes("0.0.0.0/0"), sg.name);
                }
            }
            const text = JSON.stringify(r.resources) + manifestsYaml(r) + JSON.stringify(r.outputs);
            assert.doesNotMatch(text, /mock-[0-9a-f]{24}/, "a generated password leaked");
            assert.doesNotMatch(text, /(postgres|rediss?):\/\/[^"\s]*:[^"\s@]+@/, "a URL with credentials leaked");
        });

        it(`${stack}: every rendered Kubernetes object validates against the API schema`, async () => {
            const r = await render(stack);
            const objects = kubernetesObjects(r);
            assert.ok(objects.length > 0);
            for (const o of objects) {
                assert.doesNotThrow(() => validateK8sObject(o), `${o.kind} ${(o.metadata as Obj).name}`);
            }
        });
    }

    it("connection URLs", () => {
        assert.equal(
            postgresUrl({ user: "u", password: "p/w", host: "h", port: 5432, database: "d", tls: true }),
            "postgres://u:p%2Fw@h:5432/d?sslmode=require",
        );
        assert.equal(redisUrl({ password: "x", host: "h", port: 6379, tls: true }), "rediss://:x@h:6379");
        assert.equal(redisUrl({ password: "x", host: "h", port: 6379, tls: false }), "redis://:x@h:6379");
    });
});
