/** Config validation messages: the file's shape, regions, the network and the cluster (the rest: messages-workloads.test.ts). */
import { SUPPORTED_EKS_VERSIONS } from "../../components/versions";
import { messageTests, nodeGroup, section, type MessageCase } from "./message-cases";

describe("config: validation messages (shape, network, cluster)", () => {
    const cases: MessageCase[] = [
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
    ];
    messageTests(cases);
});
