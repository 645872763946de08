/**
 * The API (port 8000). Builds the HTTP app from its dependencies; never listens (server.ts does).
 * Handlers are thin: storage is in db.ts, the cache in cache.ts, the LLM in llm.ts.
 */
import { z } from "zod";
import { cacheKey, type GenerationCache } from "./cache";
import { type CommandRepository, DatabaseUnavailableError } from "./db";
import { createHttp, HttpError, parse, pgText, sendError } from "./http";
import { LlmError, LlmTimeoutError, LlmUnavailableError, type LlmClient } from "./llm";
import type { Logger } from "./logger";
import type { ApiMetrics } from "./metrics";
import { argsSchema, secretMatcher } from "./runner/app";
import { type RunnerClient, RunnerUnavailableError } from "./runnerClient";
import { validateCode } from "./validation";

export interface ApiDeps {
    log: Logger;
    metrics: ApiMetrics;
    repo: CommandRepository;
    cache: GenerationCache;
    llm: LlmClient;
    runner: RunnerClient;
    /** PINGs Redis; rejects when it does not answer. */
    redisPing: () => Promise<unknown>;
    apiTokens: string[];
    validation: { enabled: boolean; strictMode: boolean };
    security: { sandboxEnabled: boolean; maxExecutionTimeMs: number };
    version: string;
    bodyLimit: number;
    /** How long /ready waits for each dependency. Default 1000 ms. */
    readyTimeoutMs?: number;
}

export const NAME_PATTERN = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;
export const MAX_NAME_LENGTH = 63;
export const MAX_DESCRIPTION_LENGTH = 2000;
const PUBLIC_ROUTES = new Set(["/health", "/ready"]);

const nameSchema = z
    .string()
    .max(MAX_NAME_LENGTH, `must be at most ${MAX_NAME_LENGTH} characters`)
    .regex(NAME_PATTERN, "must be a slug: lowercase letters and digits in dash-separated words, starting with a letter");

const evolveSchema = z.strictObject({
    description: pgText(z.string().trim().min(1, "must not be empty").max(MAX_DESCRIPTION_LENGTH, `must be at most ${MAX_DESCRIPTION_LENGTH} characters`)),
    name: nameSchema.optional(),
});
const runSchema = z.strictObject({ args: argsSchema().default([]) });
const paramsSchema = z.object({ name: nameSchema });

/** Path parameter check; the common valid case skips zod (this is the hottest read path). */
function parseName(params: unknown): { name: string } {
    const name = (params as { name?: unknown }).name;
    if (typeof name === "string" && name.length <= MAX_NAME_LENGTH && NAME_PATTERN.test(name)) return { name };
    return parse(paramsSchema, params, "path");
}

/** A command name from a description: its first words as a slug. */
export function slugify(description: string): string {
    const words = description
        .toLowerCase()
        .replace(/[^a-z0-9]+/g, " ")
        .trim()
        .split(" ")
        .filter(Boolean);
    let slug = "";
    for (const w of words) {
        const next = slug ? `${slug}-${w}` : w;
        if (next.length > 40) break;
        slug = next;
    }
    slug = slug.replace(/^[0-9-]+/, "");
    return NAME_PATTERN.test(slug) ? slug : "command";
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
    return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
        p.then(
            (v) => {
                clearTimeout(t);
                resolve(v);
            },
            (e: unknown) => {
                clearTimeout(t);
                reject(e instanceof Error ? e : new Error(String(e)));
            },
        );
    });
}

/** Domain errors → HTTP: dependencies down are 5xx with a clear code, never a bare 500. */
export function mapError(err: Error): HttpError | undefined {
    if (err instanceof DatabaseUnavailableError) return new HttpError(503, "database_unavailable", "the database is unavailable; try again shortly");
    if (err instanceof RunnerUnavailableError) return new HttpError(502, "runner_unavailable", err.message);
    if (err instanceof LlmUnavailableError) return new HttpError(503, "llm_unavailable", `code generation is unavailable: ${err.message}`);
    if (err instanceof LlmTimeoutError) return new HttpError(504, "llm_timeout", err.message);
    if (err instanceof LlmError) return new HttpError(502, "llm_error", err.message);
    return undefined;
}

export function buildApiApp(deps: ApiDeps) {
    const app = createHttp({ logger: deps.log, bodyLimit: deps.bodyLimit, mapError });
    const { metrics } = deps;
    let draining = false;
    const readyTimeout = deps.readyTimeoutMs ?? 1000;

    const tokenOk = secretMatcher(deps.apiTokens);
    // Metric children cached per label set: prom-client hashes label objects on every call otherwise.
    const requestCounters = new Map<string, ReturnType<ApiMetrics["requests"]["labels"]>>();
    const durationHistograms = new Map<string, ReturnType<ApiMetrics["requestDuration"]["labels"]>>();

    // Callback-style hooks: they run on every request, and skip a promise each.
    app.addHook("onRequest", (request, _reply, done) => {
        metrics.activeConnections.inc();
        (request as { startedAt?: bigint }).startedAt = process.hrtime.bigint();
        // Auth on every route but health and ready (metrics are on their own port).
        if (PUBLIC_ROUTES.has(request.routeOptions.url ?? "")) return done();
        const header = request.headers.authorization;
        const token = header?.startsWith("Bearer ") ? header.slice("Bearer ".length) : undefined;
        done(tokenOk(token) ? undefined : new HttpError(401, "unauthorized", "missing or invalid bearer token"));
    });
    app.addHook("onResponse", (request, reply, done) => {
        metrics.activeConnections.dec();
        const endpoint = request.routeOptions.url ?? "unmatched";
        const seconds = Number(process.hrtime.bigint() - ((request as { startedAt?: bigint }).startedAt ?? process.hrtime.bigint())) / 1e9;
        const status = String(reply.statusCode);
        const counterKey = `${request.method} ${endpoint} ${status}`;
        let counter = requestCounters.get(counterKey);
        if (!counter) requestCounters.set(counterKey, (counter = metrics.requests.labels({ method: request.method, endpoint, status })));
        counter.inc();
        const histogramKey = `${request.method} ${endpoint}`;
        let histogram = durationHistograms.get(histogramKey);
        if (!histogram) durationHistograms.set(histogramKey, (histogram = metrics.requestDuration.labels({ method: request.method, endpoint })));
        histogram.observe(seconds);
        const entry = { reqId: request.id, method: request.method, route: endpoint, status: reply.statusCode, durationMs: Math.round(seconds * 1000) };
        if (PUBLIC_ROUTES.has(endpoint)) request.log.debug(entry, "request");
        else request.log.info(entry, "request");
        done();
    });

    app.get("/health", async () => ({ status: "ok", version: deps.version }));

    // Ready = can serve: PostgreSQL is required; Redis is only a cache (requests work without it),
    // so its state is reported (body, cli_cache_up) but never takes the pod out of the Service.
    app.get("/ready", async (_request, reply) => {
        if (draining) return reply.code(503).send({ status: "shutting down", failing: [] });
        const [postgres, redis] = await Promise.allSettled([
            withTimeout(deps.repo.ping(), readyTimeout, "postgres"),
            withTimeout(deps.redisPing(), readyTimeout, "redis"),
        ]);
        const state = (r: PromiseSettledResult<unknown>) => (r.status === "fulfilled" ? "ok" : (r.reason?.message ?? "failed"));
        metrics.cacheUp.set(redis.status === "fulfilled" ? 1 : 0);
        const checks = { postgres: state(postgres), redis: state(redis) };
        const failing = postgres.status === "rejected" ? ["postgres"] : [];
        const degraded = redis.status === "rejected" ? ["redis"] : [];
        if (failing.length > 0) return reply.code(503).send({ status: "not ready", failing, degraded, checks });
        return { status: degraded.length > 0 ? "degraded" : "ready", failing, degraded, checks };
    });

    app.post("/evolve", async (request, reply) => {
        const body = parse(evolveSchema, request.body ?? {}, "body");
        const name = body.name ?? slugify(body.description);
        if (!deps.llm.configured) throw new LlmUnavailableError("no LLM API key is configured (OPENAI_API_KEY)");
        metrics.generationAttempts.inc();

        const key = cacheKey(body.description, deps.llm.model, deps.llm.temperature);
        const cached = await deps.cache.get(key);
        let code: string;
        try {
            code = cached?.code ?? (await deps.llm.generate(body.description, name));
        } catch (err) {
            metrics.llmErrors.inc({ kind: err instanceof LlmTimeoutError ? "timeout" : "error" });
            throw err;
        }

        const end = metrics.validationDuration.startTimer();
        const report = validateCode(code, deps.validation);
        end();
        if (!report.valid) {
            for (const p of report.problems) metrics.validationRejections.inc({ reason: p.reason });
            request.log.warn({ name, reasons: report.problems.map((p) => p.reason) }, "generated code rejected");
            return sendError(reply, 422, "validation_failed", "the generated code did not pass validation; nothing was stored", {
                name,
                validation: report,
                code,
            });
        }
        if (!cached) await deps.cache.set(key, { code });

        const latest = await deps.repo.latest(name);
        if (latest && latest.code === code) {
            metrics.generationSuccess.inc();
            return reply.code(200).send({ ...latest, cached: Boolean(cached), created: false });
        }
        const stored = await deps.repo.addVersion({ name, description: body.description, code, model: deps.llm.model, validation: report });
        await deps.cache.invalidateCommand(name);
        metrics.generationSuccess.inc();
        return reply.code(201).send({ ...stored, cached: Boolean(cached), created: true });
    });

    app.get("/commands", async () => ({ commands: await deps.repo.list() }));

    // Served from Redis when cached (invalidated whenever a version is stored), else PostgreSQL.
    app.get("/commands/:name", async (request, reply) => {
        const { name } = parseName(request.params);
        const cached = await deps.cache.getCommand(name);
        if (cached !== undefined) return reply.type("application/json; charset=utf-8").send(cached);
        const versions = await deps.repo.versions(name);
        if (versions.length === 0) throw new HttpError(404, "not_found", `no command named "${name}"`);
        const body = JSON.stringify({ name, versions });
        await deps.cache.setCommand(name, body);
        return reply.type("application/json; charset=utf-8").send(body);
    });

    app.post("/commands/:name/run", async (request) => {
        const { name } = parseName(request.params);
        const body = parse(runSchema, request.body ?? {}, "body");
        const latest = await deps.repo.latest(name);
        if (!latest) throw new HttpError(404, "not_found", `no command named "${name}"`);
        if (!deps.security.sandboxEnabled) throw new HttpError(503, "sandbox_disabled", "running commands is disabled (security.sandbox_enabled: false)");
        const result = await deps.runner.run(latest.code, body.args, deps.security.maxExecutionTimeMs);
        metrics.runs.inc({ outcome: result.killed ?? (result.exitCode === 0 ? "ok" : "error") });
        return { name, version: latest.version, ...result };
    });

    return {
        app,
        beginShutdown: () => {
            draining = true;
        },
        close: () => app.close(),
    };
}
