/** HTTP plumbing shared by the api and the runner: JSON errors, body parsing, request metrics. */
import type * as http from "node:http";
import Fastify, { LogController, type FastifyReply } from "fastify";
import { hasZodFastifySchemaValidationErrors, serializerCompiler, validatorCompiler, type ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { fastCheckOf } from "./fastCheck";
import type { Logger } from "./logger";

/** A 4xx/5xx the handlers raise on purpose: it becomes `{error: {code, message}}`. */
export class HttpError extends Error {
    constructor(
        readonly statusCode: number,
        readonly code: string,
        message: string,
        readonly details?: unknown,
        /** Response headers that go with the error (e.g. retry-after). */
        readonly headers?: Record<string, string>,
    ) {
        super(message);
    }
}

export function sendError(reply: FastifyReply, status: number, code: string, message: string, details?: unknown): FastifyReply {
    return reply.code(status).send({ error: { code, message, ...(details === undefined ? {} : { details }) } });
}

/** The 400 for a request part that does not match its schema: `<part>: <field>: <problem>`. */
function invalidRequest(what: string, path: readonly PropertyKey[], code: string, message: string, keys?: readonly string[]): HttpError {
    const field = path.length > 0 ? path.join(".") : what;
    return new HttpError(
        400,
        "invalid_request",
        `${what}: ${field}: ${code === "unrecognized_keys" ? `unknown field(s) ${(keys ?? []).join(", ")}` : message}`,
    );
}

/** Parses a body/params object with a zod schema; a mismatch is a 400 naming the field. */
export function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
    const result = schema.safeParse(value);
    if (result.success) return result.data;
    const issue = result.error.issues[0];
    throw invalidRequest(what, issue.path, issue.code, issue.message, issue.code === "unrecognized_keys" ? issue.keys : undefined);
}

/** How a route's schema part is named in a 400 (`path: name: ...`). */
const PART_NAMES: Record<string, string> = { body: "body", params: "path", querystring: "query", headers: "header" };

export interface HttpOptions {
    logger: Logger;
    bodyLimit: number;
    /** Maps domain errors (database down, LLM timeout...) to HTTP errors; undefined = not mine. */
    mapError?: (err: Error) => HttpError | undefined;
    /**
     * Sees each request before fastify does and answers it itself (returning true) only when it
     * can answer exactly as the route would; else it leaves `res` untouched and returns false.
     */
    answerFirst?: (req: http.IncomingMessage, res: http.ServerResponse) => boolean;
    /** Request ids (default: fastify's). */
    genReqId?: () => string;
}

/** Request ids as fastify makes them by default (`req-1`, `req-2`...), one sequence per app, shared with `answerFirst`. */
export function requestIds(): () => string {
    let next = 0;
    return () => `req-${(next = (next + 1) & 0x7fffffff).toString(36)}`;
}

/**
 * Puts `answerFirst` in front of fastify's request handler on fastify's own server (so its timeouts,
 * clientError handling and close behaviour stay fastify's). Servers fastify adds for a host name's
 * other addresses (e.g. "localhost" on ::1 too) get fastify's handler alone: the same answers, on the
 * slower path.
 */
function answerBeforeRouting(server: http.Server, answerFirst: NonNullable<HttpOptions["answerFirst"]>): void {
    const listeners = server.listeners("request") as ((req: http.IncomingMessage, res: http.ServerResponse) => void)[];
    if (listeners.length !== 1) throw new Error(`http: expected fastify's one request listener on its server, found ${listeners.length}`);
    const [route] = listeners;
    server.removeListener("request", route);
    server.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => {
        if (!answerFirst(req, res)) route(req, res);
    });
}

export function createHttp(options: HttpOptions) {
    const app = Fastify({
        loggerInstance: options.logger,
        bodyLimit: options.bodyLimit,
        genReqId: options.genReqId,
        // Our own onResponse hook logs requests (with route and duration); fastify's are off.
        logController: new LogController({ disableRequestLogging: true }),
        // No per-request child logger (pino children cost a redaction set-up each); request logs
        // carry reqId themselves.
        childLoggerFactory: (logger) => logger,
        return503OnClosing: true,
        forceCloseConnections: "idle",
        requestTimeout: 120_000,
        // Errors fastify raises before routing (e.g. a malformed percent-encoded path) keep our
        // JSON error shape too.
        frameworkErrors: (err, _request, reply) => {
            sendError(reply, 400, "bad_request", err.message);
        },
    });

    if (options.answerFirst) answerBeforeRouting(app.server, options.answerFirst);

    // Route schemas are zod (fastify-type-provider-zod): requests are validated and responses
    // serialized from the schemas declared on each route, which also yield the handlers' types.
    app.setValidatorCompiler((route) => {
        const zod = validatorCompiler(route as Parameters<typeof validatorCompiler>[0]);
        const fast = fastCheckOf(route.schema);
        return fast ? (data: unknown) => (fast(data) ? { value: data } : zod(data)) : zod;
    });
    app.setSerializerCompiler(serializerCompiler);

    app.setErrorHandler((err: Error & { statusCode?: number; code?: string; validationContext?: string }, request, reply) => {
        if (hasZodFastifySchemaValidationErrors(err)) {
            const issue = err.validation[0];
            const what = PART_NAMES[err.validationContext ?? "body"] ?? String(err.validationContext);
            const path = issue.instancePath.split("/").filter(Boolean);
            const keys = (issue.params as { keys?: string[] }).keys;
            const bad = invalidRequest(what, path, issue.keyword, issue.message ?? "invalid", keys);
            return sendError(reply, bad.statusCode, bad.code, bad.message);
        }
        const mapped = err instanceof HttpError ? err : options.mapError?.(err);
        if (mapped) {
            if (mapped.headers) reply.headers(mapped.headers);
            return sendError(reply, mapped.statusCode, mapped.code, mapped.message, mapped.details);
        }
        const status = err.statusCode ?? 500;
        if (status >= 400 && status < 500) {
            const code =
                err.code === "FST_ERR_CTP_BODY_TOO_LARGE"
                    ? "body_too_large"
                    : err.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE"
                      ? "unsupported_media_type"
                      : err.code === "FST_ERR_CTP_EMPTY_JSON_BODY" || err.code === "FST_ERR_CTP_INVALID_JSON_BODY" || err instanceof SyntaxError
                        ? "invalid_json"
                        : "bad_request";
            return sendError(reply, status, code, err.message);
        }
        request.log.error({ err, route: request.routeOptions.url }, "unhandled error");
        return sendError(reply, 500, "internal", "internal error");
    });
    // Once close() has begun, connections that turn idle are closed as soon as their last response
    // is out: keep-alive clients must not hold a draining server open.
    app.addHook("preClose", async () => {
        const timer = setInterval(() => app.server.closeIdleConnections(), 50);
        app.server.once("close", () => clearInterval(timer));
    });
    app.setNotFoundHandler((request, reply) => sendError(reply, 404, "not_found", `no route ${request.method} ${request.url.split("?")[0]}`));
    return app.withTypeProvider<ZodTypeProvider>();
}

export type HttpApp = ReturnType<typeof createHttp>;
