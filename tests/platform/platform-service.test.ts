import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { serviceConfigYaml } from "../../components/platform/workloads";
import { loadConfig } from "../../service/src/config";
import { byType, named, render, STACKS } from "../harness";

const settings = {
    llm: { provider: "openai" as const, model: "gpt-4", temperature: 0.7, timeoutSeconds: 30, baseUrl: "https://api.openai.com/v1" },
    validation: { enabled: true, strictMode: true },
    security: { sandboxEnabled: true, maxExecutionTimeSeconds: 60 },
};

/** Loads a config.yaml with the service's own loader, as the api would at start. */
function loadWithService(yaml: string) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "config-yaml-"));
    try {
        const file = path.join(dir, "config.yaml");
        fs.writeFileSync(file, yaml);
        return loadConfig({ CONFIG_PATH: file, POSTGRES_URL: "postgres://u:p@db:5432/cli_platform", REDIS_URL: "redis://:p@cache:6379" }, "api");
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

describe("PlatformService", () => {
    for (const stack of STACKS) {
        it(`${stack}: the rendered config.yaml of both workloads loads with the service's own loader`, async () => {
            const r = await render(stack);
            for (const workload of ["cli-api", "cli-runner"]) {
                const data = named(r, "kubernetes:core/v1:ConfigMap", `${workload}-config`).inputs.data as Record<string, string>;
                const cfg = loadWithService(data["config.yaml"]);
                assert.equal(cfg.version, "1.0.0");
                assert.deepEqual(cfg.llm, {
                    provider: "openai",
                    model: "gpt-4",
                    temperature: 0.7,
                    timeoutMs: 30000,
                    baseUrl: "https://api.openai.com/v1",
                    apiKey: undefined,
                });
                assert.deepEqual(cfg.validation, { enabled: true, strictMode: true });
                assert.deepEqual(cfg.security, { sandboxEnabled: true, maxExecutionTimeMs: 60000 });
            }
        });
    }

    it("owns the service's Secret and both workloads", async () => {
        const r = await render("prod");
        const component = byType(r, "cli-platform:service:PlatformService");
        assert.equal(component.length, 1);
        const children = r.resources.filter((x) => x.parent === component[0].urn).map((x) => `${x.type}::${x.name}`);
        assert.deepEqual(children.sort(), [
            "cli-platform:service:CliService::cli-api",
            "cli-platform:service:CliService::cli-runner",
            "cli-platform:service:ServiceSecrets::cli-platform-secrets",
        ]);
    });

    it("config.yaml is checked against the service's schema: a value it would reject fails the program", () => {
        assert.throws(
            () => serviceConfigYaml({ ...settings, llm: { ...settings.llm, timeoutSeconds: 301 } }, { redis: "redis", postgres: "postgres" }, "cli_platform"),
            /^Error: config.yaml for the service is invalid: llm.timeout: Too big: expected number to be <=300$/,
        );
        assert.match(serviceConfigYaml(settings, { redis: "redis.ns", postgres: "pg.ns" }, "cli_platform"), /redis:\n {2}host: redis.ns\n {2}port: 6379\n/);
    });
});
