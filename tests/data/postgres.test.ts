/** components/data/postgres.ts: PostgreSQL in the cluster (dev, local) or on RDS (staging, prod). */
import * as assert from "node:assert/strict";
import { byType, meta, named, one, patchSection, podSpec, render, renderWith, SECRET, type StackRender } from "../harness";

const STS = "kubernetes:apps/v1:StatefulSet";
const PVC = "kubernetes:core/v1:PersistentVolumeClaim";

describe("Postgres", () => {
    for (const stack of ["dev", "local"] as const)
        describe(`in-cluster (${stack})`, () => {
            it("the pinned official image, ready when pg_isready says so", async () => {
                const r = await render(stack);
                const main = podSpec(named(r, STS, "postgres")).containers[0];
                assert.match(String(main.image), /^docker\.io\/library\/postgres:[0-9]+\.[0-9]+-bookworm$/);
                const pgProbe = (main.readinessProbe as { exec: { command: string[] } }).exec.command;
                assert.equal(pgProbe[0], "pg_isready");
            });

            it("its volume is sized from config", async () => {
                const r = await render(stack);
                const claim = byType(r, PVC).find((p) => meta(p).name === "postgres-data");
                const spec = claim?.inputs.spec as { resources: { requests: { storage: string } } };
                assert.equal(spec.resources.requests.storage, stack === "dev" ? "10Gi" : "2Gi");
            });
        });

    /** What differs between the two managed-data stacks: prod Multi-AZ on a large class, staging single-AZ on a small one. */
    const MANAGED = {
        staging: ["db.t4g.medium", false, 20],
        prod: ["db.r6g.large", true, 50],
    } as const;
    for (const stack of ["staging", "prod"] as const)
        describe(`RDS (${stack})`, () => {
            it("KMS-encrypted, private, backups >= 7 days, deletion protection, final snapshot, Performance Insights, TLS forced; the stack's class, Multi-AZ and size", async () => {
                const r = await render(stack);
                const db = one(r, "aws:rds/instance:Instance").inputs;
                assert.equal(db.engine, "postgres");
                assert.equal(db.engineVersion, "16.10");
                assert.deepEqual([db.instanceClass, db.multiAz, db.allocatedStorage], MANAGED[stack]);
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

            it("the instance and its password are protected and retained", async () => {
                const r = await render(stack);
                const res = one(r, "aws:rds/instance:Instance");
                assert.deepEqual([res.protect, res.retainOnDelete], [true, true], "aws:rds/instance:Instance");
                assert.equal(one(r, "random:index/randomPassword:RandomPassword", "postgres-password").protect, true);
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
});
