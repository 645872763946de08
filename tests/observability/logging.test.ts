import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { FLUENT_BIT_SERVICE_ACCOUNT, fluentBitConfig, opensearchWriterPolicy } from "../../components/observability/logging";
import { logGroupWriterPolicy, type PolicyDocument } from "../../components/aws/iam";
import { CHARTS, ENGINES } from "../../components/versions";
import { byType, json, named, type Obj, one, type RecordedResource, render, ROOT, type StackRender } from "../harness";

/**
 * A model of the parts of Fluent Bit v5.1.1 (the fluent-bit chart 0.58.1's appVersion) our
 * pipeline relies on, written from its source at that tag, so tests can follow a log line through
 * the rendered config:
 *   - classic config: `[SECTION]` headers, `Key Value` lines, keys case-insensitive;
 *   - filter kubernetes (plugins/filter_kubernetes/kubernetes.c, merge_log / keep_log): with
 *     Merge_Log On a `log` value that parses as a JSON map is merged at the top level
 *     (Merge_Log_Key unset) and `log` is kept only with Keep_Log On (the default); a value that does
 *     not parse keeps `log`; metadata is added under `kubernetes`;
 *   - filter modify Remove_regex (plugins/filter_modify/modify.c): drops keys matching the regex;
 *   - out cloudwatch_logs (plugins/out_cloudwatch_logs/cloudwatch_api.c, process_and_send): with
 *     log_key only that key's value is sent and a record without it is dropped ("Could not find
 *     log_key"); without it the whole record is sent as JSON; log_format sets the
 *     x-amzn-logs-format header of PutLogEvents;
 *   - out opensearch / stdout: the whole record.
 */
type Section = { name: string; props: Map<string, string> };

/** Parses Fluent Bit's classic configuration format. */
function parseClassic(text: string): Section[] {
    const sections: Section[] = [];
    for (const raw of text.split("\n")) {
        const line = raw.trim();
        if (!line || line.startsWith("#")) continue;
        const header = /^\[([A-Z]+)\]$/.exec(line);
        if (header) {
            sections.push({ name: header[1], props: new Map() });
            continue;
        }
        const m = /^(\S+)\s+(.*)$/.exec(line);
        if (!m || sections.length === 0) throw new Error(`not a Fluent Bit classic config line: "${raw}"`);
        sections[sections.length - 1].props.set(m[1].toLowerCase(), m[2]);
    }
    return sections;
}

const on = (v: string | undefined, dflt: boolean) => (v === undefined ? dflt : /^(on|true|yes|1)$/i.test(v));

/** PCRE-style (?i) prefix → a JavaScript RegExp. */
function regex(src: string): RegExp {
    return src.startsWith("(?i)") ? new RegExp(src.slice(4), "i") : new RegExp(src);
}

/** What the output ships for one container log line, or undefined when it drops the record. */
function ship(config: Record<string, string>, line: string, kubernetes: Record<string, unknown>): unknown {
    const sections = parseClassic(Object.values(config).join("\n"));
    let record: Record<string, unknown> = { stream: "stdout", log: line };
    for (const f of sections.filter((s) => s.name === "FILTER")) {
        const p = f.props;
        if (p.get("name") === "kubernetes") {
            let merged: Record<string, unknown> | undefined;
            if (on(p.get("merge_log"), false)) {
                try {
                    const v = JSON.parse(String(record.log)) as unknown;
                    if (v && typeof v === "object" && !Array.isArray(v)) merged = v as Record<string, unknown>;
                } catch {
                    merged = undefined;
                }
            }
            const next: Record<string, unknown> = { ...record };
            if (merged && !on(p.get("keep_log"), true)) delete next.log;
            record = { ...next, ...(merged ?? {}), kubernetes };
        } else if (p.get("name") === "modify" && p.has("remove_regex")) {
            const re = regex(p.get("remove_regex")!);
            record = Object.fromEntries(Object.entries(record).filter(([k]) => !re.test(k)));
        }
    }
    const outputs = sections.filter((s) => s.name === "OUTPUT");
    if (outputs.length !== 1) throw new Error(`expected one [OUTPUT], found ${outputs.length}`);
    const out = outputs[0].props;
    if (out.get("name") === "cloudwatch_logs" && out.has("log_key")) return record[out.get("log_key")!];
    return record;
}

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
            // The shipped script compiles; the bytecode goes to a temporary directory, never into the tree.
            const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "bootstrap-"));
            try {
                fs.writeFileSync(path.join(tmp, "bootstrap.py"), script);
                execFileSync("python3", [
                    "-c",
                    "import sys, py_compile; py_compile.compile(sys.argv[1], cfile=sys.argv[2], doraise=True)",
                    path.join(tmp, "bootstrap.py"),
                    path.join(tmp, "bootstrap.pyc"),
                ]);
            } finally {
                fs.rmSync(tmp, { recursive: true, force: true });
            }
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

describe("Fluent Bit pipeline (fluent-bit v5.1.1 semantics)", () => {
    const KEYS = JSON.parse(fs.readFileSync(path.join(ROOT, "tests", "fixtures", "fluent-bit-5.1.1-keys.json"), "utf8")) as {
        service: string[];
        input: Record<string, string[]>;
        filter: Record<string, string[]>;
        output: Record<string, string[]>;
    };
    const meta = { namespace_name: "cli-platform", pod_name: "cli-api-7d9f-abcde", container_name: "api", labels: { "app.kubernetes.io/name": "cli-api" } };
    const sinks = {
        cloudwatch: fluentBitConfig("cloudwatch", { region: "eu-west-1", logGroup: "/aws/eks/c/containers" }),
        opensearch: fluentBitConfig("opensearch", { region: "eu-west-1", endpoint: "vpc-x.eu-west-1.es.amazonaws.com" }),
        stdout: fluentBitConfig("stdout", {}),
    };

    for (const [sink, config] of Object.entries(sinks)) {
        it(`${sink}: a JSON line (pino) arrives as its fields with Kubernetes metadata, secrets scrubbed, no raw copy`, () => {
            const line = JSON.stringify({ level: 30, time: 1764115200000, msg: "command generated", reqId: "r-1", authorization: "Bearer t", password: "p" });
            assert.deepEqual(ship(config, line, meta), {
                stream: "stdout",
                level: 30,
                time: 1764115200000,
                msg: "command generated",
                reqId: "r-1",
                kubernetes: meta,
            });
        });

        it(`${sink}: a plain-text line arrives as log with Kubernetes metadata`, () => {
            assert.deepEqual(ship(config, "listening on 0.0.0.0:8000", meta), { stream: "stdout", log: "listening on 0.0.0.0:8000", kubernetes: meta });
        });

        it(`${sink}: every key is one fluent-bit v5.1.1 accepts for its section and plugin`, () => {
            for (const s of parseClassic(Object.values(config).join("\n"))) {
                const kind = s.name.toLowerCase() as "service" | "input" | "filter" | "output";
                const allowed = kind === "service" ? KEYS.service : [...KEYS[kind].common, ...(KEYS[kind][s.props.get("name")!] ?? [])];
                if (kind !== "service") assert.ok(KEYS[kind][s.props.get("name")!], `${sink}: no key list for ${kind} ${s.props.get("name")}`);
                for (const key of s.props.keys()) assert.ok(allowed.includes(key), `${sink}: [${s.name}] ${key} is not a fluent-bit v5.1.1 ${kind} key`);
            }
        });
    }

    it("cloudwatch: no log_key (it would drop merged JSON records) and no log_format json/emf (the records are not EMF)", () => {
        const out = parseClassic(sinks.cloudwatch.outputs)[0].props;
        assert.deepEqual([out.has("log_key"), out.has("log_format")], [false, false]);
    });
});
