/** Config validation messages: data stores, logging, the service's workloads, traffic, DNS and monitoring, and how errors are reported. */
import * as assert from "node:assert/strict";
import { parseConfig } from "../../config";
import { rawConfig, renderError, renderWith, stackFile } from "../harness";
import { errorOf, messageTests, section, workload, type MessageCase } from "./message-cases";

describe("config: validation messages (data, workloads, traffic, monitoring; reporting)", () => {
    const cases: MessageCase[] = [
        {
            title: "Multi-AZ Redis with one node",
            stack: "prod",
            changes: () => section("prod", "redis", { nodeCount: 1 }),
            message: `cli-platform:redis.nodeCount = 1: must be >= 2 when redis.multiAz is true (a replica in another AZ)`,
        },
        {
            title: "the removed replicas key names its replacement",
            stack: "dev",
            changes: () => workload("dev", "api", { replicas: 2 }),
            message: `cli-platform:service.api.replicas = 2: removed: it had no effect; set service.api.minReplicas (the HPA's floor and the initial replica count)`,
        },
        {
            title: "minReplicas < 1",
            stack: "dev",
            changes: () => workload("dev", "runner", { minReplicas: 0 }),
            message: `cli-platform:service.runner.minReplicas = 0: must be >= 1`,
        },
        {
            title: "HPA min > max",
            stack: "prod",
            changes: () => workload("prod", "api", { minReplicas: 25 }),
            message: `cli-platform:service.api.minReplicas = 25: must be <= maxReplicas (20)`,
        },
        {
            title: "a key of another mode",
            stack: "dev",
            changes: () => section("dev", "postgres", { instanceClass: "db.r6g.large" }),
            message: `cli-platform:postgres.instanceClass = "db.r6g.large": applies only when postgres.mode is "rds" (it is "in-cluster"); remove it`,
        },
        {
            title: "an unknown mode",
            stack: "dev",
            changes: () => section("dev", "logging", { sink: "syslog" }),
            message: `cli-platform:logging.sink = "syslog": must be one of "cloudwatch", "opensearch", "stdout", "none"`,
        },
        {
            title: "a disabled section with settings",
            stack: "local",
            changes: () => section("local", "traffic", { apiHost: "cli.localtest.me" }),
            message: `cli-platform:traffic.apiHost = "cli.localtest.me": applies only when traffic.enabled is true (it is false); remove it`,
        },
        {
            title: "flow-log retention with flow logs off",
            stack: "dev",
            changes: () => section("dev", "network", { flowLogRetentionDays: 30 }),
            message: `cli-platform:network.flowLogRetentionDays = 30: applies only when network.flowLogs is true; remove it`,
        },
        {
            title: "a value without a default left out",
            stack: "dev",
            changes: () => ({ "cli-platform:traffic": undefined }),
            message: `cli-platform:traffic.apiHost = (unset): required: it has no default (set it in the stack file)`,
        },
        {
            title: "an ACME e-mail without TLS",
            stack: "local",
            changes: () => section("local", "traffic", { enabled: true, apiHost: "cli.localtest.me", acmeEmail: "ops@example.com" }),
            message: `cli-platform:traffic.acmeEmail = "ops@example.com": used only when traffic.tls is true; remove it or turn tls on`,
        },
        {
            title: "a Grafana host without the traffic layer",
            stack: "local",
            changes: () => section("local", "monitoring", { grafanaHost: "grafana.example.com" }),
            message: `cli-platform:monitoring.grafanaHost = "grafana.example.com": needs traffic.enabled (Grafana is exposed through the Gateway); remove it or enable the traffic layer`,
        },
        {
            title: "CPU request above its limit",
            stack: "dev",
            changes: () => workload("dev", "api", { cpuRequest: "1" }),
            message: `cli-platform:service.api.cpuRequest = "1": must be <= cpuLimit (500m)`,
        },
        {
            title: "memory request above its limit",
            stack: "dev",
            changes: () => workload("dev", "runner", { memoryRequest: "1Gi" }),
            message: `cli-platform:service.runner.memoryRequest = "1Gi": must be <= memoryLimit (384Mi)`,
        },
        {
            title: "a runner memory limit below the runner's worst-case memory",
            stack: "prod",
            changes: () => workload("prod", "runner", { memoryLimit: "256Mi" }),
            message: `cli-platform:service.runner.memoryLimit = "256Mi": must be >= 352Mi, the runner's worst-case memory with its default 2 sandboxes (service/README.md "Runner memory budget")`,
        },
        {
            title: "a malformed memory quantity",
            stack: "dev",
            changes: () => workload("dev", "api", { memoryLimit: "512MB" }),
            message: `cli-platform:service.api.memoryLimit = "512MB": must be a memory quantity such as "256Mi" or "1Gi"`,
        },
        {
            title: "an API client name that is not one",
            stack: "dev",
            changes: () => section("dev", "service", { apiClients: ["admin", "Team A"] }),
            message: `cli-platform:service.apiClients[1] = "Team A": must be a client name: lowercase letters, digits, ".", "_" and "-", starting with a letter or digit, at most 63`,
        },
        {
            title: "an API client named twice",
            stack: "prod",
            changes: () => section("prod", "service", { apiClients: ["admin", "ci", "admin"] }),
            message: `cli-platform:service.apiClients = ["admin","ci","admin"]: must not name a client twice`,
        },
        {
            title: "no API client",
            stack: "local",
            changes: () => section("local", "service", { apiClients: [] }),
            message: `cli-platform:service.apiClients = []: must have at least 1 item(s)`,
        },
        {
            title: "LLM temperature out of range",
            stack: "dev",
            changes: () =>
                section("dev", "service", {
                    llm: { provider: "openai", model: "gpt-4", temperature: 3, timeoutSeconds: 30, baseUrl: "https://api.openai.com/v1" },
                }),
            message: `cli-platform:service.llm.temperature = 3: must be <= 2`,
        },
        {
            title: "TLS without an ACME e-mail",
            stack: "prod",
            changes: () => section("prod", "traffic", { acmeEmail: undefined }),
            message: `cli-platform:traffic.acmeEmail = (unset): required when traffic.tls is true (the Let's Encrypt account e-mail)`,
        },
        {
            title: "a host name that is not one",
            stack: "dev",
            changes: () => section("dev", "traffic", { apiHost: "https://cli.example.com" }),
            message: `cli-platform:traffic.apiHost = "https://cli.example.com": must be a fully qualified host name such as "cli.example.com"`,
        },
        {
            title: "plain HTTP on an internet-facing AWS listener",
            stack: "dev",
            changes: () => section("dev", "traffic", { tls: false, acmeEmail: undefined }),
            message: `cli-platform:traffic.tls = false: must be true on AWS: every internet-facing listener is HTTPS (plain HTTP only on local)`,
        },
        {
            title: "TLS on local",
            stack: "local",
            changes: () => section("local", "traffic", { enabled: true, apiHost: "cli.localtest.me", tls: true, acmeEmail: "ops@example.com" }),
            message: `cli-platform:traffic.tls = true: must be false on local: Let's Encrypt cannot reach a local cluster for the HTTP-01 challenge`,
        },
        {
            title: "a negative rate limit",
            stack: "prod",
            changes: () => section("prod", "traffic", { evolveRateLimitPerMinute: -1 }),
            message: `cli-platform:traffic.evolveRateLimitPerMinute = -1: must be >= 0`,
        },
        {
            title: "a rate limit that is not an integer",
            stack: "dev",
            changes: () => section("dev", "traffic", { evolveRateLimitPerMinute: 2.5 }),
            message: `cli-platform:traffic.evolveRateLimitPerMinute = 2.5: must be an integer`,
        },
        {
            title: "a hosted zone id that is not one",
            stack: "prod",
            changes: () => section("prod", "dns", { hostedZoneId: "example.com" }),
            message: `cli-platform:dns.hostedZoneId = "example.com": must be a Route 53 hosted zone id such as "Z0123456789ABCDEFGHIJ"`,
        },
        {
            title: "a hosted zone without the traffic layer",
            stack: "prod",
            changes: () => ({ "cli-platform:traffic": { enabled: false }, "cli-platform:monitoring": {} }),
            message: `cli-platform:dns.hostedZoneId = "Z0123456789EXAMPLE00": needs traffic.enabled (external-dns publishes the Gateway's hosts)`,
        },
        {
            title: "DNS on local",
            stack: "local",
            changes: () => ({ "cli-platform:dns": { hostedZoneId: "Z0123456789EXAMPLE00" } }),
            message: `cli-platform:dns = {"hostedZoneId":"Z0123456789EXAMPLE00"}: the local environment has no AWS dns; remove it`,
        },
        {
            title: "the section of older versions, renamed",
            stack: "dev",
            changes: () => ({ "cli-platform:ingress": { enabled: true } }),
            message: `cli-platform:ingress = {"enabled":true}: renamed to cli-platform:traffic; move its fields there`,
        },
        {
            title: "an alert receiver without its secret URL",
            stack: "prod",
            changes: () => section("prod", "monitoring", { alertReceiver: "slack" }),
            message: `cli-platform:alertWebhookUrl = (unset): required when monitoring.alertReceiver is "slack" (pulumi config set --secret alertWebhookUrl <url>)`,
        },
        {
            title: "a retention that is not a duration",
            stack: "dev",
            changes: () => section("dev", "monitoring", { retention: "3 days" }),
            message: `cli-platform:monitoring.retention = "3 days": must be a Prometheus duration such as "15d"`,
        },
        {
            title: "protectStatefulResources not a boolean",
            stack: "prod",
            changes: () => ({ "cli-platform:protectStatefulResources": "yes" }),
            message: `cli-platform:protectStatefulResources = "yes": must be true or false`,
        },
    ];

    messageTests(cases);

    it("service.runner.runtimeClassName must be a RuntimeClass name", () => {
        assert.equal(
            errorOf("dev", workload("dev", "runner", { runtimeClassName: "G Visor" })),
            `Invalid configuration for stack "dev": cli-platform:service.runner.runtimeClassName = "G Visor": must be a RuntimeClass name (DNS subdomain) such as "gvisor"`,
        );
        assert.equal(parseConfig(rawConfig("dev", workload("dev", "runner", { runtimeClassName: "gvisor" }))).service.runner.runtimeClassName, "gvisor");
        assert.equal(parseConfig(rawConfig("dev")).service.runner.runtimeClassName, undefined);
    });

    it("an alert URL without a receiver is refused, its secret value never printed", async () => {
        const url = "https://hooks.example.com/alerts/0123456789";
        const err = await renderWith("dev", { "cli-platform:alertWebhookUrl": url }, { secretKeys: ["cli-platform:alertWebhookUrl"] }).then(
            () => assert.fail("dev with an alert URL and receiver none evaluated, but it should have failed"),
            (e: Error) => e,
        );
        assert.equal(
            err.message,
            `Invalid configuration for stack "dev": cli-platform:alertWebhookUrl = (set): used only when monitoring is enabled and monitoring.alertReceiver is "webhook" or "slack"; set the receiver or remove it (pulumi config rm alertWebhookUrl)`,
        );
        assert.ok(!err.message.includes(url));
    });

    it("reports every problem at once, in one line", () => {
        const message = errorOf("dev", { ...section("dev", "network", { azCount: 0 }), ...workload("dev", "api", { maxReplicas: 0 }) });
        assert.equal(
            message,
            `Invalid configuration for stack "dev": cli-platform:network.azCount = 0: must be >= 1; cli-platform:service.api.maxReplicas = 0: must be >= 1`,
        );
    });

    it("fails the program before any resource is declared", async () => {
        const err = await renderError("prod", { "cli-platform:network": { ...(stackFile("prod")["cli-platform:network"] as object), azCount: 9 } });
        assert.equal(err.message, `Invalid configuration for stack "prod": cli-platform:network.azCount = 9: must be <= 6`);
        assert.deepEqual(
            err.resources.map((r) => r.type),
            ["pulumi:pulumi:Stack"],
        );
    });
});
