import * as assert from "node:assert/strict";
import { ConfigError, parseConfig } from "../../config";
import { SUPPORTED_EKS_VERSIONS } from "../../components/versions";
import { awsConfig, rawConfig, renderError, stackFile, type StackName } from "../harness";

/** Parses the stack file with `changes` and returns the error message (fails if it parses). */
function errorOf(stack: StackName, changes: Record<string, unknown>): string {
    try {
        parseConfig(rawConfig(stack, changes));
    } catch (err) {
        assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
        assert.ok(!err.message.includes("\n"), "config errors are one line");
        return err.message;
    }
    assert.fail(`stack ${stack} with ${JSON.stringify(changes)} parsed, but should not have`);
}

/** The stack file's section with `patch` applied shallowly, under its full key. */
function section(stack: StackName, name: string, patch: Record<string, unknown>): Record<string, unknown> {
    const current = (stackFile(stack)[`cli-platform:${name}`] ?? {}) as Record<string, unknown>;
    return { [`cli-platform:${name}`]: { ...current, ...patch } };
}

/** The stack's node groups as it runs them (its own list, or the environment's default), the first one patched. */
function nodeGroup(stack: StackName, patch: Record<string, unknown>): Record<string, unknown> {
    const nodeGroups = awsConfig(rawConfig(stack)).cluster.nodeGroups as unknown as Record<string, unknown>[];
    return section(stack, "cluster", { nodeGroups: [{ ...nodeGroups[0], ...patch }, ...nodeGroups.slice(1)] });
}

function workload(stack: StackName, name: "api" | "runner", patch: Record<string, unknown>): Record<string, unknown> {
    const service = (stackFile(stack)["cli-platform:service"] ?? {}) as Record<string, Record<string, unknown>>;
    return section(stack, "service", { [name]: { ...service[name], ...patch } });
}

describe("config: validation messages", () => {
    const cases: { title: string; stack: StackName; changes: () => Record<string, unknown>; message: string }[] = [
        {
            title: "unknown top-level key",
            stack: "dev",
            changes: () => ({ "cli-platform:netwrok": { cidr: "10.0.0.0/16" } }),
            message: `cli-platform:netwrok = {"cidr":"10.0.0.0/16"}: unknown key; allowed keys: environment, protectStatefulResources, openaiApiKey, alertWebhookUrl, network, cluster, kubernetes, postgres, redis, service, traffic, dns, monitoring, logging`,
        },
        {
            title: "unknown environment",
            stack: "dev",
            changes: () => ({ "cli-platform:environment": "qa" }),
            message: `cli-platform:environment = "qa": must be one of "dev", "staging", "prod", "local"`,
        },
        {
            title: "missing aws:region",
            stack: "dev",
            changes: () => ({ "aws:region": undefined }),
            message: `aws:region = (unset): must be an AWS region such as "eu-west-1" (pulumi config set aws:region <region>)`,
        },
        {
            title: "malformed aws:region",
            stack: "prod",
            changes: () => ({ "aws:region": "Ireland" }),
            message: `aws:region = "Ireland": must be an AWS region such as "eu-west-1" (pulumi config set aws:region <region>)`,
        },
        {
            title: "aws:region on local",
            stack: "local",
            changes: () => ({ "aws:region": "eu-west-1" }),
            message: `aws:region = "eu-west-1": the local stack uses no AWS; remove aws:region`,
        },
        {
            title: "a section that is not an object",
            stack: "dev",
            changes: () => ({ "cli-platform:network": "10.0.0.0/16" }),
            message: `cli-platform:network = "10.0.0.0/16": must be an object (a YAML mapping)`,
        },
        {
            title: "a misspelt nested key",
            stack: "dev",
            changes: () => section("dev", "network", { azCnt: 2 }),
            message: `cli-platform:network.azCnt = 2: unknown key; allowed keys: cidr, azCount, natGateways, flowLogs, flowLogRetentionDays, publicSubnetCidrs, privateSubnetCidrs`,
        },
        {
            title: "wrong type",
            stack: "dev",
            changes: () => section("dev", "network", { azCount: "two" }),
            message: `cli-platform:network.azCount = "two": must be a number`,
        },
        {
            title: "non-integer",
            stack: "dev",
            changes: () => section("dev", "network", { azCount: 2.5 }),
            message: `cli-platform:network.azCount = 2.5: must be an integer`,
        },
        {
            title: "number out of range",
            stack: "prod",
            changes: () => section("prod", "network", { azCount: 7 }),
            message: `cli-platform:network.azCount = 7: must be <= 6`,
        },
        {
            title: "unknown enum value",
            stack: "dev",
            changes: () => section("dev", "network", { natGateways: "two" }),
            message: `cli-platform:network.natGateways = "two": must be one of "single", "perAz"`,
        },
        {
            title: "a CIDR that does not parse",
            stack: "dev",
            changes: () => section("dev", "network", { cidr: "10.0.0.300/16" }),
            message: `cli-platform:network.cidr = "10.0.0.300/16": must be an IPv4 CIDR with host bits clear, such as "10.0.0.0/16"`,
        },
        {
            title: "a CIDR with host bits set",
            stack: "dev",
            changes: () => section("dev", "network", { cidr: "10.0.0.1/16" }),
            message: `cli-platform:network.cidr = "10.0.0.1/16": must be an IPv4 CIDR with host bits clear, such as "10.0.0.0/16"`,
        },
        {
            title: "a VPC too small to plan",
            stack: "dev",
            changes: () => section("dev", "network", { cidr: "10.0.0.0/24" }),
            message: `cli-platform:network.cidr = "10.0.0.0/24": the VPC prefix must be between /16 and /20`,
        },
        {
            title: "subnets outside the VPC",
            stack: "dev",
            changes: () =>
                section("dev", "network", { publicSubnetCidrs: ["10.10.0.0/24", "10.99.1.0/24"], privateSubnetCidrs: ["10.10.32.0/19", "10.10.64.0/19"] }),
            message: `cli-platform:network.publicSubnetCidrs[1] = "10.99.1.0/24": must lie inside the VPC CIDR 10.10.0.0/16`,
        },
        {
            title: "one subnet per AZ",
            stack: "dev",
            changes: () => section("dev", "network", { publicSubnetCidrs: ["10.10.192.0/24"] }),
            message: `cli-platform:network.publicSubnetCidrs = ["10.10.192.0/24"]: must list exactly one CIDR per AZ (network.azCount = 2)`,
        },
        {
            title: "overlapping subnets",
            stack: "dev",
            changes: () =>
                section("dev", "network", { publicSubnetCidrs: ["10.10.192.0/24", "10.10.200.0/24"], privateSubnetCidrs: ["10.10.0.0/19", "10.10.192.0/22"] }),
            message: `cli-platform:network.publicSubnetCidrs[0] = "10.10.192.0/24": overlaps cli-platform:network.privateSubnetCidrs[1] (10.10.192.0/22); subnets must be disjoint`,
        },
        {
            title: "node group min > max",
            stack: "dev",
            changes: () => nodeGroup("dev", { minSize: 5, maxSize: 3, desiredSize: 3 }),
            message: `cli-platform:cluster.nodeGroups[0].minSize = 5: must be <= maxSize (3)`,
        },
        {
            title: "node group desired out of range",
            stack: "prod",
            changes: () => nodeGroup("prod", { desiredSize: 20 }),
            message: `cli-platform:cluster.nodeGroups[0].desiredSize = 20: must be between minSize (3) and maxSize (12)`,
        },
        {
            title: "duplicate node group names",
            stack: "prod",
            changes: () => nodeGroup("prod", { name: "burst" }),
            message: `cli-platform:cluster.nodeGroups[1].name = "burst": node group names must be unique`,
        },
        {
            title: "node group name not a DNS label",
            stack: "dev",
            changes: () => nodeGroup("dev", { name: "General_Pool" }),
            message: `cli-platform:cluster.nodeGroups[0].name = "General_Pool": must be a lowercase DNS label (a-z, 0-9, -; at most 63 characters)`,
        },
        {
            title: "instance type malformed",
            stack: "dev",
            changes: () => nodeGroup("dev", { instanceTypes: ["large"] }),
            message: `cli-platform:cluster.nodeGroups[0].instanceTypes[0] = "large": must be an EC2 instance type such as "m6i.large"`,
        },
        {
            title: "capacity type unknown",
            stack: "dev",
            changes: () => nodeGroup("dev", { capacityType: "RESERVED" }),
            message: `cli-platform:cluster.nodeGroups[0].capacityType = "RESERVED": must be one of "ON_DEMAND", "SPOT"`,
        },
        {
            title: "unsupported Kubernetes version",
            stack: "dev",
            changes: () => section("dev", "cluster", { kubernetesVersion: "1.27" }),
            message: `cli-platform:cluster.kubernetesVersion = "1.27": must be one of ${SUPPORTED_EKS_VERSIONS.map((v) => `"${v}"`).join(", ")}`,
        },
        {
            title: "control-plane logs missing required types",
            stack: "dev",
            changes: () => section("dev", "cluster", { logTypes: ["api"] }),
            message: `cli-platform:cluster.logTypes = ["api"]: must include api, audit, authenticator (missing audit, authenticator)`,
        },
        {
            title: "log retention not a CloudWatch period",
            stack: "dev",
            changes: () => section("dev", "cluster", { logRetentionDays: 10 }),
            message: `cli-platform:cluster.logRetentionDays = 10: must be one of the CloudWatch retention periods (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)`,
        },
        {
            title: "admin principal not an IAM ARN",
            stack: "dev",
            changes: () => section("dev", "cluster", { adminPrincipalArns: ["platform-admin"] }),
            message: `cli-platform:cluster.adminPrincipalArns[0] = "platform-admin": must be an IAM role or user ARN (arn:aws:iam::<12-digit account>:role/<name>)`,
        },
        {
            title: "public CIDRs with public access off",
            stack: "dev",
            changes: () => section("dev", "cluster", { endpointPublicAccess: false }),
            message: `cli-platform:cluster.publicAccessCidrs = ["0.0.0.0/0"]: must be empty when cluster.endpointPublicAccess is false`,
        },
        {
            title: "public access with no CIDRs",
            stack: "dev",
            changes: () => section("dev", "cluster", { publicAccessCidrs: [] }),
            message: `cli-platform:cluster.publicAccessCidrs = []: must list at least one CIDR when cluster.endpointPublicAccess is true (or turn public access off)`,
        },
        {
            title: "staging open to 0.0.0.0/0",
            stack: "staging",
            changes: () => section("staging", "cluster", { publicAccessCidrs: ["0.0.0.0/0"] }),
            message: `cli-platform:cluster.publicAccessCidrs = ["0.0.0.0/0"]: staging may not open the API endpoint to 0.0.0.0/0; list your office/VPN CIDRs`,
        },
        {
            title: "staging without its ACME e-mail (TLS is on by default)",
            stack: "staging",
            changes: () => ({ "cli-platform:traffic": { apiHost: "cli.staging.example.com" } }),
            message: `cli-platform:traffic.acmeEmail = (unset): required when traffic.tls is true (the Let's Encrypt account e-mail)`,
        },
        {
            title: "prod open to 0.0.0.0/0",
            stack: "prod",
            changes: () => section("prod", "cluster", { publicAccessCidrs: ["198.51.100.0/24", "0.0.0.0/0"] }),
            message: `cli-platform:cluster.publicAccessCidrs = ["198.51.100.0/24","0.0.0.0/0"]: prod may not open the API endpoint to 0.0.0.0/0; list your office/VPN CIDRs`,
        },
        {
            title: "a cluster section on local",
            stack: "local",
            changes: () => ({ "cli-platform:cluster": { kubernetesVersion: "1.35" } }),
            message: `cli-platform:cluster = {"kubernetesVersion":"1.35"}: the local environment has no AWS cluster; remove it`,
        },
        {
            title: "a kubernetes section on dev",
            stack: "dev",
            changes: () => ({ "cli-platform:kubernetes": { context: "kind" } }),
            message: `cli-platform:kubernetes = {"context":"kind"}: only the local environment uses cli-platform:kubernetes; remove it`,
        },
        {
            title: "rds on local",
            stack: "local",
            changes: () => section("local", "postgres", { mode: "rds" }),
            message: `cli-platform:postgres.mode = "rds": the local stack has no AWS; must be "in-cluster"`,
        },
        {
            title: "elasticache on local",
            stack: "local",
            changes: () => section("local", "redis", { mode: "elasticache" }),
            message: `cli-platform:redis.mode = "elasticache": the local stack has no AWS; must be "in-cluster"`,
        },
        {
            title: "an AWS log sink on local",
            stack: "local",
            changes: () => section("local", "logging", { sink: "cloudwatch" }),
            message: `cli-platform:logging.sink = "cloudwatch": the local stack has no AWS; must be "stdout" or "none"`,
        },
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

    for (const c of cases) {
        it(`${c.title} (${c.stack})`, () => {
            assert.equal(errorOf(c.stack, c.changes()), `Invalid configuration for stack "${c.stack}": ${c.message}`);
        });
    }

    it("service.runner.runtimeClassName must be a RuntimeClass name", () => {
        assert.equal(
            errorOf("dev", workload("dev", "runner", { runtimeClassName: "G Visor" })),
            `Invalid configuration for stack "dev": cli-platform:service.runner.runtimeClassName = "G Visor": must be a RuntimeClass name (DNS subdomain) such as "gvisor"`,
        );
        assert.equal(parseConfig(rawConfig("dev", workload("dev", "runner", { runtimeClassName: "gvisor" }))).service.runner.runtimeClassName, "gvisor");
        assert.equal(parseConfig(rawConfig("dev")).service.runner.runtimeClassName, undefined);
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
