/** components/data/redis.ts: Redis in the cluster (dev, local) or on ElastiCache (staging, prod). */
import * as assert from "node:assert/strict";
import { redisConf } from "../../components/data/redis";
import { byType, meta, named, one, podSpec, render, SECRET } from "../harness";

const STS = "kubernetes:apps/v1:StatefulSet";
const PVC = "kubernetes:core/v1:PersistentVolumeClaim";

describe("Redis", () => {
    for (const stack of ["dev", "local"] as const)
        describe(`in-cluster (${stack})`, () => {
            it("the pinned official image", async () => {
                const r = await render(stack);
                assert.match(String(podSpec(named(r, STS, "redis")).containers[0].image), /^docker\.io\/library\/redis:[0-9]+\.[0-9]+\.[0-9]+-bookworm$/);
            });

            it("its volume is sized from config", async () => {
                const r = await render(stack);
                const claim = byType(r, PVC).find((p) => meta(p).name === "redis-data");
                const spec = claim?.inputs.spec as { resources: { requests: { storage: string } } };
                assert.equal(spec.resources.requests.storage, stack === "dev" ? "5Gi" : "1Gi");
            });

            it("requires a password from its Secret and persists with AOF", async () => {
                const r = await render(stack);
                const conf = named(r, "kubernetes:core/v1:Secret", "redis-config");
                assert.deepEqual(conf.inputs.stringData, { "redis.conf": SECRET, REDIS_PASSWORD: SECRET });
                const main = podSpec(named(r, STS, "redis")).containers[0];
                assert.deepEqual(main.command, ["redis-server", "/etc/redis/redis.conf"]);
                const text = redisConf("pw", 1024);
                assert.match(text, /^requirepass pw$/m);
                assert.match(text, /^appendonly yes$/m);
            });
        });

    /** What differs between the two managed-data stacks: prod Multi-AZ on a large node type, staging single-AZ on a small one. */
    const MANAGED = {
        staging: ["cache.t4g.small", 1, false, false],
        prod: ["cache.r7g.large", 2, true, true],
    } as const;
    for (const stack of ["staging", "prod"] as const)
        describe(`ElastiCache (${stack})`, () => {
            it("transit and at-rest encryption, AUTH token, private subnets; the stack's node type, count, failover and Multi-AZ", async () => {
                const r = await render(stack);
                const rg = one(r, "aws:elasticache/replicationGroup:ReplicationGroup").inputs;
                assert.deepEqual([rg.nodeType, rg.numCacheClusters, rg.automaticFailoverEnabled, rg.multiAzEnabled], MANAGED[stack]);
                assert.equal(rg.transitEncryptionEnabled, true);
                assert.equal(rg.atRestEncryptionEnabled, true);
                assert.equal(rg.authToken, SECRET);
                assert.equal(rg.authTokenUpdateStrategy, "ROTATE");
                assert.equal((one(r, "aws:elasticache/subnetGroup:SubnetGroup").inputs.subnetIds as string[]).length, 3);
            });

            it("the replication group and its password are protected and retained", async () => {
                const r = await render(stack);
                const res = one(r, "aws:elasticache/replicationGroup:ReplicationGroup");
                assert.deepEqual([res.protect, res.retainOnDelete], [true, true], "aws:elasticache/replicationGroup:ReplicationGroup");
                assert.equal(one(r, "random:index/randomPassword:RandomPassword", "redis-password").protect, true);
            });
        });
});
