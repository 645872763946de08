/**
 * The fake LLM (tools/e2e/fake-llm) against the service's own LLM client and validator, and its manifests.
 */
import { Deployment } from "kubernetes-models/apps/v1";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1";
import { Namespace, Service } from "kubernetes-models/v1";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import * as YAML from "yaml";
import { LlmClient } from "../../service/src/llm";
import { validateCode } from "../../service/src/validation";
import { DEFAULT_ARGS, DEFAULT_DESCRIPTION, DEFAULT_EXPECT } from "../../tools/e2e/check";
import { ROOT } from "../harness";
import { E2E, execute, fakeLlm, useStandIns } from "./stand-in";

describe("fake LLM (tools/e2e/fake-llm)", () => {
    let llmUrl: string;
    useStandIns({ llmUrl: (u) => (llmUrl = u) });

    it("answers the service's own LLM client with code the strict validator accepts and that prints what the check expects", async () => {
        const code = await new LlmClient({ baseUrl: llmUrl, model: "gpt-4", temperature: 0.7, timeoutMs: 5000, apiKey: "sk-e2e" }).generate(
            DEFAULT_DESCRIPTION,
            "e2e-x",
        );
        assert.equal(code, fakeLlm.CODE);
        assert.deepEqual(validateCode(code, { enabled: true, strictMode: true }).problems, []);
        assert.deepEqual(execute(code, DEFAULT_ARGS), { exitCode: 0, stdout: `${DEFAULT_EXPECT}\n` });
    });

    it("rejects requests a real endpoint would reject: no key, no messages, not JSON", async () => {
        const post = (body: string, headers: Record<string, string>) =>
            fetch(`${llmUrl}/chat/completions`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body }).then(async (r) => [
                r.status,
                ((await r.json()) as { error: { message: string } }).error.message,
            ]);
        assert.deepEqual(await post(JSON.stringify({ model: "m", messages: [{ role: "user", content: "x" }] }), {}), [400, "missing bearer token"]);
        assert.deepEqual(await post(JSON.stringify({ model: "m", messages: [] }), { authorization: "Bearer k" }), [
            400,
            "messages must include a user message",
        ]);
        assert.deepEqual(await post("{", { authorization: "Bearer k" }), [400, "body is not JSON"]);
        const health = (await (await fetch(llmUrl.replace(/\/v1$/, "/healthz"))).json()) as { status: string };
        assert.equal(health.status, "ok");
    });

    it("manifests: valid objects, restricted pods on the service image, and exactly one extra path: api egress to the fake LLM's port", () => {
        const kustomization = YAML.parse(fs.readFileSync(path.join(E2E, "fake-llm", "kustomization.yaml"), "utf8")) as {
            resources: string[];
            configMapGenerator: { name: string; namespace: string; files: string[] }[];
        };
        for (const f of [...kustomization.resources, ...kustomization.configMapGenerator.flatMap((g) => g.files)])
            assert.ok(fs.existsSync(path.join(E2E, "fake-llm", f)), f);
        const docs = YAML.parseAllDocuments(fs.readFileSync(path.join(E2E, "fake-llm", "fake-llm.yaml"), "utf8")).map((d) => d.toJS() as { kind: string });
        assert.deepEqual(
            docs.map((d) => d.kind),
            ["Namespace", "Deployment", "Service", "NetworkPolicy"],
        );
        const ns = new Namespace(docs[0] as never);
        const deploy = new Deployment(docs[1] as never);
        const svc = new Service(docs[2] as never);
        const policy = new NetworkPolicy(docs[3] as never);
        for (const o of [ns, deploy, svc, policy]) o.validate();
        assert.equal(ns.metadata!.labels!["pod-security.kubernetes.io/enforce"], "restricted");
        const pod = deploy.spec!.template.spec!;
        const c = pod.containers[0];
        assert.equal(c.image, "cli-platform-service:e2e");
        assert.deepEqual(c.command, ["node", "/opt/fake-llm/server.js"]);
        assert.equal(pod.volumes![0].configMap!.name, kustomization.configMapGenerator[0].name);
        assert.deepEqual(
            [c.securityContext!.allowPrivilegeEscalation, c.securityContext!.readOnlyRootFilesystem, c.securityContext!.capabilities!.drop],
            [false, true, ["ALL"]],
        );
        assert.equal(pod.securityContext!.runAsNonRoot, true);
        assert.equal(svc.spec!.ports![0].port, 8080);
        assert.equal(policy.metadata!.namespace, "cli-platform");
        assert.deepEqual(policy.spec!.podSelector.matchLabels, { "app.kubernetes.io/name": "cli-api" });
        assert.deepEqual(policy.spec!.policyTypes, ["Egress"]);
        assert.deepEqual(policy.spec!.egress, [
            {
                to: [
                    {
                        namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "cli-platform-e2e" } },
                        podSelector: { matchLabels: { "app.kubernetes.io/name": "fake-llm" } },
                    },
                ],
                ports: [{ protocol: "TCP", port: 8080 }],
            },
        ]);
    });

    it("kind config: the context Pulumi.local.yaml deploys into, a node image pinned by digest", () => {
        const kind = YAML.parse(fs.readFileSync(path.join(E2E, "kind-config.yaml"), "utf8")) as {
            kind: string;
            apiVersion: string;
            name: string;
            nodes: { image: string }[];
        };
        const local = YAML.parse(fs.readFileSync(path.join(ROOT, "Pulumi.local.yaml"), "utf8")) as {
            config: Record<string, { context?: string } | undefined>;
        };
        const context = local.config["cli-platform:kubernetes"]?.context ?? "kind-cli-platform";
        assert.equal([kind.kind, kind.apiVersion].join(" "), "Cluster kind.x-k8s.io/v1alpha4");
        assert.equal(`kind-${kind.name}`, context);
        for (const n of kind.nodes) assert.match(n.image, /^kindest\/node:v1\.35\.\d+@sha256:[0-9a-f]{64}$/);
    });
});
