/** components/platform/workloads.ts: what the two workloads share (config.yaml, probes, policies). */
import * as assert from "node:assert/strict";
import { serviceConfigYaml } from "../../components/platform/workloads";

const settings = {
    llm: { provider: "openai" as const, model: "gpt-4", temperature: 0.7, timeoutSeconds: 30, baseUrl: "https://api.openai.com/v1" },
    validation: { enabled: true, strictMode: true },
    security: { sandboxEnabled: true, maxExecutionTimeSeconds: 60 },
};

describe("workloads", () => {
    it("config.yaml is checked against the service's schema: a value it would reject fails the program", () => {
        assert.throws(
            () => serviceConfigYaml({ ...settings, llm: { ...settings.llm, timeoutSeconds: 301 } }, { redis: "redis", postgres: "postgres" }, "cli_platform"),
            /^Error: config.yaml for the service is invalid: llm.timeout: Too big: expected number to be <=300$/,
        );
        assert.match(serviceConfigYaml(settings, { redis: "redis.ns", postgres: "pg.ns" }, "cli_platform"), /redis:\n {2}host: redis.ns\n {2}port: 6379\n/);
    });
});
