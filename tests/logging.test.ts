import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as path from "node:path";
import { FLUENT_BIT_SERVICE_ACCOUNT, fluentBitConfig, opensearchWriterPolicy } from "../components/logging";
import { logGroupWriterPolicy, type PolicyDocument } from "../components/iam";
import { CHARTS, ENGINES } from "../components/versions";
import { byType, json, named, type Obj, one, type RecordedResource, render, ROOT, type StackRender } from "./harness";

const fluentBit = (r: StackRender) => one(r, "kubernetes:helm.sh/v3:Release", "logging-fluent-bit");
const values = (r: RecordedResource) =>
    r.inputs.values as {
        kind: string;
        tolerations: Obj[];
        resources: { requests: Obj; limits: Obj };
        serviceAccount: { name: string; annotations: Record<string, string> };
        config: Record<string, string>;
    };

describe("Logging", () => {
    for (const [stack, sink] of [
        ["dev", "cloudwatch"],
        ["staging", "opensearch"],
        ["prod", "opensearch"],
        ["local", "stdout"],
    ] as const) {
        it(`${stack}: Fluent Bit as a DaemonSet on every node, parsing JSON logs with Kubernetes metadata, scrubbing secrets, shipping to ${sink}`, async () => {
            const r = await render(stack);
            const release = fluentBit(r);
            assert.equal(release.inputs.version, CHARTS.fluentBit.version);
            assert.equal(release.inputs.namespace, "logging");
            const v = values(release);
            assert.equal(v.kind, "DaemonSet");
            assert.deepEqual(v.tolerations, [{ operator: "Exists" }]);
            assert.ok(v.resources.requests.cpu && v.resources.limits.memory);
            assert.equal(v.serviceAccount.name, FLUENT_BIT_SERVICE_ACCOUNT);
            assert.match(v.config.filters, /Name kubernetes[\s\S]*Merge_Log On[\s\S]*Labels On/);
            assert.match(v.config.filters, /Name modify[\s\S]*Remove_regex \(\?i\)\^\(authorization\|password/);
            assert.match(v.config.inputs, /Path \/var\/log\/containers\/\*\.log/);
            const output = {
                cloudwatch: /Name cloudwatch_logs/,
                opensearch: /Name opensearch[\s\S]*AWS_Auth On[\s\S]*tls On|Name opensearch[\s\S]*tls On[\s\S]*AWS_Auth On/,
                stdout: /Name stdout/,
            }[sink];
            assert.match(v.config.outputs, output);
            if (sink === "stdout") assert.deepEqual(v.serviceAccount.annotations, {});
            else assert.match(v.serviceAccount.annotations["eks.amazonaws.com/role-arn"], /role\/logging-fluent-bit-role-/);
            const ns = named(r, "kubernetes:core/v1:Namespace", "logging");
            assert.equal((ns.inputs.metadata as { labels: Record<string, string> }).labels["pod-security.kubernetes.io/enforce"], "privileged");
        });
    }

    it("dev: a KMS-encrypted CloudWatch log group with the configured retention, writable only by Fluent Bit", async () => {
        const r = await render("dev");
        const group = one(r, "aws:cloudwatch/logGroup:LogGroup", "logging-containers").inputs;
        assert.equal(group.name, "/aws/eks/cli-platform-dev/containers");
        assert.equal(group.retentionInDays, 14);
        assert.match(String(group.kmsKeyId), /^arn:aws:kms:/);
        const policy = json<PolicyDocument>(one(r, "aws:iam/rolePolicy:RolePolicy", "logging-fluent-bit-policy").inputs.policy);
        assert.deepEqual(policy, logGroupWriterPolicy("arn:aws:logs:eu-west-1:123456789012:log-group:/aws/eks/cli-platform-dev/containers"));
        assert.match(
            String(r.outputs.logsUrl),
            /^https:\/\/eu-west-1\.console\.aws\.amazon\.com\/cloudwatch\/home\?region=eu-west-1#logsV2:log-groups\/log-group\/%2Faws%2Feks%2Fcli-platform-dev%2Fcontainers$/,
        );
        assert.equal(byType(r, "aws:opensearch/domain:Domain").length, 0);
    });

    /** The OpenSearch stacks: data node type and volume, and the index lifecycle's retention. */
    const OPENSEARCH = { staging: ["m6g.large.search", 20, "14"], prod: ["r6g.large.search", 100, "30"] } as const;
    for (const stack of ["staging", "prod"] as const) {
        it(`${stack}: an OpenSearch domain across the AZs, encrypted, HTTPS-only TLS 1.2+, fine-grained access, private, snapshotted, protected`, async () => {
            const r = await render(stack);
            const domain = one(r, "aws:opensearch/domain:Domain");
            const d = domain.inputs as Obj & {
                clusterConfig: Obj;
                ebsOptions: Obj;
                encryptAtRest: Obj;
                nodeToNodeEncryption: Obj;
                domainEndpointOptions: Obj;
                advancedSecurityOptions: Obj & { masterUserOptions: Obj };
                vpcOptions: { subnetIds: string[]; securityGroupIds: string[] };
                snapshotOptions: Obj;
            };
            assert.equal(d.engineVersion, ENGINES.opensearch.version);
            assert.deepEqual(d.clusterConfig, {
                instanceType: OPENSEARCH[stack][0],
                instanceCount: 3,
                zoneAwarenessEnabled: true,
                zoneAwarenessConfig: { availabilityZoneCount: 3 },
            });
            assert.equal((d.ebsOptions as { volumeSize: number }).volumeSize, OPENSEARCH[stack][1]);
            assert.equal(d.encryptAtRest.enabled, true);
            assert.match(String(d.encryptAtRest.kmsKeyId), /^arn:aws:kms:/);
            assert.deepEqual(d.nodeToNodeEncryption, { enabled: true });
            assert.deepEqual(d.domainEndpointOptions, { enforceHttps: true, tlsSecurityPolicy: "Policy-Min-TLS-1-2-PFS-2023-10" });
            assert.equal(d.advancedSecurityOptions.enabled, true);
            assert.equal(d.advancedSecurityOptions.internalUserDatabaseEnabled, false);
            assert.equal(d.vpcOptions.subnetIds.length, 3);
            assert.deepEqual(d.snapshotOptions, { automatedSnapshotStartHour: 3 });
            assert.deepEqual([domain.protect, domain.retainOnDelete], [true, true]);
            const access = json<PolicyDocument>(d.accessPolicies);
            const principals = access.Statement[0].Principal!.AWS as string[];
            assert.equal(principals.length, 3);
            assert.match(principals[0], /role\/logging-fluent-bit-role-/);
            assert.match(principals[1], /role\/logging-os-bootstrap-role-/);
            assert.equal(principals[2], "arn:aws:iam::111122223333:role/platform-admin");
            const sg = one(r, "aws:ec2/securityGroup:SecurityGroup", "logging-os-sg").inputs as {
                ingress: { fromPort: number; toPort: number; securityGroups: string[]; cidrBlocks?: string[] }[];
            };
            assert.deepEqual(
                sg.ingress.map((i) => [i.fromPort, i.toPort, i.cidrBlocks]),
                [[443, 443, undefined]],
            );
            const writer = json<PolicyDocument>(one(r, "aws:iam/rolePolicy:RolePolicy", "logging-fluent-bit-policy").inputs.policy);
            assert.deepEqual(writer, opensearchWriterPolicy(`arn:aws:es:eu-west-1:123456789012:domain/cli-platform-${stack}`));
            assert.match(String(r.outputs.logsUrl), /^https:\/\//);
        });

        it(`${stack}: a Job applies the index lifecycle (delete after the retention) and the role mappings from inside the VPC`, async () => {
            const r = await render(stack);
            const job = one(r, "kubernetes:batch/v1:Job");
            const container = (((job.inputs.spec as Obj).template as Obj).spec as { containers: { env: { name: string; value: string }[] }[] }).containers[0];
            const env = Object.fromEntries(container.env.map((e) => [e.name, e.value]));
            assert.equal(env.RETENTION_DAYS, OPENSEARCH[stack][2]);
            assert.equal(env.INDEX_PREFIX, "cli-platform");
            const script = (one(r, "kubernetes:core/v1:ConfigMap", "logging-os-bootstrap").inputs.data as Record<string, string>)["bootstrap.py"];
            assert.match(script, /"delete": \{\}/);
            assert.match(script, /_plugins\/_ism\/policies/);
            execFileSync("python3", ["-m", "py_compile", path.join(ROOT, "components", "assets", "opensearch-bootstrap.py")]);
        });
    }

    it("local: stdout, no AWS; logsUrl is the kubectl command", async () => {
        const r = await render("local");
        assert.equal(String(r.outputs.logsUrl), "kubectl -n logging logs daemonset/fluent-bit");
    });

    it("the pipeline config names its sink's settings", () => {
        const c = fluentBitConfig("cloudwatch", { region: "eu-west-1", logGroup: "/g" });
        assert.match(c.outputs, /region eu-west-1\n\s+log_group_name \/g/);
        assert.match(fluentBitConfig("opensearch", { region: "eu-west-1", endpoint: "vpc-x.es.amazonaws.com" }).outputs, /Host vpc-x\.es\.amazonaws\.com/);
    });
});
