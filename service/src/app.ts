/**
 * The API (port 8000). Builds the HTTP app from its dependencies; never listens (server.ts does).
 * Handlers are thin: storage is in db.ts, the cache in cache.ts, the LLM in llm.ts.
 */
import fastifySwagger from "@fastify/swagger";
import type { FastifyReply } from "fastify";
import type { IncomingMessage, ServerResponse } from "node:http";
import { jsonSchemaTransform } from "fastify-type-provider-zod";
import { cacheKey, type GenerationCache } from "./cache";
import { type CommandRepository, DatabaseUnavailableError } from "./db";
import { createHttp, HttpError, requestIds, sendError } from "./http";
import { LlmError, LlmTimeoutError, LlmUnavailableError, type LlmClient } from "./llm";
import { type Logger, type RequestLine, requestLogger } from "./logger";
import type { ApiMetrics } from "./metrics";
import { clientMatcher } from "./auth";
import type { ApiClient } from "./clients";
import type { RunRecorder } from "./runRecorder";
import { type RunnerClient, RunnerUnavailableError } from "./runnerClient";
import { validateCode } from "./validation";
import {
    commandListSchema,
    commandParamsSchema,
    commandSchema,
    errorSchema,
    evolveBodySchema,
    evolveResponseSchema,
    healthSchema,
    isCommandName,
    NAME_PATTERN,
    notReadySchema,
    readySchema,
    rollbackBodySchema,
    rollbackResponseSchema,
    runBodySchema,
    runResponseSchema,
    runsQuerySchema,
    runsResponseSchema,
    serialize,
} from "./schemas";

declare module "fastify" {
    interface FastifyRequest {
        /** The calling client's name; "none" on public routes and before authentication. */
        client: string;
        /** The matched route's pattern ("unmatched" for none), read once in onRequest; "" before. */
        endpoint: string;
    }
}

/** The client label and log field of requests no client is known for. */
export const NO_CLIENT = "none";

export interface ApiDeps {
    log: Logger;
    metrics: ApiMetrics;
    repo: CommandRepository;
    cache: GenerationCache;
    llm: LlmClient;
    runner: RunnerClient;
    /** The audit trail of runs (written off the run path). */
    runs: Pick<RunRecorder, "record" | "flush">;
    /** PINGs Redis; rejects when it does not answer. */
    redisPing: () => Promise<unknown>;
    /** Who may call the API (name and bearer token each). */
    apiClients: readonly ApiClient[];
    validation: { enabled: boolean; strictMode: boolean };
    security: { sandboxEnabled: boolean; maxExecutionTimeMs: number };
    version: string;
    bodyLimit: number;
    /** How long /ready waits for each dependency. Default 1000 ms. */
    readyTimeoutMs?: number;
}

const PUBLIC_ROUTES = new Set(["/health", "/ready", "/openapi.json"]);
/** The endpoint label and log field of requests no route matched. */
const UNMATCHED = "unmatched";

/** The error answers a route documents, each `{"error": {...}}`. */
function errors(...statuses: number[]): Record<number, typeof errorSchema> {
    return Object.fromEntries(statuses.map((s) => [s, errorSchema]));
}

const JSON_TYPE = "application/json; charset=utf-8";

/**
 * Sends JSON that is already text or bytes (serialized from the route's schema when it was cached):
 * fastify sends them as they are. A response queued behind another on a pipelined connection gets
 * text: node 20 writes a queued response's headers with a Buffer body ahead of the `100 Continue`
 * it had already buffered for it, which corrupts the connection (attack-42b G1).
 */
function sendJsonText(reply: FastifyReply, text: string | Buffer): FastifyReply {
    return reply.type(JSON_TYPE).send(Buffer.isBuffer(text) && reply.raw.socket === null ? text.toString("utf8") : text);
}

/** The route answerHeldCommand answers, and the path prefix it takes the name from. */
const COMMAND_ROUTE = "/commands/:name";
const COMMAND_PATH_PREFIX = "/commands/";

/** A POST without a body is an empty object (so defaults apply and strict objects name the missing field). */
function emptyBodyIsObject(request: { body: unknown }, _reply: unknown, done: () => void): void {
    request.body ??= {};
    done();
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

export async function buildApiApp(deps: ApiDeps) {
    const nextRequestId = requestIds();
    const app = createHttp({ logger: deps.log, bodyLimit: deps.bodyLimit, mapError, genReqId: nextRequestId, answerFirst: answerHeldCommand });
    const { metrics } = deps;
    let draining = false;
    /** Set when the app starts closing (fastify then answers 503, Connection: close: so must every request). */
    let closing = false;
    const readyTimeout = deps.readyTimeoutMs ?? 1000;

    const clientOf = clientMatcher(deps.apiClients);
    const requestLog = requestLogger(deps.log);
    app.decorateRequest("client", NO_CLIENT);
    // Declared, so that setting it keeps the request objects' shape (an undeclared property per request
    // made every hook that reads the request slower).
    app.decorateRequest("endpoint", "");
    // answerHeldCommand takes every GET /commands/<name> as this route's: a route that fastify would
    // prefer for such a path (a static /commands/<word>) must not be added unnoticed.
    app.addHook("onRoute", (route) => {
        const rest = route.url.startsWith(COMMAND_PATH_PREFIX) ? route.url.slice(COMMAND_PATH_PREFIX.length) : "/";
        if (route.url !== COMMAND_ROUTE && !rest.includes("/"))
            throw new Error(`route ${route.url} would be shadowed by answerHeldCommand for GET ${COMMAND_PATH_PREFIX}<name>`);
    });
    // Metric children cached per label set: prom-client hashes label objects on every call otherwise.
    const requestCounters = new Map<string, ReturnType<ApiMetrics["requests"]["labels"]>>();
    const durationHistograms = new Map<string, ReturnType<ApiMetrics["requestDuration"]["labels"]>>();

    /** The client a request's Authorization header names (constant-time, see auth.ts), if any. */
    const clientOfHeader = (header: string | undefined) => clientOf(header?.startsWith("Bearer ") ? header.slice("Bearer ".length) : undefined);

    /** Counts, times and logs an answered request: the same for fastify's answers and answerHeldCommand's. */
    function recordRequest(reqId: string, method: string, endpoint: string, status: number, client: string, ms: number): void {
        const counterKey = `${method} ${endpoint} ${status} ${client}`;
        let counter = requestCounters.get(counterKey);
        if (!counter) requestCounters.set(counterKey, (counter = metrics.requests.labels({ method, endpoint, status: String(status), client })));
        counter.inc();
        const histogramKey = `${method} ${endpoint}`;
        let histogram = durationHistograms.get(histogramKey);
        if (!histogram) durationHistograms.set(histogramKey, (histogram = metrics.requestDuration.labels({ method, endpoint })));
        histogram.observe(ms / 1000);
        const entry: RequestLine = { reqId, client, method, route: endpoint, status, durationMs: Math.round(ms) };
        if (PUBLIC_ROUTES.has(endpoint)) requestLog.debug(entry);
        else requestLog.info(entry);
    }

    app.addHook("preClose", (done) => {
        closing = true;
        done();
    });

    // Callback-style hooks: they run on every request, and skip a promise each.
    app.addHook("onRequest", (request, _reply, done) => {
        metrics.activeConnections.inc();
        // routeOptions builds a new object on each read: read once.
        const endpoint = (request.endpoint = request.routeOptions.url ?? UNMATCHED);
        // Auth on every route but health and ready (metrics are on their own port).
        if (PUBLIC_ROUTES.has(endpoint)) return done();
        const client = clientOfHeader(request.headers.authorization);
        if (client === undefined) return done(new HttpError(401, "unauthorized", "missing or invalid bearer token"));
        request.client = client;
        done();
    });
    app.addHook("onResponse", (request, reply, done) => {
        metrics.activeConnections.dec();
        // Requests fastify answers before routing (a malformed URL) skip onRequest. The time is
        // fastify's own clock: from the request's arrival to the response's end, in ms.
        recordRequest(
            request.id,
            request.method,
            request.endpoint || (request.routeOptions.url ?? UNMATCHED),
            reply.statusCode,
            request.client,
            reply.elapsedTime,
        );
        done();
    });

    /**
     * GET /commands/:name for a body this replica holds, answered before fastify routes the request
     * (the hottest path: fastify's request and reply objects, hooks and schema steps were most of its
     * cost). It answers only what the route would answer with a 200 and the held bytes, with the same
     * headers, request line, metrics and request id sequence; anything else (another method or path,
     * a name the route would reject or decode, a request body, no or a bad token, a body not held,
     * draining or closing, a response queued behind an earlier one on a pipelined connection: answered
     * by fastify when its turn comes, so its line and timing say when it was sent) goes to fastify
     * untouched. The token is checked before the cache is looked at, so a
     * caller without one cannot time whether a name is held. `cli_active_connections` is not moved:
     * the request is answered within one synchronous step, so no scrape could see it in flight.
     */
    function answerHeldCommand(req: IncomingMessage, res: ServerResponse): boolean {
        if (req.method !== "GET" || draining || closing || res.socket === null) return false;
        const url = req.url;
        if (url === undefined || !url.startsWith(COMMAND_PATH_PREFIX)) return false;
        const name = url.slice(COMMAND_PATH_PREFIX.length);
        if (!isCommandName(name)) return false;
        const headers = req.headers;
        if (headers["transfer-encoding"] !== undefined || (headers["content-length"] !== undefined && headers["content-length"] !== "0")) return false;
        const started = performance.now();
        const client = clientOfHeader(headers.authorization);
        if (client === undefined) return false;
        const held = deps.cache.heldCommand(name);
        if (held === undefined) return false;
        const reqId = nextRequestId();
        res.writeHead(200, { "content-type": JSON_TYPE, "content-length": held.length });
        res.end(held);
        const record = () => recordRequest(reqId, "GET", COMMAND_ROUTE, 200, client, performance.now() - started);
        // A body the socket did not take at once (a slow reader) is done when the response closes, as fastify times it.
        if (res.socket !== null && res.socket.writableLength > 0) res.once("close", record);
        else record();
        return true;
    }

    // The OpenAPI document is generated from the route schemas: @fastify/swagger is registered
    // (awaited) before any route is declared, so that it sees every one of them.
    await app.register(fastifySwagger, {
        openapi: {
            openapi: "3.1.0",
            info: {
                title: "cli-platform api",
                version: deps.version,
                description: "The Self-Evolving CLI Platform: generate, version, run and audit CLI commands.",
            },
            components: { securitySchemes: { bearer: { type: "http", scheme: "bearer", description: "the token of a client in API_TOKENS" } } },
            security: [{ bearer: [] }],
        },
        transform: jsonSchemaTransform,
    });
    let openapi: string | undefined;
    app.get("/openapi.json", { schema: { hide: true } }, async (_request, reply) => sendJsonText(reply, (openapi ??= JSON.stringify(app.swagger()))));

    app.get("/health", { schema: { summary: "liveness; touches no dependency", security: [], response: { 200: healthSchema } } }, async () => ({
        status: "ok" as const,
        version: deps.version,
    }));

    app.get(
        "/ready",
        {
            schema: {
                summary: "readiness: PostgreSQL answers (Redis down is degraded, not fatal)",
                security: [],
                response: { 200: readySchema, 503: notReadySchema },
            },
        },
        // Ready = can serve: PostgreSQL is required; Redis is only a cache (requests work without it),
        // so its state is reported (body, cli_cache_up) but never takes the pod out of the Service.
        async (_request, reply) => {
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
            return reply.code(200).send({ status: degraded.length > 0 ? ("degraded" as const) : ("ready" as const), failing, degraded, checks });
        },
    );

    const evolveRoute = {
        preValidation: emptyBodyIsObject,
        schema: {
            summary: "generate a command (or its next version) from a description",
            body: evolveBodySchema,
            response: { 200: evolveResponseSchema, 201: evolveResponseSchema, ...errors(400, 401, 413, 415, 422, 502, 503, 504) },
        },
    };
    app.post("/evolve", evolveRoute, async (request, reply) => {
        const body = request.body;
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
            request.log.warn({ reqId: request.id, client: request.client, name, reasons: report.problems.map((p) => p.reason) }, "generated code rejected");
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
        const stored = await deps.repo.addVersion({
            name,
            description: body.description,
            code,
            model: deps.llm.model,
            validation: report,
            createdBy: request.client,
        });
        await deps.cache.invalidateCommand(name);
        metrics.generationSuccess.inc();
        return reply.code(201).send({ ...stored, cached: Boolean(cached), created: true });
    });

    app.get(
        "/commands",
        { schema: { summary: "every command with its latest version", response: { 200: commandListSchema, ...errors(401, 503) } } },
        async () => ({ commands: await deps.repo.list() }),
    );

    // Served from Redis when cached (invalidated whenever a version is stored), else PostgreSQL.
    // The body is cached as text, serialized once from commandSchema.
    const commandRoute = {
        schema: {
            summary: "every version of a command, oldest first",
            params: commandParamsSchema,
            response: { 200: commandSchema, ...errors(400, 401, 404, 503) },
        },
    };
    // Not async: a body this replica holds is sent at once, without a promise (the hottest path).
    app.get(COMMAND_ROUTE, commandRoute, (request, reply) => {
        const { name } = request.params;
        const held = deps.cache.heldCommand(name);
        if (held !== undefined) {
            sendJsonText(reply, held);
            return;
        }
        return commandFromStore(name, reply);
    });
    async function commandFromStore(name: string, reply: FastifyReply): Promise<void> {
        const cached = await deps.cache.getCommand(name);
        if (cached !== undefined) {
            sendJsonText(reply, cached);
            return;
        }
        const versions = await deps.repo.versions(name);
        if (versions.length === 0) throw new HttpError(404, "not_found", `no command named "${name}"`);
        const body = serialize(commandSchema, { name, versions });
        await deps.cache.setCommand(name, body);
        sendJsonText(reply, body);
    }

    const runRoute = {
        preValidation: emptyBodyIsObject,
        schema: {
            summary: "run the latest version (or `version`) in the sandbox; recorded in the audit trail",
            params: commandParamsSchema,
            body: runBodySchema,
            response: { 200: runResponseSchema, ...errors(400, 401, 404, 502, 503) },
        },
    };
    app.post("/commands/:name/run", runRoute, async (request) => {
        const { name } = request.params;
        const body = request.body;
        const target = body.version === undefined ? await deps.repo.latest(name) : await deps.repo.version(name, body.version);
        if (!target) throw await notFound(name, body.version);
        if (!deps.security.sandboxEnabled) throw new HttpError(503, "sandbox_disabled", "running commands is disabled (security.sandbox_enabled: false)");
        const startedAt = new Date().toISOString();
        const result = await deps.runner.run(target.code, body.args, deps.security.maxExecutionTimeMs);
        metrics.runs.inc({ outcome: result.killed ?? (result.exitCode === 0 ? "ok" : "error") });
        deps.runs.record({
            name,
            version: target.version,
            client: request.client,
            exitCode: result.exitCode,
            durationMs: result.durationMs,
            killed: result.killed ?? null,
            startedAt,
        });
        return { name, version: target.version, ...result };
    });

    const runsRoute = {
        schema: {
            summary: "recent runs of a command, newest first",
            params: commandParamsSchema,
            querystring: runsQuerySchema,
            response: { 200: runsResponseSchema, ...errors(400, 401, 404, 503) },
        },
    };
    app.get("/commands/:name/runs", runsRoute, async (request) => {
        const { name } = request.params;
        const runs = await deps.repo.runs(name, request.query.limit);
        if (runs.length === 0 && !(await deps.repo.latest(name))) throw await notFound(name);
        return { name, runs };
    });

    const rollbackRoute = {
        preValidation: emptyBodyIsObject,
        schema: {
            summary: "make version N the default: stores a copy of it as the next version",
            params: commandParamsSchema,
            body: rollbackBodySchema,
            response: { 200: rollbackResponseSchema, 201: rollbackResponseSchema, ...errors(400, 401, 404, 503) },
        },
    };
    app.post("/commands/:name/rollback", rollbackRoute, async (request, reply) => {
        const { name } = request.params;
        const result = await deps.repo.rollback(name, request.body.version, request.client);
        if (result.outcome === "no_command" || result.outcome === "no_version") throw await notFound(name, request.body.version);
        if (result.outcome === "already_latest") return reply.code(200).send({ ...result.version, created: false });
        await deps.cache.invalidateCommand(name);
        request.log.info(
            { reqId: request.id, client: request.client, name, version: result.version.version, rolledBackFrom: request.body.version },
            "rolled back",
        );
        return reply.code(201).send({ ...result.version, created: true });
    });

    /** The 404 for a command (or one of its versions) that does not exist. */
    async function notFound(name: string, version?: number): Promise<HttpError> {
        if (version !== undefined && (await deps.repo.latest(name))) return new HttpError(404, "not_found", `command "${name}" has no version ${version}`);
        return new HttpError(404, "not_found", `no command named "${name}"`);
    }

    return {
        app,
        beginShutdown: () => {
            draining = true;
        },
        /** Stops the app, then writes the runs still queued for the audit trail. */
        close: async () => {
            await app.close();
            await deps.runs.flush();
        },
    };
}
