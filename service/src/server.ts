/**
 * The api process: reads the environment once, migrates the database, listens on 0.0.0.0 (API on
 * PORT, metrics on METRICS_PORT) and drains gracefully on SIGTERM.
 */
import Redis from "ioredis";
import { type ApiDeps, buildApiApp } from "./app";
import { GenerationCache } from "./cache";
import { ConfigError, loadConfig, type ServiceConfig } from "./config";
import { CommandRepository, createPool, migrate } from "./db";
import { LlmClient } from "./llm";
import { closeServer, createMetricsServer, handleShutdown, listen } from "./lifecycle";
import { createLogger, stripCredentials } from "./logger";
import { createApiMetrics } from "./metrics";
import { RunRecorder } from "./runRecorder";
import { RunnerClient } from "./runnerClient";

/** Exits 1 with one line on stderr for a bad config file or variable. */
export function configOrExit(role: "api" | "runner"): ServiceConfig {
    try {
        return loadConfig(process.env, role);
    } catch (err) {
        if (err instanceof ConfigError) {
            process.stderr.write(`cli-platform: invalid configuration: ${err.message}\n`);
            process.exit(1);
        }
        throw err;
    }
}

async function migrateWithRetry(pool: ReturnType<typeof createPool>, log: ReturnType<typeof createLogger>, deadlineMs: number): Promise<void> {
    const until = Date.now() + deadlineMs;
    for (let attempt = 1; ; attempt++) {
        try {
            const applied = await migrate(pool);
            log.info({ applied }, applied.length ? "database migrated" : "database schema up to date");
            return;
        } catch (err) {
            if (Date.now() > until) throw err;
            log.warn({ attempt, err: (err as Error).message }, "database not reachable yet; retrying migrations");
            await new Promise((r) => setTimeout(r, Math.min(5000, 250 * attempt)));
        }
    }
}

/** Starts the api. `overrides` replaces dependencies (the audit benchmark runs one without recording). */
export async function main(overrides: Partial<Pick<ApiDeps, "runs">> = {}): Promise<void> {
    const config = configOrExit("api");
    const log = createLogger(config.logLevel);
    log.info(
        {
            postgres: stripCredentials(config.postgres.url),
            redis: stripCredentials(config.redis.url),
            runner: config.runner.url,
            model: config.llm.model,
            llmConfigured: Boolean(config.llm.apiKey),
            clients: config.apiClients.map((c) => c.name),
        },
        "starting cli-platform api",
    );
    if (config.apiClients.length === 0) log.warn("API_TOKENS is empty: every authenticated route answers 401");

    const pool = createPool(config.postgres.url);
    await migrateWithRetry(pool, log, 60_000);
    const redis = new Redis(config.redis.url, {
        lazyConnect: false,
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1,
        commandTimeout: 500,
        connectTimeout: 2000,
        retryStrategy: (times) => Math.min(times * 200, 2000),
    });
    redis.on("error", (err) => log.debug({ err: err.message }, "redis connection error"));
    const metrics = createApiMetrics();
    const repo = new CommandRepository(pool);

    const api = await buildApiApp({
        log,
        metrics,
        repo,
        cache: new GenerationCache(redis, config.redis.cacheTtlSeconds, log, metrics),
        llm: new LlmClient(config.llm),
        runner: new RunnerClient(config.runner),
        runs: overrides.runs ?? new RunRecorder(repo, log, metrics),
        redisPing: () => redis.ping(),
        apiClients: config.apiClients,
        validation: config.validation,
        security: config.security,
        version: config.version,
        bodyLimit: config.bodyLimit,
    });
    const metricsServer = createMetricsServer(metrics.registry);
    await api.app.listen({ port: config.port, host: config.host });
    await listen(metricsServer, config.metricsPort, config.host);
    log.info({ port: config.port, metricsPort: config.metricsPort }, "api listening");

    handleShutdown({
        log,
        timeoutMs: config.shutdownTimeoutMs,
        servers: [api, { beginShutdown: () => undefined, close: () => closeServer(metricsServer) }],
        closeResources: async () => {
            await pool.end();
            redis.disconnect();
        },
    });
}

if (require.main === module) {
    main().catch((err: unknown) => {
        process.stderr.write(`cli-platform api: ${(err as Error).message}\n`);
        process.exit(1);
    });
}
