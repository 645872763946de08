/**
 * The service's configuration: the deployment guide's config.yaml, overridden by environment
 * variables, validated once at start. The schema is declared once and yields the type.
 */
import * as fs from "node:fs";
import * as YAML from "yaml";
import { z } from "zod";
import { configFileSchema, DEFAULT_CONFIG_PATH } from "./contract";
import { PORTS } from "./ports";
import { DEFAULT_CONCURRENCY } from "./runner/limits";

export { DEFAULT_CONFIG_PATH };

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
    /** Comma-separated bearer tokens accepted by the API. */
    API_TOKENS: z.string().optional(),
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

export interface ServiceConfig {
    version: string;
    host: string;
    port: number;
    runnerPort: number;
    metricsPort: number;
    logLevel: z.infer<typeof envSchema>["LOG_LEVEL"];
    llm: { provider: "openai"; model: string; temperature: number; timeoutMs: number; baseUrl: string; apiKey?: string };
    validation: { enabled: boolean; strictMode: boolean };
    security: { sandboxEnabled: boolean; maxExecutionTimeMs: number };
    redis: { url: string; cacheTtlSeconds: number };
    /** Empty for the runner, which uses no database. */
    postgres: { url: string };
    apiTokens: string[];
    runner: { url: string; token?: string; concurrency: number; queueSize: number; queueWaitMs: number };
    shutdownTimeoutMs: number;
    bodyLimit: number;
}

export class ConfigError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "ConfigError";
    }
}

function formatIssues(source: string, error: z.ZodError): string {
    return error.issues
        .map((i) => {
            const key = i.path.length > 0 ? i.path.join(".") : "(root)";
            const what = i.code === "unrecognized_keys" ? `unknown key(s) ${i.keys.join(", ")}` : i.message;
            return `${source} ${key}: ${what}`;
        })
        .join("; ");
}

/**
 * Reads config.yaml (optional when CONFIG_PATH is unset and the default path does not exist) and
 * the environment; throws ConfigError naming the key and the problem. The runner needs no database.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, role: "api" | "runner" = "api"): ServiceConfig {
    const envResult = envSchema.safeParse(env);
    if (!envResult.success) throw new ConfigError(formatIssues("environment variable", envResult.error));
    const e = envResult.data;

    const path = e.CONFIG_PATH ?? DEFAULT_CONFIG_PATH;
    let raw: unknown = {};
    if (fs.existsSync(path)) {
        try {
            raw = YAML.parse(fs.readFileSync(path, "utf8")) ?? {};
        } catch (err) {
            throw new ConfigError(`config file ${path}: not valid YAML (${(err as Error).message.split("\n")[0]})`);
        }
    } else if (e.CONFIG_PATH !== undefined) {
        throw new ConfigError(`config file ${path}: not found (CONFIG_PATH)`);
    }
    const fileResult = configFileSchema.safeParse(raw);
    if (!fileResult.success) throw new ConfigError(formatIssues(`config file ${path}:`, fileResult.error));
    const f = fileResult.data;

    let postgresUrl = e.POSTGRES_URL ?? "";
    if (e.POSTGRES_URL === undefined && role === "api") {
        if (e.POSTGRES_USER === undefined)
            throw new ConfigError("environment variable POSTGRES_URL: required (or POSTGRES_USER and POSTGRES_PASSWORD with postgres.host in config.yaml)");
        const auth = `${encodeURIComponent(e.POSTGRES_USER)}${e.POSTGRES_PASSWORD ? `:${encodeURIComponent(e.POSTGRES_PASSWORD)}` : ""}`;
        postgresUrl = `postgres://${auth}@${f.postgres.host}:${f.postgres.port}/${f.postgres.database}`;
    }
    const apiTokens = (e.API_TOKENS ?? "")
        .split(",")
        .map((t) => t.trim())
        .filter((t) => t.length > 0);
    const short = apiTokens.find((t) => t.length < 16);
    if (short !== undefined) throw new ConfigError("environment variable API_TOKENS: every token must be at least 16 characters");

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
        postgres: { url: postgresUrl },
        apiTokens,
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
}
