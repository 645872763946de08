/**
 * No key does nothing (issue #15): changing any leaf of any stack's config changes that stack's
 * render, or the leaf is listed in CONSUMED_ELSEWHERE with the reason its change cannot show.
 *
 * A leaf of a stack is a value of the stack's effective config, `parseConfig` of its stack file:
 * the environment's defaults merged with the file, in the modes the stack runs (a key of another
 * mode, e.g. `postgres.instanceClass` on an in-cluster stack, is not in it, so it is not a leaf of
 * that stack). Every value that is not an object is a leaf: scalars, lists (a list is changed as a
 * whole), `environment`, `protectStatefulResources` and `awsRegion` (`aws:region`); each node group
 * of `cluster.nodeGroups` is walked field by field, and a map whose keys are data rather than
 * schema (a node group's `labels`) is one leaf. Not leaves: `stack` and `target` (the stack's name,
 * and what `environment` decides). An optional key a stack leaves unset (UNSET: the runner's
 * RuntimeClass, `dns.hostedZoneId` and `monitoring.grafanaHost` where a stack has none, the secrets
 * `openaiApiKey` and `alertWebhookUrl`, which no stack file holds) is not a leaf of it, but setting
 * it is a change of its config too, so it is swept the same way.
 *
 * "Changes the render": the variant's `renderDigest` (every resource with its options and inputs,
 * and the stack outputs) differs from the stack's own. Every (stack, leaf) pair is evaluated: about
 * 280 full evaluations of the real program, spread over every core by an EvaluationPool started
 * before the first test of the suite, so they run beside the rest of it. (This file sorts late, so
 * most of them are done when its tests read them.)
 */
import * as assert from "node:assert/strict";
import { isDeepStrictEqual } from "node:util";
import { parseConfig } from "../config";
import { EvaluationPool } from "../tools/evaluation-pool";
import { renderDigest } from "../tools/harness";
import { rawConfig, render, stackFile, STACKS, type StackName } from "./harness";

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** Leaves whose change cannot show in the render, with the reason; `stack:key` for one stack only. */
const CONSUMED_ELSEWHERE: Record<string, string> = {
    "service.llm.provider": 'the only provider is "openai": there is no other value to change it to',
    "local:postgres.mode": 'the local stack has no AWS: "in-cluster" is its only mode',
    "local:redis.mode": 'the local stack has no AWS: "in-cluster" is its only mode',
    "traffic.tls": "must be true on AWS (every internet-facing listener is HTTPS) and false on local: no stack has another valid value",
    // Optional keys left unset (UNSET):
    alertWebhookUrl:
        'refused on its own (a config error: it needs monitoring.alertReceiver "webhook" or "slack", "none" in every stack file; tests/config/messages-workloads.test.ts); changing alertReceiver sets it, and that changes the render',
    "local:monitoring.grafanaHost": "needs traffic.enabled, which the local stack leaves off (its api and Grafana are reached by port-forward)",
};

/** Optional keys, set to this value where a stack leaves them unset (section keys by path; secrets by name). */
const UNSET: Record<string, unknown> = {
    "service.runner.runtimeClassName": "gvisor",
    "dns.hostedZoneId": "Z0OTHERZONE00000000",
    "monitoring.grafanaHost": "grafana.other.example.com",
    openaiApiKey: "sk-test-0123456789abcdef",
    alertWebhookUrl: "https://hooks.example.com/alerts",
};
const SECRETS = ["cli-platform:openaiApiKey", "cli-platform:alertWebhookUrl"];

/**
 * What a change sets: `__leaf` is the leaf's new value; other keys are companions in the leaf's
 * own object that the change needs (e.g. a larger minSize needs a desiredSize at least as large).
 * `__section` replaces the leaf's whole section, `__also` merges into other sections of the stack
 * file (a key set to `undefined` is removed), `__secret` sets `alertWebhookUrl`, and `__extra` adds
 * raw stack-file keys (`aws:region`, whole sections).
 */
interface Patch {
    __leaf?: unknown;
    __section?: Obj;
    __also?: Record<string, Obj>;
    __secret?: string;
    __extra?: Obj;
    [companion: string]: unknown;
}
type Change = (value: unknown, holder: Obj) => Patch;
const set =
    (next: (v: unknown) => unknown): Change =>
    (v) => ({ __leaf: next(v) });
const num = (delta: number) => set((v) => (v as number) + delta);
const toggle = set((v) => !v);
const to = (value: unknown) => set(() => value);
/** `a`, or `b` where the leaf already is `a`. */
const either = (a: unknown, b: unknown) => set((v) => (isDeepStrictEqual(v, a) ? b : a));

/** What the local stack needs to become an AWS stack: what has no default there. */
const AWS_ESSENTIALS = {
    "aws:region": "eu-west-1",
    "cli-platform:network": { cidr: "10.40.0.0/16" },
    "cli-platform:cluster": { publicAccessCidrs: ["203.0.113.0/24"], adminPrincipalArns: ["arn:aws:iam::111122223333:role/platform-admin"] },
    "cli-platform:traffic": { apiHost: "cli.other.example.com", acmeEmail: "platform-team@example.com" },
};

/**
 * A valid different value for each leaf, keyed by "section.key" (node-group fields by
 * "cluster.nodeGroups.key"; top-level keys by their name).
 */
const CHANGES: Record<string, Change> = {
    // dev -> staging needs an API endpoint that is not open to the world; the others -> dev.
    environment: (v, cfg) => {
        if (v === "local") return { __leaf: "dev", __extra: AWS_ESSENTIALS };
        if (v !== "dev") return { __leaf: "dev" };
        return { __leaf: "staging", __extra: { "cli-platform:cluster": { ...(cfg.cluster as Obj), publicAccessCidrs: ["203.0.113.0/24"] } } };
    },
    awsRegion: set((v) => (v === "eu-central-1" ? "eu-west-1" : "eu-central-1")),
    protectStatefulResources: toggle,
    "network.cidr": either("10.50.0.0/16", "10.60.0.0/16"),
    "network.azCount": set((v) => (v === 2 ? 3 : 2)),
    "network.natGateways": set((v) => (v === "single" ? "perAz" : "single")),
    "network.flowLogs": toggle,
    "network.flowLogRetentionDays": set((v) => (v === 30 ? 60 : 30)),
    "network.publicSubnetCidrs": (v, s) => ({ __leaf: (v as string[]).map((_, i) => `${String(s.cidr).split(".").slice(0, 2).join(".")}.${240 + i}.0/24`) }),
    "network.privateSubnetCidrs": (v, s) => ({
        __leaf: (v as string[]).map((_, i) => `${String(s.cidr).split(".").slice(0, 2).join(".")}.${96 + 32 * i}.0/19`),
    }),
    "cluster.kubernetesVersion": set((v) => (v === "1.35" ? "1.34" : "1.35")),
    "cluster.endpointPublicAccess": (v) => (v ? { __leaf: false, publicAccessCidrs: [] } : { __leaf: true, publicAccessCidrs: ["203.0.113.0/24"] }),
    "cluster.publicAccessCidrs": to(["203.0.113.0/24"]),
    "cluster.adminPrincipalArns": set((v) => [...(v as string[]), "arn:aws:iam::111122223333:role/auditor"]),
    "cluster.logTypes": set((v) => ((v as string[]).length === 5 ? ["api", "audit", "authenticator"] : ["api", "audit", "authenticator", "scheduler"])),
    "cluster.logRetentionDays": set((v) => (v === 30 ? 60 : 30)),
    "cluster.autoscaler": toggle,
    "cluster.nodeGroups.name": set((v) => `${String(v)}-b`),
    "cluster.nodeGroups.instanceTypes": to(["c6i.2xlarge"]),
    "cluster.nodeGroups.capacityType": set((v) => (v === "SPOT" ? "ON_DEMAND" : "SPOT")),
    "cluster.nodeGroups.minSize": (v, g) => ({ __leaf: (v as number) + 1, desiredSize: Math.max(g.desiredSize as number, (v as number) + 1) }),
    "cluster.nodeGroups.desiredSize": (v, g) => ({ __leaf: (v as number) + 1, maxSize: Math.max(g.maxSize as number, (v as number) + 1) }),
    "cluster.nodeGroups.maxSize": num(1),
    "cluster.nodeGroups.diskSizeGiB": num(10),
    "cluster.nodeGroups.labels": set((v) => ({ ...(v as Obj), team: "platform" })),
    "cluster.nodeGroups.taints": to([{ key: "dedicated", value: "cli", effect: "NO_SCHEDULE" }]),
    "kubernetes.context": to("kind-other"),
    "kubernetes.storageClassName": to("local-path"),
    "postgres.mode": (v) => ({ __section: v === "rds" ? { mode: "in-cluster" } : { mode: "rds" } }),
    "postgres.database": to("cli_other"),
    "postgres.username": to("other_user"),
    "postgres.storageGiB": num(5),
    "postgres.instanceClass": to("db.r6g.2xlarge"),
    "postgres.multiAz": toggle,
    "postgres.backupRetentionDays": num(7),
    "redis.mode": (v) => ({ __section: v === "elasticache" ? { mode: "in-cluster" } : { mode: "elasticache" } }),
    "redis.storageGiB": num(1),
    "redis.nodeType": to("cache.r7g.2xlarge"),
    "redis.nodeCount": num(1),
    "redis.multiAz": (v, s) => (v ? { __leaf: false } : { __leaf: true, nodeCount: Math.max(2, s.nodeCount as number) }),
    "service.api.minReplicas": (v, w) => ({ __leaf: (v as number) + 1, maxReplicas: Math.max(w.maxReplicas as number, (v as number) + 1) }),
    "service.api.maxReplicas": num(1),
    "service.api.cpuRequest": to("50m"),
    "service.api.memoryRequest": to("64Mi"),
    "service.api.cpuLimit": to("2"),
    "service.api.memoryLimit": to("2Gi"),
    "service.api.targetGenerationRate": num(5),
    "service.runner.minReplicas": (v, w) => ({ __leaf: (v as number) + 1, maxReplicas: Math.max(w.maxReplicas as number, (v as number) + 1) }),
    "service.runner.maxReplicas": num(1),
    "service.runner.cpuRequest": to("50m"),
    "service.runner.memoryRequest": to("64Mi"),
    "service.runner.cpuLimit": to("2"),
    "service.runner.memoryLimit": to("2Gi"),
    "service.llm.model": to("gpt-4o"),
    "service.llm.temperature": to(0.2),
    "service.llm.timeoutSeconds": num(15),
    "service.llm.baseUrl": to("https://llm.example.com/v1"),
    "service.validation.enabled": toggle,
    "service.validation.strictMode": toggle,
    "service.security.sandboxEnabled": toggle,
    "service.security.maxExecutionTimeSeconds": num(-30),
    "service.apiClients": set((v) => [...(v as string[]), "ci"]),
    // Without the traffic layer, Grafana has no host and external-dns no zone either.
    "traffic.enabled": (v) => ({
        __section: v ? { enabled: false } : { enabled: true, apiHost: "cli.localtest.me" },
        __also: { monitoring: { grafanaHost: undefined }, dns: { hostedZoneId: undefined } },
    }),
    "traffic.apiHost": to("api.example.net"),
    "traffic.acmeEmail": to("other@example.com"),
    "traffic.controllerReplicas": num(1),
    "traffic.proxyReplicas": num(1),
    "traffic.evolveRateLimitPerMinute": num(5),
    "dns.hostedZoneId": to("Z0OTHERZONE00000000"),
    "monitoring.enabled": (v) => ({ __section: v ? { enabled: false } : { enabled: true } }),
    "monitoring.retention": to("7d"),
    "monitoring.storageGiB": num(5),
    "monitoring.prometheusReplicas": num(1),
    "monitoring.grafanaHost": to("grafana.example.net"),
    "monitoring.alertReceiver": (v) => ({ __leaf: v === "none" ? "webhook" : "none", __secret: "https://hooks.example.com/alerts" }),
    "logging.sink": (v) => ({ __section: { sink: v === "stdout" ? "none" : v === "cloudwatch" ? "opensearch" : "cloudwatch" } }),
    "logging.retentionDays": set((v) => (v === 30 ? 60 : 30)),
    "logging.opensearchInstanceType": either("m6g.large.search", "r6g.xlarge.search"),
    "logging.opensearchVolumeGiB": num(10),
    ...Object.fromEntries(Object.entries(UNSET).map(([key, value]) => [key, to(value)])),
};

/** One leaf of a stack: its CHANGES key, its path for messages, its value, the object holding it, and how a patch becomes stack-file overrides. */
export interface Leaf {
    key: string;
    path: string;
    value: unknown;
    holder: Obj;
    apply: (patch: Patch) => Obj;
}

const SECTIONS = ["network", "cluster", "kubernetes", "postgres", "redis", "service", "traffic", "dns", "monitoring", "logging"];
/** Top-level leaves and the stack-file key each is set with. */
const TOP_LEVEL: Record<string, string> = {
    environment: "cli-platform:environment",
    protectStatefulResources: "cli-platform:protectStatefulResources",
    awsRegion: "aws:region",
};

/** Every leaf of `stack` (see the file's comment). */
export function leavesOf(stack: StackName): Leaf[] {
    const cfg = parseConfig(rawConfig(stack)) as unknown as Obj;
    const file = stackFile(stack);
    const fileSection = (section: string) => structuredClone((file[`cli-platform:${section}`] ?? {}) as Obj);
    /** Stack-file overrides for a patch: the leaf's own setting plus what every patch may add. */
    const finish = (own: Obj, { __also, __secret, __extra }: Patch): Obj => {
        const also = Object.entries(__also ?? {}).map(([other, patch]) => {
            const merged: Obj = { ...fileSection(other), ...patch };
            for (const [k, v] of Object.entries(merged)) if (v === undefined) delete merged[k];
            // A section the stack file does not have stays absent (local has no dns section at all).
            return Object.keys(merged).length === 0 && !(`cli-platform:${other}` in file) ? {} : { [`cli-platform:${other}`]: merged };
        });
        return Object.assign({}, ...also, own, __secret ? { "cli-platform:alertWebhookUrl": __secret } : {}, __extra ?? {});
    };
    const out: Leaf[] = [];
    for (const [key, fileKey] of Object.entries(TOP_LEVEL)) {
        if (cfg[key] === undefined) continue;
        out.push({ key, path: key, value: cfg[key], holder: cfg, apply: (p) => finish({ [fileKey]: p.__leaf }, p) });
    }
    for (const section of SECTIONS) {
        const resolved = cfg[section] as Obj | undefined;
        if (resolved === undefined) continue;
        const walk = (obj: Obj, prefix: string[]) => {
            for (const [k, v] of Object.entries(obj)) {
                const keyPath = [...prefix, k];
                if (section === "cluster" && k === "nodeGroups") {
                    (v as Obj[]).forEach((group, i) => {
                        for (const [field, fv] of Object.entries(group)) {
                            out.push({
                                key: `cluster.nodeGroups.${field}`,
                                path: `cluster.nodeGroups[${i}].${field}`,
                                value: fv,
                                holder: group,
                                apply: (p) => {
                                    const { __leaf, __section: _s, __also: _a, __secret: _x, __extra: _e, ...companions } = p;
                                    const groups = (v as Obj[]).map((g, j) => (j === i ? { ...g, ...companions, [field]: __leaf } : g));
                                    return finish({ "cli-platform:cluster": { ...fileSection("cluster"), nodeGroups: groups } }, p);
                                },
                            });
                        }
                    });
                    continue;
                }
                if (isObj(v)) {
                    walk(v, keyPath);
                    continue;
                }
                const holderPath = keyPath.slice(0, -1);
                out.push({
                    key: [section, ...keyPath].join("."),
                    path: [section, ...keyPath].join("."),
                    value: v,
                    holder: holderPath.reduce<Obj>((o, part) => o[part] as Obj, resolved),
                    apply: (p) => {
                        const { __leaf, __section, __also: _a, __secret: _x, __extra: _e, ...companions } = p;
                        if (__section !== undefined) return finish({ [`cli-platform:${section}`]: __section }, p);
                        // The stack file's section with the leaf and its companions set (everything else keeps its default).
                        const next = fileSection(section);
                        const holder = holderPath.reduce<Obj>((o, part) => (o[part] ??= {}) as Obj, next);
                        Object.assign(holder, companions, { [k]: __leaf });
                        for (const [ck, cv] of Object.entries(holder)) if (cv === undefined) delete holder[ck];
                        return finish({ [`cli-platform:${section}`]: next }, p);
                    },
                });
            }
        };
        walk(resolved, []);
    }
    return out;
}

/** The UNSET keys `stack` leaves unset, as leaves with no value yet (a section key only where its object exists in the stack's modes). */
export function unsetOf(stack: StackName): Leaf[] {
    const cfg = parseConfig(rawConfig(stack)) as unknown as Obj;
    const file = stackFile(stack);
    const out: Leaf[] = [];
    for (const key of Object.keys(UNSET)) {
        const parts = key.split(".");
        if (parts.length === 1) {
            if (`cli-platform:${key}` in file) continue;
            out.push({ key, path: `${key} (unset)`, value: undefined, holder: cfg, apply: (p) => ({ [`cli-platform:${key}`]: p.__leaf }) });
            continue;
        }
        const [section, ...rest] = parts;
        const holder = rest.slice(0, -1).reduce<Obj | undefined>((o, part) => o?.[part] as Obj | undefined, cfg[section] as Obj | undefined);
        const field = rest[rest.length - 1];
        if (!holder || field in holder) continue;
        out.push({
            key,
            path: `${key} (unset)`,
            value: undefined,
            holder,
            apply: (p) => {
                const next = structuredClone((file[`cli-platform:${section}`] ?? {}) as Obj);
                const at = rest.slice(0, -1).reduce<Obj>((o, part) => (o[part] ??= {}) as Obj, next);
                at[field] = p.__leaf;
                return { [`cli-platform:${section}`]: next };
            },
        });
    }
    return out;
}

const exception = (stack: StackName, leaf: Leaf) => CONSUMED_ELSEWHERE[leaf.key] ?? CONSUMED_ELSEWHERE[`${stack}:${leaf.key}`];

interface Variant {
    leaf: Leaf;
    /** The leaf's new value, where the change sets it (rather than replacing its whole section). */
    next?: { value: unknown };
    overrides: Obj;
    digest: Promise<string>;
}
const pool = new EvaluationPool();
const sweep = new Map<StackName, { control: Promise<string>; variants: Variant[] }>();

// Root-level hooks: the pool starts on the first hook of the whole suite and stops after the last test.
before(() => {
    for (const stack of STACKS) {
        const variants: Variant[] = [];
        for (const leaf of [...leavesOf(stack), ...unsetOf(stack)]) {
            const change = CHANGES[leaf.key];
            if (exception(stack, leaf) || !change) continue;
            const patch = change(leaf.value, leaf.holder);
            const overrides = leaf.apply(patch);
            const digest = pool.digest(stack, { config: overrides, secretKeys: SECRETS });
            digest.catch(() => undefined); // read by the test; not an unhandled rejection meanwhile
            variants.push({ leaf, next: "__leaf" in patch ? { value: patch.__leaf } : undefined, overrides, digest });
        }
        const control = pool.digest(stack);
        control.catch(() => undefined);
        sweep.set(stack, { control, variants });
    }
});
after(() => pool.close());

describe("config: every leaf of every stack changes its render", () => {
    it("the leaves of each stack are its effective config's values, in its modes; its unset optional keys are swept too", () => {
        const paths = Object.fromEntries(STACKS.map((s) => [s, leavesOf(s).map((l) => l.path)]));
        assert.deepEqual(Object.fromEntries(STACKS.map((s) => [s, paths[s].length])), { dev: 68, staging: 76, prod: 87, local: 40 });
        // Modes: RDS keys only where postgres runs on RDS, OpenSearch keys only where logs go there, kubernetes only on local.
        assert.ok(paths.prod.includes("postgres.instanceClass") && !paths.dev.includes("postgres.instanceClass"));
        assert.ok(paths.staging.includes("logging.opensearchVolumeGiB") && !paths.dev.includes("logging.opensearchVolumeGiB"));
        assert.ok(paths.local.includes("kubernetes.context") && !paths.prod.includes("kubernetes.context") && !paths.local.includes("awsRegion"));
        assert.ok(paths.prod.includes("cluster.nodeGroups[1].labels") && paths.prod.includes("awsRegion") && paths.prod.includes("environment"));
        // Optional keys left unset: swept too, where the stack's modes have them.
        assert.deepEqual(Object.fromEntries(STACKS.map((s) => [s, unsetOf(s).map((l) => l.key)])), {
            dev: ["service.runner.runtimeClassName", "dns.hostedZoneId", "monitoring.grafanaHost", "openaiApiKey", "alertWebhookUrl"],
            staging: ["service.runner.runtimeClassName", "dns.hostedZoneId", "monitoring.grafanaHost", "openaiApiKey", "alertWebhookUrl"],
            prod: ["service.runner.runtimeClassName", "openaiApiKey", "alertWebhookUrl"],
            local: ["service.runner.runtimeClassName", "monitoring.grafanaHost", "openaiApiKey", "alertWebhookUrl"],
        });
    });

    it("every exception and every change names a leaf some stack has", () => {
        const keys = new Set(STACKS.flatMap((s) => [...leavesOf(s), ...unsetOf(s)].flatMap((l) => [l.key, `${s}:${l.key}`])));
        assert.deepEqual(
            Object.keys(CONSUMED_ELSEWHERE).filter((k) => !keys.has(k)),
            [],
        );
        assert.deepEqual(
            Object.keys(CHANGES).filter((k) => !keys.has(k)),
            [],
        );
    });

    for (const stack of STACKS) {
        it(`${stack}: each leaf, changed to another valid value, changes the render (or is listed with its reason)`, async function () {
            this.timeout(600_000);
            const base = renderDigest(await render(stack));
            const { control, variants } = sweep.get(stack)!;
            assert.equal(
                await control,
                base,
                `${stack} evaluated again in a worker renders differently: renders are not deterministic, so no change could be told`,
            );
            const missing = [...leavesOf(stack), ...unsetOf(stack)].filter((l) => !exception(stack, l) && !CHANGES[l.key]).map((l) => l.path);
            const unchanged = variants.filter((v) => v.next && isDeepStrictEqual(v.next.value, v.leaf.value)).map((v) => v.leaf.path);
            const invalid: string[] = [];
            const inert: string[] = [];
            for (const { leaf, overrides, digest } of variants) {
                const change = `${leaf.path} (${JSON.stringify(leaf.value)} -> ${JSON.stringify(overrides)})`;
                try {
                    if ((await digest) === base) inert.push(change);
                } catch (err) {
                    invalid.push(`${change}: ${(err as Error).message}`);
                }
            }
            assert.deepEqual(missing, [], "leaves with no entry in CHANGES or CONSUMED_ELSEWHERE");
            assert.deepEqual(unchanged, [], "CHANGES sets these leaves to the value they already have");
            assert.deepEqual(invalid, [], "changes the program refuses (CHANGES must give a valid value)");
            assert.deepEqual(inert, [], "leaves whose change does not change the render");
        });
    }
});
