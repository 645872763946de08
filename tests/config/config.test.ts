import * as assert from "node:assert/strict";
import { parseConfig } from "../../config";
import { awsConfig, rawConfig, stackFile, STACKS } from "../harness";

describe("config: the stack files", () => {
    for (const stack of STACKS) {
        it(`${stack} parses, with environment ${stack}`, () => {
            const cfg = parseConfig(rawConfig(stack));
            assert.equal(cfg.environment, stack);
            assert.equal(cfg.target, stack === "local" ? "local" : "aws");
        });
    }

    it("dev and prod differ where environments should", () => {
        const dev = awsConfig(rawConfig("dev"));
        const prod = awsConfig(rawConfig("prod"));
        assert.deepEqual([dev.network.azCount, prod.network.azCount], [2, 3]);
        assert.deepEqual([dev.network.natGateways, prod.network.natGateways], ["single", "perAz"]);
        assert.deepEqual([dev.protectStatefulResources, prod.protectStatefulResources], [false, true]);
        assert.deepEqual([dev.postgres.mode, prod.postgres.mode], ["in-cluster", "rds"]);
        assert.deepEqual([dev.redis.mode, prod.redis.mode], ["in-cluster", "elasticache"]);
        assert.deepEqual([dev.service.api.minReplicas, dev.service.api.maxReplicas, prod.service.api.minReplicas, prod.service.api.maxReplicas], [1, 3, 3, 20]);
        assert.ok(dev.monitoring.enabled && prod.monitoring.enabled);
        assert.deepEqual([dev.monitoring.prometheusReplicas, prod.monitoring.prometheusReplicas], [1, 2]);
        assert.deepEqual([dev.monitoring.retention, prod.monitoring.retention], ["3d", "30d"]);
        assert.deepEqual([dev.network.flowLogs, prod.network.flowLogs], [false, true]);
    });

    it("staging is prod's shape at a smaller size", () => {
        const s = awsConfig(rawConfig("staging"));
        assert.deepEqual([s.network.cidr, s.network.azCount, s.network.natGateways, s.network.flowLogs], ["10.30.0.0/16", 3, "single", true]);
        assert.deepEqual(
            s.cluster.nodeGroups.map((g) => [g.name, g.capacityType, g.minSize, g.desiredSize, g.maxSize]),
            [["general", "ON_DEMAND", 2, 2, 6]],
        );
        assert.deepEqual([s.cluster.logTypes.length, s.cluster.logRetentionDays, s.cluster.publicAccessCidrs], [5, 14, ["198.51.100.0/24"]]);
        assert.deepEqual([s.postgres.mode, s.redis.mode, s.logging.sink], ["rds", "elasticache", "opensearch"]);
        assert.ok(s.postgres.mode === "rds" && s.redis.mode === "elasticache" && s.logging.sink === "opensearch");
        assert.ok(s.monitoring.enabled && s.traffic.enabled);
        assert.deepEqual([s.postgres.instanceClass, s.postgres.multiAz], ["db.t4g.medium", false]);
        assert.deepEqual([s.redis.nodeType, s.redis.nodeCount, s.redis.multiAz], ["cache.t4g.small", 1, false]);
        assert.deepEqual([s.service.api.minReplicas, s.service.api.maxReplicas, s.service.runner.minReplicas, s.service.runner.maxReplicas], [2, 6, 2, 4]);
        assert.deepEqual([s.monitoring.retention, s.monitoring.prometheusReplicas, s.logging.retentionDays], ["14d", 1, 14]);
        assert.deepEqual([s.traffic.tls, s.protectStatefulResources], [true, true]);
        assert.deepEqual(Object.keys(stackFile("staging")).sort(), [
            "aws:region",
            "cli-platform:cluster",
            "cli-platform:environment",
            "cli-platform:network",
            "cli-platform:traffic",
        ]);
    });

    it("defaults fill what a stack file leaves out, per environment", () => {
        const cfg = awsConfig({
            stack: "minimal",
            values: {
                environment: "prod",
                network: { cidr: "10.20.0.0/16" },
                traffic: { apiHost: "cli.example.org", acmeEmail: "ops@example.com" },
                cluster: { publicAccessCidrs: ["198.51.100.0/24"] },
            },
            awsRegion: "us-east-1",
        });
        assert.deepEqual(cfg.service.api, {
            minReplicas: 3,
            maxReplicas: 20,
            cpuRequest: "250m",
            memoryRequest: "256Mi",
            cpuLimit: "500m",
            memoryLimit: "512Mi",
            targetGenerationRate: 10,
        });
        assert.deepEqual(cfg.network.privateSubnetCidrs, ["10.20.0.0/19", "10.20.32.0/19", "10.20.64.0/19"]);
        assert.deepEqual(cfg.network.publicSubnetCidrs, ["10.20.192.0/21", "10.20.200.0/21", "10.20.208.0/21"]);
        assert.equal(cfg.cluster.nodeGroups[0].capacityType, "ON_DEMAND");
        assert.equal(cfg.cluster.nodeGroups[0].diskSizeGiB, 100);
        assert.deepEqual(cfg.cluster.nodeGroups[0].taints, []);
    });

    it("no stack file holds a plain-text secret", () => {
        for (const stack of STACKS) {
            for (const [key, value] of Object.entries(stackFile(stack))) {
                if (/(password|secret|token|apikey|webhook)/i.test(key))
                    assert.ok(value && typeof value === "object" && "secure" in value, `${stack}: ${key} must be set with --secret`);
            }
        }
    });
});
