/** Validates and defaults one stack's configuration. Pure: no Pulumi runtime needed. */
import { z } from "zod";
import { AWS_ONLY, DEFAULTS, LOCAL_MODES, LOCAL_ONLY, NODE_GROUP_DEFAULTS } from "./defaults";
import { ConfigError, problem, show, zodProblems } from "./errors";
import { crossFieldProblems } from "./rules";
import {
    AWS_REGION,
    DEPENDENT_KEYS,
    type ClusterConfig,
    type DnsConfig,
    type Environment,
    ENVIRONMENTS,
    type KubernetesConfig,
    MODE_KEYS,
    type ModalSection,
    type NetworkConfig,
    type PlatformConfig,
    PROJECT,
    SECTIONS,
    type SectionName,
} from "./schema";

/** What the stack's config holds, before validation: section values are already JSON-decoded. */
export interface RawConfig {
    stack: string;
    /** `cli-platform:<key>` values, keyed without the namespace. */
    values: Record<string, unknown>;
    /** `aws:region`. */
    awsRegion?: string;
    secrets?: PlatformConfig["secrets"];
}

const SCALAR_KEYS = ["environment", "protectStatefulResources"] as const;
export const SECRET_KEYS = ["openaiApiKey", "alertWebhookUrl"] as const;
export const KNOWN_KEYS: readonly string[] = [...SCALAR_KEYS, ...SECRET_KEYS, ...Object.keys(SECTIONS)];
/** Keys of older versions of this program and where their fields live now. */
const RENAMED_KEYS: Record<string, string> = { ingress: "traffic" };

function isPlainObject(v: unknown): v is Record<string, unknown> {
    return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Validates and defaults one stack's configuration. Pure: no Pulumi runtime needed.
 * Throws ConfigError listing every problem found.
 */
export function parseConfig(raw: RawConfig): PlatformConfig {
    const { stack, values } = raw;
    const problems: string[] = [];

    for (const key of Object.keys(values)) {
        if (key in RENAMED_KEYS) problems.push(problem([key], values[key], `renamed to ${PROJECT}:${RENAMED_KEYS[key]}; move its fields there`));
        else if (!KNOWN_KEYS.includes(key)) problems.push(problem([key], values[key], `unknown key; allowed keys: ${KNOWN_KEYS.join(", ")}`));
    }

    const environmentRaw = values.environment;
    if (!ENVIRONMENTS.includes(environmentRaw as Environment)) {
        problems.push(problem(["environment"], environmentRaw, `must be one of ${ENVIRONMENTS.map((e) => JSON.stringify(e)).join(", ")}`));
        throw new ConfigError(stack, problems);
    }
    const environment = environmentRaw as Environment;
    const defaults = DEFAULTS[environment];
    const onAws = environment !== "local";

    let protectStatefulResources = defaults.protectStatefulResources;
    if (values.protectStatefulResources !== undefined) {
        if (typeof values.protectStatefulResources === "boolean") protectStatefulResources = values.protectStatefulResources;
        else problems.push(problem(["protectStatefulResources"], values.protectStatefulResources, "must be true or false"));
    }

    if (onAws && (raw.awsRegion === undefined || !AWS_REGION.test(raw.awsRegion))) {
        problems.push(`aws:region = ${show(raw.awsRegion)}: must be an AWS region such as "eu-west-1" (pulumi config set aws:region <region>)`);
    }
    if (!onAws && raw.awsRegion !== undefined) {
        problems.push(`aws:region = ${show(raw.awsRegion)}: the local stack uses no AWS; remove aws:region`);
    }

    const sections: Partial<Record<SectionName, unknown>> = {};
    for (const name of Object.keys(SECTIONS) as SectionName[]) {
        const given = values[name];
        if (onAws && LOCAL_ONLY.includes(name)) {
            if (given !== undefined) problems.push(problem([name], given, `only the local environment uses ${PROJECT}:${name}; remove it`));
            continue;
        }
        if (!onAws && AWS_ONLY.includes(name)) {
            if (given !== undefined) problems.push(problem([name], given, `the local environment has no AWS ${name}; remove it`));
            continue;
        }
        if (given !== undefined && !isPlainObject(given)) {
            problems.push(problem([name], given, "must be an object (a YAML mapping)"));
            continue;
        }
        const base = (defaults[name] ?? {}) as Record<string, unknown>;
        const parsed =
            name in MODE_KEYS
                ? parseModal(name as ModalSection, base, given ?? {}, onAws ? undefined : LOCAL_MODES[name as ModalSection])
                : parsePlain(name, base, given ?? {});
        if (parsed.ok) sections[name] = parsed.value;
        else problems.push(...parsed.problems);
    }
    if (problems.length > 0) throw new ConfigError(stack, problems);

    const common = {
        stack,
        environment,
        postgres: sections.postgres as PlatformConfig["postgres"],
        redis: sections.redis as PlatformConfig["redis"],
        service: sections.service as PlatformConfig["service"],
        traffic: sections.traffic as PlatformConfig["traffic"],
        monitoring: sections.monitoring as PlatformConfig["monitoring"],
        logging: sections.logging as PlatformConfig["logging"],
        protectStatefulResources,
        secrets: raw.secrets ?? {},
    };
    const cfg: PlatformConfig =
        onAws && raw.awsRegion !== undefined
            ? {
                  ...common,
                  target: "aws",
                  awsRegion: raw.awsRegion,
                  network: sections.network as NetworkConfig,
                  cluster: sections.cluster as ClusterConfig,
                  dns: sections.dns as DnsConfig,
              }
            : { ...common, target: "local", kubernetes: sections.kubernetes as KubernetesConfig };

    problems.push(...crossFieldProblems(cfg));
    if (problems.length > 0) throw new ConfigError(stack, problems);
    return cfg;
}

type Parsed = { ok: true; value: unknown } | { ok: false; problems: string[] };

/** Field-wise merge over the environment's defaults; nested objects (service.api, ...) too. */
function mergeOver(base: Record<string, unknown>, given: Record<string, unknown>): Record<string, unknown> {
    const merged: Record<string, unknown> = { ...base };
    for (const [k, v] of Object.entries(given)) {
        merged[k] = isPlainObject(v) && isPlainObject(base[k]) ? { ...base[k], ...v } : v;
    }
    return merged;
}

function parsePlain(name: SectionName, base: Record<string, unknown>, given: Record<string, unknown>): Parsed {
    const merged = mergeOver(base, given);
    const problems: string[] = [];
    for (const [key, [switchKey, on]] of Object.entries(DEPENDENT_KEYS[name] ?? {})) {
        if (merged[switchKey] === on) continue;
        if (key in given) problems.push(problem([name, key], given[key], `applies only when ${name}.${switchKey} is ${JSON.stringify(on)}; remove it`));
        delete merged[key];
    }
    // Node groups replace the default list as a whole; each group is completed from NODE_GROUP_DEFAULTS.
    if (name === "cluster" && Array.isArray(merged.nodeGroups)) {
        merged.nodeGroups = merged.nodeGroups.map((ng: unknown) => (isPlainObject(ng) ? { ...NODE_GROUP_DEFAULTS, ...ng } : ng));
    }
    const result = SECTIONS[name].safeParse(merged);
    if (!result.success) problems.push(...zodProblems(name, SECTIONS[name], merged, result.error));
    return problems.length > 0 ? { ok: false, problems } : { ok: true, value: result.data };
}

/**
 * A section with one shape per mode: the mode (given, else the default) picks the shape; only that
 * shape's keys are taken from the defaults, and a given key of another mode's shape is an error.
 */
function parseModal(name: ModalSection, base: Record<string, unknown>, given: Record<string, unknown>, allowed?: readonly unknown[]): Parsed {
    const modeKey = MODE_KEYS[name];
    const mode = given[modeKey] ?? base[modeKey];
    if (allowed !== undefined && !allowed.includes(mode)) {
        return {
            ok: false,
            problems: [problem([name, modeKey], mode, `the local stack has no AWS; must be ${allowed.map((m) => JSON.stringify(m)).join(" or ")}`)],
        };
    }
    const variants = SECTIONS[name].options as readonly z.ZodObject[];
    const modeOf = (v: z.ZodObject) => (v.shape[modeKey] as z.ZodLiteral).value;
    const variant = variants.find((v) => modeOf(v) === mode);
    if (variant === undefined) {
        return { ok: false, problems: [problem([name, modeKey], mode, `must be one of ${variants.map((v) => JSON.stringify(modeOf(v))).join(", ")}`)] };
    }
    const keys = Object.keys(variant.shape);
    const problems: string[] = [];
    for (const key of Object.keys(given)) {
        if (keys.includes(key)) continue;
        const owners = variants.filter((v) => key in v.shape).map((v) => JSON.stringify(modeOf(v)));
        if (owners.length > 0) {
            problems.push(
                problem([name, key], given[key], `applies only when ${name}.${modeKey} is ${owners.join(" or ")} (it is ${JSON.stringify(mode)}); remove it`),
            );
        }
    }
    const merged = mergeOver(Object.fromEntries(Object.entries(base).filter(([k]) => keys.includes(k))), given);
    for (const key of Object.keys(merged)) if (!keys.includes(key) && problems.some((p) => p.startsWith(`${PROJECT}:${name}.${key} `))) delete merged[key];
    const result = variant.safeParse(merged);
    if (!result.success) problems.push(...zodProblems(name, variant, merged, result.error));
    return problems.length > 0 ? { ok: false, problems } : { ok: true, value: result.data };
}
