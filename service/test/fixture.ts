/**
 * Builds the real api + runner apps over real PostgreSQL and Redis (from test/support.ts), listening
 * on free ports, for the HTTP-level tests. One helper, shared by every test file.
 */
import Redis from "ioredis";
import type { Pool } from "pg";
import { buildApiApp } from "../src/app";
import { GenerationCache } from "../src/cache";
import { CommandRepository, createPool, migrate } from "../src/db";
import { LlmClient } from "../src/llm";
import { createLogger } from "../src/logger";
import { createApiMetrics, createRunnerMetrics, type ApiMetrics } from "../src/metrics";
import { buildRunnerApp } from "../src/runner/app";
import { RunRecorder } from "../src/runRecorder";
import { RunnerClient } from "../src/runnerClient";
import { type FakeLlm, PostgresServer, RedisServer, startFakeLlm, stopAll } from "./support";

export const TOKEN = "test-token-0123456789abcdef";
/** The second configured client (named "ci"). */
export const CI_TOKEN = "second-token-0123456789";
export const RUNNER_TOKEN = "runner-token-0123456789abcdef";

export interface Platform {
    pg: PostgresServer;
    redisServer: RedisServer;
    llm: FakeLlm;
    pool: Pool;
    redis: Redis;
    metrics: ApiMetrics;
    apiUrl: string;
    runnerUrl: string;
    api: Awaited<ReturnType<typeof buildApiApp>>;
    /** The api's audit-trail writer (flush() to see queued runs in PostgreSQL at once). */
    recorder: RunRecorder;
    runner: ReturnType<typeof buildRunnerApp>;
    /** fetch against the api with the bearer token. */
    call(
        method: string,
        path: string,
        body?: unknown,
        headers?: Record<string, string>,
    ): Promise<{ status: number; body: Record<string, unknown> & { error?: { code: string; message: string } } }>;
    close(): Promise<void>;
}

export interface PlatformOptions {
    apiKey?: string | null;
    llmTimeoutMs?: number;
    maxExecutionTimeMs?: number;
    sandboxEnabled?: boolean;
    validation?: { enabled: boolean; strictMode: boolean };
    /** Where the api logs (at info); default: nowhere. */
    logSink?: NodeJS.WritableStream;
    /** The runner's sandboxes and queue. Default 4 sandboxes, a queue of 8 waiting up to 1 s. */
    runner?: { concurrency: number; queueSize: number; queueWaitMs: number };
}

export async function startPlatform(options: PlatformOptions = {}): Promise<Platform> {
    const [pg, redisServer, llm] = await Promise.all([PostgresServer.start(), RedisServer.start(), startFakeLlm()]);
    const log = options.logSink ? createLogger("info", options.logSink) : createLogger("silent");
    const pool = createPool(pg.url);
    await migrate(pool);
    const redis = new Redis(redisServer.url, {
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1,
        commandTimeout: 300,
        connectTimeout: 500,
        retryStrategy: () => 100,
    });
    redis.on("error", () => undefined);
    await new Promise<void>((resolve) => (redis.status === "ready" ? resolve() : redis.once("ready", () => resolve())));
    const metrics = createApiMetrics(false);
    const repo = new CommandRepository(pool);
    const recorder = new RunRecorder(repo, log, metrics);
    const maxExecutionTimeMs = options.maxExecutionTimeMs ?? 2000;

    const runner = buildRunnerApp({
        log,
        metrics: createRunnerMetrics(false),
        sandboxEnabled: true,
        maxExecutionTimeMs,
        ...(options.runner ?? { concurrency: 4, queueSize: 8, queueWaitMs: 1000 }),
        token: RUNNER_TOKEN,
        bodyLimit: 64 * 1024,
    });
    await runner.app.listen({ port: 0, host: "127.0.0.1" });
    const runnerUrl = `http://127.0.0.1:${(runner.app.server.address() as { port: number }).port}`;

    const api = await buildApiApp({
        log,
        metrics,
        repo,
        cache: new GenerationCache(redis, 3600, log, metrics),
        llm: new LlmClient({
            baseUrl: llm.url,
            model: "gpt-4",
            temperature: 0.7,
            timeoutMs: options.llmTimeoutMs ?? 2000,
            apiKey: options.apiKey === null ? undefined : (options.apiKey ?? "sk-test"),
        }),
        runner: new RunnerClient({ url: runnerUrl, token: RUNNER_TOKEN }),
        runs: recorder,
        redisPing: () => redis.ping(),
        apiClients: [
            { name: "alice", token: TOKEN },
            { name: "ci", token: CI_TOKEN },
        ],
        validation: options.validation ?? { enabled: true, strictMode: true },
        security: { sandboxEnabled: options.sandboxEnabled ?? true, maxExecutionTimeMs },
        version: "1.0.0",
        bodyLimit: 64 * 1024,
        readyTimeoutMs: 500,
    });
    await api.app.listen({ port: 0, host: "127.0.0.1" });
    const apiUrl = `http://127.0.0.1:${(api.app.server.address() as { port: number }).port}`;

    return {
        pg,
        redisServer,
        llm,
        pool,
        redis,
        metrics,
        apiUrl,
        runnerUrl,
        api,
        recorder,
        runner,
        async call(method, path, body, headers = {}) {
            const res = await fetch(`${apiUrl}${path}`, {
                method,
                headers: { authorization: `Bearer ${TOKEN}`, ...(body === undefined ? {} : { "content-type": "application/json" }), ...headers },
                body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
            });
            const text = await res.text();
            let parsed: Record<string, unknown> = {};
            try {
                parsed = JSON.parse(text) as Record<string, unknown>;
            } catch {
                parsed = { raw: text };
            }
            return { status: res.status, body: parsed };
        },
        async close() {
            await api.close();
            await runner.close();
            redis.disconnect();
            await pool.end();
            await llm.close();
            pg.destroy();
            await redisServer.destroy();
        },
    };
}

/**
 * Starts a platform before the enclosing describe's tests and stops it (and every server) after.
 * Returns a getter: the platform exists only once `before` has run.
 */
export function usePlatform(options: PlatformOptions = {}): () => Platform {
    let p: Platform | undefined;
    before(async () => {
        p = await startPlatform(options);
    });
    after(async () => {
        await p?.close();
        await stopAll();
    });
    return () => {
        if (!p) throw new Error("usePlatform: the platform is not started yet (use it inside a test)");
        return p;
    };
}
