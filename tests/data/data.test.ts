import * as assert from "node:assert/strict";
import { POSTGRES_EXPORTER_PORT, POSTGRES_PORT, postgresUrl, REDIS_EXPORTER_PORT, REDIS_PORT, redisConf, redisUrl } from "../../components";
import { kubernetesObjects, manifestsYaml } from "../../tools/render";
import { byType, meta, named, type Obj, one, patchSection, podSpec, render, renderWith, SECRET, STACKS, type StackRender, validateK8sObject } from "../harness";

const STS = "kubernetes:apps/v1:StatefulSet";
const PVC = "kubernetes:core/v1:PersistentVolumeClaim";
const SECRET_TYPE = "kubernetes:core/v1:Secret";
const NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy";

describe("data layer", () => {
    describe("in-cluster PostgreSQL and Redis (dev, local)", () => {
        for (const stack of ["dev", "local"] as const) {
            it(`${stack}: StatefulSets from pinned official images, restricted, with probes and resources`, async () => {
                const r = await render(stack);
                for (const [name, image, uid] of [
                    ["postgres", /^docker\.io\/library\/postgres:[0-9]+\.[0-9]+-bookworm$/, 999],
                    ["redis", /^docker\.io\/library\/redis:[0-9]+\.[0-9]+\.[0-9]+-bookworm$/, 999],
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
                    assert.match(String(main.image), image);
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
                const pgProbe = (podSpec(named(r, STS, "postgres")).containers[0].readinessProbe as { exec: { command: string[] } }).exec.command;
                assert.equal(pgProbe[0], "pg_isready");
            });

            it(`${stack}: volumes sized from config on the stack's StorageClass`, async () => {
                const r = await render(stack);
                const claims = Object.fromEntries(
                    byType(r, PVC).map((p) => [meta(p).name, p.inputs.spec as { storageClassName: string; resources: { requests: { storage: string } } }]),
                );
                const sc = stack === "dev" ? "gp3-encrypted" : "standard";
                const sizes = stack === "dev" ? ["10Gi", "5Gi"] : ["2Gi", "1Gi"];
                assert.deepEqual([claims["postgres-data"].storageClassName, claims["redis-data"].storageClassName], [sc, sc]);
                assert.deepEqual([claims["postgres-data"].resources.requests.storage, claims["redis-data"].resources.requests.storage], sizes);
            });

            it(`${stack}: NetworkPolicies admit only the api on the data port and Prometheus on the exporter`, async () => {
                const r = await render(stack);
                for (const [name, port, exporterPort] of [
                    ["postgres", POSTGRES_PORT, POSTGRES_EXPORTER_PORT],
                    ["redis", REDIS_PORT, REDIS_EXPORTER_PORT],
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

            it(`${stack}: Redis requires a password from its Secret and persists with AOF`, async () => {
                const r = await render(stack);
                const conf = named(r, SECRET_TYPE, "redis-config");
                assert.deepEqual(conf.inputs.stringData, { "redis.conf": SECRET, REDIS_PASSWORD: SECRET });
                const main = podSpec(named(r, STS, "redis")).containers[0];
                assert.deepEqual(main.command, ["redis-server", "/etc/redis/redis.conf"]);
                const text = redisConf("pw", 1024);
                assert.match(text, /^requirepass pw$/m);
                assert.match(text, /^appendonly yes$/m);
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

    /** What differs between the two managed-data stacks: prod Multi-AZ on large classes, staging single-AZ on small ones. */
    const MANAGED = {
        staging: { rds: ["db.t4g.medium", false, 20], cache: ["cache.t4g.small", 1, false, false] },
        prod: { rds: ["db.r6g.large", true, 50], cache: ["cache.r7g.large", 2, true, true] },
    } as const;
    for (const stack of ["staging", "prod"] as const)
        describe(`managed PostgreSQL and Redis (${stack})`, () => {
            it("RDS: KMS-encrypted, private, backups >= 7 days, deletion protection, final snapshot, Performance Insights, TLS forced; the stack's class, Multi-AZ and size", async () => {
                const r = await render(stack);
                const db = one(r, "aws:rds/instance:Instance").inputs;
                assert.equal(db.engine, "postgres");
                assert.equal(db.engineVersion, "16.10");
                assert.deepEqual([db.instanceClass, db.multiAz, db.allocatedStorage], MANAGED[stack].rds);
                assert.equal(db.storageEncrypted, true);
                assert.match(String(db.kmsKeyId), /^arn:aws:kms:/);
                assert.equal(db.publiclyAccessible, false);
                assert.ok(Number(db.backupRetentionPeriod) >= 7);
                assert.equal(db.deletionProtection, true);
                assert.equal(db.skipFinalSnapshot, false);
                assert.ok(db.finalSnapshotIdentifier);
                assert.equal(db.performanceInsightsEnabled, true);
                assert.equal(db.password, SECRET);
                const params = one(r, "aws:rds/parameterGroup:ParameterGroup").inputs.parameters as { name: string; value: string }[];
                assert.deepEqual(
                    params.map((p) => [p.name, p.value]),
                    [["rds.force_ssl", "1"]],
                );
                const subnetGroup = one(r, "aws:rds/subnetGroup:SubnetGroup").inputs.subnetIds as string[];
                const privateIds = byType(r, "aws:ec2/subnet:Subnet")
                    .filter((s) => (s.inputs.tags as Record<string, string>).tier === "private")
                    .map((s) => s.id);
                assert.deepEqual(subnetGroup, privateIds);
            });

            it("ElastiCache: transit and at-rest encryption, AUTH token, private subnets; the stack's node type, count, failover and Multi-AZ", async () => {
                const r = await render(stack);
                const rg = one(r, "aws:elasticache/replicationGroup:ReplicationGroup").inputs;
                assert.deepEqual([rg.nodeType, rg.numCacheClusters, rg.automaticFailoverEnabled, rg.multiAzEnabled], MANAGED[stack].cache);
                assert.equal(rg.transitEncryptionEnabled, true);
                assert.equal(rg.atRestEncryptionEnabled, true);
                assert.equal(rg.authToken, SECRET);
                assert.equal(rg.authTokenUpdateStrategy, "ROTATE");
                assert.equal((one(r, "aws:elasticache/subnetGroup:SubnetGroup").inputs.subnetIds as string[]).length, 3);
            });

            it("security groups admit 5432 and 6379 only from the cluster's security group", async () => {
                const r = await render(stack);
                const sources = new Set<string>();
                for (const [name, port] of [
                    ["postgres-sg", 5432],
                    ["redis-sg", 6379],
                ] as const) {
                    const sg = one(r, "aws:ec2/securityGroup:SecurityGroup", name).inputs;
                    const ingress = sg.ingress as { fromPort: number; toPort: number; securityGroups?: string[]; cidrBlocks?: string[] }[];
                    assert.equal(ingress.length, 1);
                    assert.deepEqual([ingress[0].fromPort, ingress[0].toPort], [port, port]);
                    assert.equal(ingress[0].cidrBlocks, undefined);
                    assert.match(ingress[0].securityGroups![0], /^sg-[0-9a-f]{17}$/);
                    assert.deepEqual(sg.egress, []);
                    sources.add(ingress[0].securityGroups![0]);
                }
                // One source for both: the EKS-managed cluster security group, not a group this program made.
                assert.equal(sources.size, 1);
                const own = byType(r, "aws:ec2/securityGroup:SecurityGroup").map((g) => g.id);
                assert.ok(![...sources].some((s) => own.includes(s)));
            });

            it("stateful resources are protected and retained; passwords too", async () => {
                const r = await render(stack);
                for (const type of ["aws:rds/instance:Instance", "aws:elasticache/replicationGroup:ReplicationGroup"]) {
                    const res = one(r, type);
                    assert.deepEqual([res.protect, res.retainOnDelete], [true, true], type);
                }
                for (const name of ["postgres-password", "redis-password"])
                    assert.equal(one(r, "random:index/randomPassword:RandomPassword", name).protect, true);
                assert.equal(byType(r, STS).length, 0, `no in-cluster data services in ${stack}`);
            });

            it("a bigger instance class or volume changes no input that forces replacement", async () => {
                const base = await render(stack);
                const bigger = await renderWith(stack, patchSection(stack, "cli-platform:postgres", { instanceClass: "db.r6g.xlarge", storageGiB: 100 }));
                const a = one(base, "aws:rds/instance:Instance").inputs;
                const b = one(bigger, "aws:rds/instance:Instance").inputs;
                // RDS replaces on identifier, dbName, username, engine, storageEncrypted, kmsKeyId, dbSubnetGroupName.
                for (const key of ["dbName", "username", "engine", "storageEncrypted", "kmsKeyId", "dbSubnetGroupName", "identifier", "port"])
                    assert.deepEqual(b[key], a[key], key);
                assert.deepEqual([b.instanceClass, b.allocatedStorage], ["db.r6g.xlarge", 100]);
                const pw = (x: StackRender) => byType(x, "random:index/randomPassword:RandomPassword").map((p) => p.inputs);
                assert.deepEqual(pw(bigger), pw(base), "password inputs never follow config");
            });
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
