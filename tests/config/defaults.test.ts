/**
 * Defaults live in one place (config/defaults.ts): a stack file holds only what differs from its
 * environment's defaults, and every leaf of a stack's config does something.
 */
import * as assert from "node:assert/strict";
import { isDeepStrictEqual } from "node:util";
import { DEFAULTS, type Environment, NODE_GROUP_DEFAULTS, parseConfig } from "../../config";
import { rawConfig, render, renderWith, stackFile, STACKS, type StackName, type StackRender } from "../harness";

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** Stack-file values equal to the environment's default, as "section.key" paths. */
export function restatedDefaults(file: Obj, environment: Environment): string[] {
    const defaults = DEFAULTS[environment] as Obj;
    const out: string[] = [];
    const walk = (value: unknown, base: unknown, path: string) => {
        if (isObj(value) && isObj(base)) {
            for (const [k, v] of Object.entries(value)) walk(v, base[k], `${path}.${k}`);
        } else if (isDeepStrictEqual(value, base)) out.push(path);
    };
    for (const [fullKey, value] of Object.entries(file)) {
        if (!fullKey.startsWith("cli-platform:")) continue;
        const key = fullKey.slice("cli-platform:".length);
        if (key === "cluster" && isObj(value) && Array.isArray(value.nodeGroups)) {
            // Node groups replace the default list as a whole; each group's fields are completed from NODE_GROUP_DEFAULTS.
            const complete = (groups: unknown) => (groups as Obj[] | undefined)?.map((g) => ({ ...NODE_GROUP_DEFAULTS, ...g }));
            if (isDeepStrictEqual(complete(value.nodeGroups), complete((defaults.cluster as Obj | undefined)?.nodeGroups))) out.push("cluster.nodeGroups");
            (value.nodeGroups as Obj[]).forEach((g, i) => {
                for (const [k, v] of Object.entries(g)) {
                    if (isDeepStrictEqual(v, (NODE_GROUP_DEFAULTS as Obj)[k])) out.push(`cluster.nodeGroups[${i}].${k}`);
                }
            });
            const { nodeGroups: _groups, ...rest } = value;
            walk(rest, defaults.cluster, key);
            continue;
        }
        walk(value, defaults[key], key);
    }
    return out;
}

describe("config: defaults in one place", () => {
    for (const stack of STACKS) {
        it(`Pulumi.${stack}.yaml restates no default of its environment`, () => {
            assert.deepEqual(restatedDefaults(stackFile(stack), stack), []);
        });
    }

    it("the check finds a restated default, nested or in a node group", () => {
        const file = {
            "cli-platform:environment": "dev",
            "cli-platform:protectStatefulResources": false,
            "cli-platform:network": { cidr: "10.10.0.0/16", azCount: 2 },
            "cli-platform:service": { api: { maxReplicas: 3, minReplicas: 2 } },
            "cli-platform:cluster": { nodeGroups: [{ name: "big", instanceTypes: ["m6i.large"], minSize: 1, desiredSize: 1, maxSize: 2, diskSizeGiB: 50 }] },
        };
        assert.deepEqual(restatedDefaults(file, "dev"), [
            "protectStatefulResources",
            "network.azCount",
            "service.api.maxReplicas",
            "cluster.nodeGroups[0].diskSizeGiB",
        ]);
    });
});

// ---------------------------------------------------------------------------------------------
// Every leaf of a stack's config changes its render.
// ---------------------------------------------------------------------------------------------

/** Leaves whose change cannot show in the render, with the reason. */
const CONSUMED_ELSEWHERE: Record<string, string> = {
    "service.llm.provider": 'the only provider is "openai": there is no other value to change it to',
    "local:postgres.mode": 'the local stack has no AWS: "in-cluster" is its only mode',
    "local:redis.mode": 'the local stack has no AWS: "in-cluster" is its only mode',
    "traffic.tls": "must be true on AWS (every internet-facing listener is HTTPS) and false on local: no stack has another valid value",
};

type Change = (value: unknown, section: Obj) => Obj;
const set =
    (next: (v: unknown) => unknown): Change =>
    (v) => ({ __leaf: next(v) });
const num = (delta: number) => set((v) => (v as number) + delta);
const toggle = set((v) => !v);
const to = (value: unknown) => set(() => value);

/**
 * A valid different value for each leaf (keyed by "section.key", node-group fields by
 * "cluster.nodeGroups.key"). `__leaf` stands for the leaf itself; other keys are companions the
 * change needs (e.g. turning TLS on needs an ACME e-mail). `__section` replaces the whole section.
 */
const CHANGES: Record<string, Change> = {
    protectStatefulResources: toggle,
    "network.cidr": to("10.30.0.0/16"),
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
    // Without the traffic layer, Grafana has no host either.
    "traffic.enabled": (v) => ({
        __section: v ? { enabled: false } : { enabled: true, apiHost: "cli.localtest.me" },
        __also: { monitoring: { grafanaHost: undefined } },
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
    "logging.opensearchInstanceType": to("m6g.large.search"),
    "logging.opensearchVolumeGiB": num(10),
};

/** Each leaf of the resolved config: [changes key, display path, value, the object holding it, how to set it]. */
interface Leaf {
    key: string;
    path: string;
    value: unknown;
    holder: Obj;
    apply: (patch: Obj) => Record<string, unknown>;
}

function leavesOf(stack: StackName): Leaf[] {
    const cfg = parseConfig(rawConfig(stack)) as unknown as Obj;
    const out: Leaf[] = [];
    const sectionOverride = (section: string, value: Obj) => ({ [`cli-platform:${section}`]: value });
    out.push({
        key: "protectStatefulResources",
        path: "protectStatefulResources",
        value: cfg.protectStatefulResources,
        holder: cfg,
        apply: (p) => ({ "cli-platform:protectStatefulResources": p.__leaf }),
    });
    for (const section of ["network", "cluster", "kubernetes", "postgres", "redis", "service", "traffic", "dns", "monitoring", "logging"]) {
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
                                    const { __leaf, ...companions } = p;
                                    const groups = (v as Obj[]).map((g, j) => (j === i ? { ...g, ...companions, [field]: __leaf } : g));
                                    return sectionOverride("cluster", { ...resolved, nodeGroups: groups });
                                },
                            });
                        }
                    });
                    continue;
                }
                if (isObj(v) && !(section === "cluster" && k === "labels")) {
                    walk(v, keyPath);
                    continue;
                }
                const holderPath = keyPath.slice(0, -1);
                out.push({
                    key: [section, ...keyPath].join("."),
                    path: [section, ...keyPath].join("."),
                    value: v,
                    holder: holderPath.reduce<Obj>((o, p) => o[p] as Obj, resolved),
                    apply: (p) => {
                        const { __leaf, __section, __secret, __also, ...companions } = p;
                        const also = Object.entries((__also ?? {}) as Record<string, Obj>).map(([other, patch]) => {
                            const merged: Obj = { ...((stackFile(stack)[`cli-platform:${other}`] ?? {}) as Obj), ...patch };
                            for (const [ck, cv] of Object.entries(merged)) if (cv === undefined) delete merged[ck];
                            return sectionOverride(other, merged);
                        });
                        if (__section !== undefined) return Object.assign(sectionOverride(section, __section as Obj), ...also);
                        // The stack file's section with the leaf and its companions set (everything else keeps its default).
                        const next = structuredClone((stackFile(stack)[`cli-platform:${section}`] ?? {}) as Obj);
                        const holder = holderPath.reduce<Obj>((o, part) => (o[part] ??= {}) as Obj, next);
                        Object.assign(holder, companions, { [k]: __leaf });
                        for (const [ck, cv] of Object.entries(holder)) if (cv === undefined) delete holder[ck];
                        return { ...sectionOverride(section, next), ...(__secret ? { "cli-platform:alertWebhookUrl": __secret } : {}) };
                    },
                });
            }
        };
        walk(resolved, []);
    }
    return out;
}

/** What a render declares, minus what moves with anything (image digests by content). */
function fingerprint(r: StackRender): string {
    return JSON.stringify(r.resources.map((x) => [x.urn, x.inputs, x.dependsOn, x.protect, x.retainOnDelete, x.ignoreChanges]));
}

/**
 * Each leaf key is changed once, on the cheapest stack that has it (local, then dev, then prod):
 * a key's effect does not depend on the stack except through its section's mode, and a key of a
 * mode exists only in the stacks running that mode, so it is tested there. (A full cross product
 * costs ~150 evaluations: minutes on a shared machine.)
 */
describe("config: every leaf of every stack changes its render", function () {
    this.timeout(900_000);
    const covered = new Set<string>();
    for (const stack of ["local", "dev", "prod"] as const) {
        it(`${stack}: each leaf not covered by a cheaper stack, changed to another valid value, changes the render (or is listed with its reason)`, async () => {
            const base = fingerprint(await render(stack));
            const inert: string[] = [];
            const missing: string[] = [];
            for (const leaf of leavesOf(stack)) {
                if (CONSUMED_ELSEWHERE[leaf.key] ?? CONSUMED_ELSEWHERE[`${stack}:${leaf.key}`]) continue;
                if (covered.has(leaf.key)) continue;
                const change = CHANGES[leaf.key];
                if (change === undefined) {
                    missing.push(leaf.path);
                    continue;
                }
                const overrides = leaf.apply(change(leaf.value, leaf.holder));
                const changed = await renderWith(stack, overrides, { secretKeys: ["cli-platform:alertWebhookUrl"] });
                if (fingerprint(changed) === base) inert.push(`${leaf.path} (${JSON.stringify(leaf.value)} -> ${JSON.stringify(overrides)})`);
                covered.add(leaf.key);
            }
            assert.deepEqual(missing, [], "leaves with no entry in CHANGES or CONSUMED_ELSEWHERE");
            assert.deepEqual(inert, [], "leaves whose change does not change the render");
        });
    }
});
