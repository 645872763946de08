import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { loadConfig } from "../../service/src/config";
import { byType, named, render, STACKS } from "../harness";

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

    it("an existing stack keeps its secrets and workloads: every URN the pre-PlatformService layout gave them is an alias of the resource that replaces it", async () => {
        // URNs as the engine makes them (no pulumi:pulumi:Stack in the type chain; the harness makes them
        // so), with the aliases the SDK resolves (allAliases: the component's own alias to the root stack,
        // and each parent alias carried over to its children). The old URNs are those of a prod render at
        // 4574a4b^ (ServiceSecrets and both CliServices directly under the stack).
        const MOVED: [old: string, now: string][] = [
            [
                "cli-platform:service:CliService$kubernetes:apps/v1:Deployment::cli-api-deployment",
                "cli-platform:service:PlatformService$cli-platform:service:CliService$kubernetes:apps/v1:Deployment::cli-api-deployment",
            ],
            [
                "cli-platform:service:CliService$kubernetes:apps/v1:Deployment::cli-runner-deployment",
                "cli-platform:service:PlatformService$cli-platform:service:CliService$kubernetes:apps/v1:Deployment::cli-runner-deployment",
            ],
            [
                "cli-platform:service:CliService$kubernetes:autoscaling/v2:HorizontalPodAutoscaler::cli-api-hpa",
                "cli-platform:service:PlatformService$cli-platform:service:CliService$kubernetes:autoscaling/v2:HorizontalPodAutoscaler::cli-api-hpa",
            ],
            [
                "cli-platform:service:CliService$kubernetes:autoscaling/v2:HorizontalPodAutoscaler::cli-runner-hpa",
                "cli-platform:service:PlatformService$cli-platform:service:CliService$kubernetes:autoscaling/v2:HorizontalPodAutoscaler::cli-runner-hpa",
            ],
            [
                "cli-platform:service:CliService$kubernetes:core/v1:ConfigMap::cli-api-config",
                "cli-platform:service:PlatformService$cli-platform:service:CliService$kubernetes:core/v1:ConfigMap::cli-api-config",
            ],
            [
                "cli-platform:service:CliService$kubernetes:core/v1:ConfigMap::cli-runner-config",
                "cli-platform:service:PlatformService$cli-platform:service:CliService$kubernetes:core/v1:ConfigMap::cli-runner-config",
            ],
            [
                "cli-platform:service:CliService$kubernetes:core/v1:Service::cli-api-svc",
                "cli-platform:service:PlatformService$cli-platform:service:CliService$kubernetes:core/v1:Service::cli-api-svc",
            ],
            [
                "cli-platform:service:CliService$kubernetes:core/v1:Service::cli-runner-svc",
                "cli-platform:service:PlatformService$cli-platform:service:CliService$kubernetes:core/v1:Service::cli-runner-svc",
            ],
            [
                "cli-platform:service:CliService$kubernetes:core/v1:ServiceAccount::cli-api-sa",
                "cli-platform:service:PlatformService$cli-platform:service:CliService$kubernetes:core/v1:ServiceAccount::cli-api-sa",
            ],
            [
                "cli-platform:service:CliService$kubernetes:core/v1:ServiceAccount::cli-runner-sa",
                "cli-platform:service:PlatformService$cli-platform:service:CliService$kubernetes:core/v1:ServiceAccount::cli-runner-sa",
            ],
            [
                "cli-platform:service:CliService$kubernetes:networking.k8s.io/v1:NetworkPolicy::cli-api-netpol",
                "cli-platform:service:PlatformService$cli-platform:service:CliService$kubernetes:networking.k8s.io/v1:NetworkPolicy::cli-api-netpol",
            ],
            [
                "cli-platform:service:CliService$kubernetes:networking.k8s.io/v1:NetworkPolicy::cli-runner-netpol",
                "cli-platform:service:PlatformService$cli-platform:service:CliService$kubernetes:networking.k8s.io/v1:NetworkPolicy::cli-runner-netpol",
            ],
            [
                "cli-platform:service:CliService$kubernetes:policy/v1:PodDisruptionBudget::cli-api-pdb",
                "cli-platform:service:PlatformService$cli-platform:service:CliService$kubernetes:policy/v1:PodDisruptionBudget::cli-api-pdb",
            ],
            [
                "cli-platform:service:CliService$kubernetes:policy/v1:PodDisruptionBudget::cli-runner-pdb",
                "cli-platform:service:PlatformService$cli-platform:service:CliService$kubernetes:policy/v1:PodDisruptionBudget::cli-runner-pdb",
            ],
            ["cli-platform:service:CliService::cli-api", "cli-platform:service:PlatformService$cli-platform:service:CliService::cli-api"],
            ["cli-platform:service:CliService::cli-runner", "cli-platform:service:PlatformService$cli-platform:service:CliService::cli-runner"],
            [
                "cli-platform:service:ServiceSecrets$kubernetes:core/v1:Secret::cli-platform-secrets-secret",
                "cli-platform:service:PlatformService$cli-platform:service:ServiceSecrets$kubernetes:core/v1:Secret::cli-platform-secrets-secret",
            ],
            [
                "cli-platform:service:ServiceSecrets$random:index/randomPassword:RandomPassword::cli-platform-secrets-api-token",
                "cli-platform:service:PlatformService$cli-platform:service:ServiceSecrets$random:index/randomPassword:RandomPassword::cli-platform-secrets-api-token-admin",
            ],
            [
                "cli-platform:service:ServiceSecrets$random:index/randomPassword:RandomPassword::cli-platform-secrets-runner-token",
                "cli-platform:service:PlatformService$cli-platform:service:ServiceSecrets$random:index/randomPassword:RandomPassword::cli-platform-secrets-runner-token",
            ],
            [
                "cli-platform:service:ServiceSecrets::cli-platform-secrets",
                "cli-platform:service:PlatformService$cli-platform:service:ServiceSecrets::cli-platform-secrets",
            ],
        ];
        const r = await render("prod");
        const stack = "urn:pulumi:prod::cli-platform::";
        for (const [old, now] of MOVED) {
            const adopters = r.resources.filter((x) => x.aliases.includes(stack + old)).map((x) => x.urn);
            assert.deepEqual(adopters, [stack + now], old);
        }
        // Nothing under PlatformService is new to an existing stack: each of its resources adopts an old URN.
        const service = r.resources.filter((x) => x.urn.includes("::cli-platform:service:PlatformService$"));
        assert.deepEqual(service.map((x) => x.urn.slice(stack.length)).sort(), MOVED.map(([, now]) => now).sort());
    });
});
