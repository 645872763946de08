/** Validates and defaults one stack's configuration. Pure: no Pulumi runtime needed. */
import { AWS_ONLY, DEFAULTS, LOCAL_ONLY } from "./defaults";
import { ConfigError, problem, show, zodProblems } from "./errors";
import { crossFieldProblems } from "./rules";
import {
    AWS_REGION,
    type ClusterConfig,
    type Environment,
    ENVIRONMENTS,
    type IngressConfig,
    type KubernetesConfig,
    type LoggingConfig,
    type MonitoringConfig,
    type NetworkConfig,
    type PlatformConfig,
    type PostgresConfig,
    PROJECT,
    type RedisConfig,
    SECTIONS,
    type SectionName,
    type ServiceConfig,
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
        if (!KNOWN_KEYS.includes(key)) problems.push(problem([key], values[key], `unknown key; allowed keys: ${KNOWN_KEYS.join(", ")}`));
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
        // Field-wise merge over the environment's defaults; nested objects (service.api, ...) too.
        const base = (defaults[name] ?? {}) as Record<string, unknown>;
        const merged: Record<string, unknown> = { ...base };
        for (const [k, v] of Object.entries(given ?? {})) {
            merged[k] = isPlainObject(v) && isPlainObject(base[k]) ? { ...(base[k] as object), ...v } : v;
        }
        const result = SECTIONS[name].safeParse(merged);
        if (result.success) sections[name] = result.data;
        else problems.push(...zodProblems(name, merged, result.error));
    }
    if (problems.length > 0) throw new ConfigError(stack, problems);

    const cfg: PlatformConfig = {
        stack,
        environment,
        awsRegion: onAws ? raw.awsRegion : undefined,
        onAws,
        network: sections.network as NetworkConfig | undefined,
        cluster: sections.cluster as ClusterConfig | undefined,
        kubernetes: sections.kubernetes as KubernetesConfig | undefined,
        postgres: sections.postgres as PostgresConfig,
        redis: sections.redis as RedisConfig,
        service: sections.service as ServiceConfig,
        ingress: sections.ingress as IngressConfig,
        monitoring: sections.monitoring as MonitoringConfig,
        logging: sections.logging as LoggingConfig,
        protectStatefulResources,
        secrets: raw.secrets ?? {},
    };

    problems.push(...crossFieldProblems(cfg));
    if (problems.length > 0) throw new ConfigError(stack, problems);
    return cfg;
}
