/**
 * The service's configuration: the deployment guide's config.yaml, overridden by environment
 * variables, validated once at start. The schema is declared once and yields the type.
 */
import * as fs from "node:fs";
import * as YAML from "yaml";
import { z } from "zod";
import { type ApiClient, CLIENT_NAME_PATTERN, CLIENT_NAME_RULE, MIN_TOKEN_LENGTH } from "./clients";
import { configFileSchema, DEFAULT_CONFIG_PATH } from "./contract";
import { PORTS } from "./ports";
import { DEFAULT_CONCURRENCY } from "./runner/limits";

export { DEFAULT_CONFIG_PATH };

function parseApiClients(value: string, ctx: z.RefinementCtx): ApiClient[] {
    const clients: ApiClient[] = [];
    let anonymous = 0;
    const fail = (message: string) => {
        ctx.addIssue({ code: "custom", message });
        return z.NEVER;
    };
    const entries = value
        .split(",")
        .map((e) => e.trim())
        .filter((e) => e.length > 0);
    for (const [i, entry] of entries.entries()) {
        const eq = entry.indexOf("=");
        const name = eq < 0 ? `client-${++anonymous}` : entry.slice(0, eq).trim();
        const token = eq < 0 ? entry : entry.slice(eq + 1).trim();
        // Never echoed: a bare token containing "=" would otherwise be printed as a "name".
        if (!CLIENT_NAME_PATTERN.test(name))
            return fail(`entry ${i + 1}: what stands before "=" is not a client name (${CLIENT_NAME_RULE}); a bare token cannot contain "="`);
        // Named by position only: with a bare token ending in "=", the "name" would be the secret.
        if (token.length < MIN_TOKEN_LENGTH) return fail(`entry ${i + 1}: the token must be at least ${MIN_TOKEN_LENGTH} characters`);
        if (clients.some((c) => c.name === name)) return fail(`client "${name}" is listed twice`);
        if (clients.some((c) => c.token === token))
            return fail(`client "${name}" has the same token as client "${clients.find((c) => c.token === token)!.name}"`);
        clients.push({ name, token });
    }
    return clients;
}

const port = z.coerce.number().int().min(1).max(65535);
const url = (protocols: RegExp) => z.url({ protocol: protocols });

/** Environment variables (all optional; they win over config.yaml). */
const envSchema = z.object({
    CONFIG_PATH: z.string().optional(),
    PORT: port.default(PORTS.api),
    RUNNER_PORT: port.default(PORTS.runner),
    METRICS_PORT: port.default(PORTS.metrics),
    HOST: z.string().default("0.0.0.0"),
    LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
    REDIS_URL: url(/^rediss?$/).optional(),
    POSTGRES_URL: url(/^postgres(ql)?$/).optional(),
    POSTGRES_USER: z.string().optional(),
    POSTGRES_PASSWORD: z.string().optional(),
    OPENAI_API_KEY: z.string().min(1).optional(),
    OPENAI_BASE_URL: url(/^https?$/).optional(),
    /**
     * The API's clients: `name=token` pairs, comma-separated (`alice=<token>,ci=<token>`). A bare
     * token is an anonymous client named `client-<n>` (n = its position among the bare ones).
     */
    API_TOKENS: z.string().default("").transform(parseApiClients),
    /** Base URL of the runner, e.g. http://cli-runner:8001. */
    RUNNER_URL: url(/^https?$/).default(`http://127.0.0.1:${PORTS.runner}`),
    /** Shared secret between api and runner (sent as x-runner-token). */
    RUNNER_TOKEN: z.string().min(16).optional(),
    /** Sandboxes (engine workers) per runner; memory budget: runnerMemoryBudgetMib() in runner/limits.ts. */
    RUNNER_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(DEFAULT_CONCURRENCY),
    /** Runs that may wait for a free sandbox before the runner answers 429. */
    RUNNER_QUEUE_SIZE: z.coerce.number().int().min(0).max(1000).default(16),
    /** Milliseconds a run may wait for a free sandbox before the runner answers 429. */
    RUNNER_QUEUE_WAIT_MS: z.coerce.number().int().min(0).max(60_000).default(2000),
    /** Seconds in-flight requests get to finish after SIGTERM. */
    SHUTDOWN_TIMEOUT: z.coerce.number().min(1).max(600).default(25),
    /** Max request body in bytes. */
    BODY_LIMIT: z.coerce
        .number()
        .int()
        .min(1024)
        .default(64 * 1024),
});

/**
 * The resolved configuration: config.yaml and the environment mapped onto what the service uses.
 * `ServiceConfig` is this schema's output type.
 */
const serviceConfigSchema = z.object({ env: envSchema, file: configFileSchema }).transform(({ env: e, file: f }) => {
    let postgresUrl = e.POSTGRES_URL ?? "";
    if (e.POSTGRES_URL === undefined && e.POSTGRES_USER !== undefined) {
        const auth = `${encodeURIComponent(e.POSTGRES_USER)}${e.POSTGRES_PASSWORD ? `:${encodeURIComponent(e.POSTGRES_PASSWORD)}` : ""}`;
        postgresUrl = `postgres://${auth}@${f.postgres.host}:${f.postgres.port}/${f.postgres.database}`;
    }
    return {
        version: f.version,
        host: e.HOST,
        port: e.PORT,
        runnerPort: e.RUNNER_PORT,
        metricsPort: e.METRICS_PORT,
        logLevel: e.LOG_LEVEL,
        llm: {
            provider: f.llm.provider,
            model: f.llm.model,
            temperature: f.llm.temperature,
            timeoutMs: Math.round(f.llm.timeout * 1000),
            baseUrl: (e.OPENAI_BASE_URL ?? f.llm.base_url).replace(/\/+$/, ""),
            apiKey: e.OPENAI_API_KEY,
        },
        validation: { enabled: f.validation.enabled, strictMode: f.validation.strict_mode },
        security: { sandboxEnabled: f.security.sandbox_enabled, maxExecutionTimeMs: Math.round(f.security.max_execution_time * 1000) },
        redis: { url: e.REDIS_URL ?? `redis://${f.redis.host}:${f.redis.port}`, cacheTtlSeconds: f.redis.cache_ttl },
        /** Empty when neither POSTGRES_URL nor POSTGRES_USER is set (the runner uses no database). */
        postgres: { url: postgresUrl },
        /** Who may call the API; empty = every authenticated route answers 401. */
        apiClients: e.API_TOKENS,
        runner: {
            url: e.RUNNER_URL.replace(/\/+$/, ""),
            token: e.RUNNER_TOKEN,
            concurrency: e.RUNNER_CONCURRENCY,
            queueSize: e.RUNNER_QUEUE_SIZE,
            queueWaitMs: e.RUNNER_QUEUE_WAIT_MS,
        },
        shutdownTimeoutMs: Math.round(e.SHUTDOWN_TIMEOUT * 1000),
        bodyLimit: e.BODY_LIMIT,
    };
});
export type ServiceConfig = z.output<typeof serviceConfigSchema>;

export class ConfigError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "ConfigError";
    }
}

/** One line per problem, naming where the key lives: `environment variable KEY: ...` or `config file PATH: key: ...`. */
function formatIssues(path: string, error: z.ZodError): string {
    return error.issues
        .map((i) => {
            const [source, ...rest] = i.path;
            const key = rest.length > 0 ? rest.join(".") : "(root)";
            const what = i.code === "unrecognized_keys" ? `unknown key(s) ${i.keys.join(", ")}` : i.message;
            return source === "env" ? `environment variable ${key}: ${what}` : `config file ${path}: ${key}: ${what}`;
        })
        .join("; ");
}

/**
 * Reads config.yaml (optional when CONFIG_PATH is unset and the default path does not exist) and
 * the environment; throws ConfigError naming the key and the problem. The runner needs no database.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, role: "api" | "runner" = "api"): ServiceConfig {
    const path = env.CONFIG_PATH ?? DEFAULT_CONFIG_PATH;
    let raw: unknown = {};
    if (fs.existsSync(path)) {
        try {
            raw = YAML.parse(fs.readFileSync(path, "utf8")) ?? {};
        } catch (err) {
            throw new ConfigError(`config file ${path}: not valid YAML (${(err as Error).message.split("\n")[0]})`);
        }
    } else if (env.CONFIG_PATH !== undefined) {
        throw new ConfigError(`config file ${path}: not found (CONFIG_PATH)`);
    }
    const result = serviceConfigSchema.safeParse({ env, file: raw });
    if (!result.success) throw new ConfigError(formatIssues(path, result.error));
    if (role === "api" && result.data.postgres.url === "")
        throw new ConfigError("environment variable POSTGRES_URL: required (or POSTGRES_USER and POSTGRES_PASSWORD with postgres.host in config.yaml)");
    return result.data;
}
