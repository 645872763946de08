/** The runner's HTTP app (port 8001): POST /run executes one command in the sandbox. */
import { timingSafeEqual } from "node:crypto";
import { z } from "zod";
import { createHttp, HttpError, parse, pgText, sendError } from "../http";
import type { Logger } from "../logger";
import type { RunnerMetrics } from "../metrics";
import { MAX_CODE_LENGTH } from "../validation";
import { runInSandbox, SANDBOX_DEFAULTS, type SandboxLimits } from "./sandbox";

export interface RunnerDeps {
    log: Logger;
    metrics: RunnerMetrics;
    sandboxEnabled: boolean;
    /** Upper bound for a request's timeoutMs (security.max_execution_time). */
    maxExecutionTimeMs: number;
    /** Sandboxes allowed at once; more get 429. */
    concurrency: number;
    /** Shared secret the api sends as x-runner-token; unset = not checked (NetworkPolicy still applies). */
    token?: string;
    bodyLimit: number;
    limits?: SandboxLimits;
}

export const MAX_ARGS = 64;
export const MAX_ARG_LENGTH = 4096;

export function argsSchema() {
    return z
        .array(pgText(z.string().max(MAX_ARG_LENGTH, `each argument must be at most ${MAX_ARG_LENGTH} characters`)))
        .max(MAX_ARGS, `at most ${MAX_ARGS} arguments`);
}

/**
 * A constant-time matcher for the accepted secrets: `timingSafeEqual` against every accepted
 * secret, with no early exit. Only a length mismatch is decided without comparing bytes; lengths
 * are not secret (tokens are generated at a fixed length). Hashing each request instead (to hide
 * length) cost a quarter of the cached read path's throughput.
 */
export function secretMatcher(accepted: string[]): (presented: string | undefined) => boolean {
    const buffers = accepted.map((a) => Buffer.from(a));
    return (presented) => {
        if (presented === undefined) return false;
        const p = Buffer.from(presented);
        let ok = false;
        for (const b of buffers) ok = (b.length === p.length && timingSafeEqual(p, b)) || ok;
        return ok;
    };
}

export function buildRunnerApp(deps: RunnerDeps) {
    const app = createHttp({ logger: deps.log, bodyLimit: deps.bodyLimit });
    let active = 0;
    let draining = false;
    const tokenOk = secretMatcher(deps.token === undefined ? [] : [deps.token]);
    const runSchema = z.strictObject({
        code: z.string().min(1).max(MAX_CODE_LENGTH),
        args: argsSchema().default([]),
        timeoutMs: z.int().min(1).max(deps.maxExecutionTimeMs).default(deps.maxExecutionTimeMs),
    });

    app.get("/health", async () => ({ status: "ok" }));
    app.get("/ready", async (_req, reply) => (draining ? sendError(reply, 503, "shutting_down", "the runner is shutting down") : { status: "ready", active }));

    app.post("/run", async (request, reply) => {
        if (deps.token !== undefined && !tokenOk(request.headers["x-runner-token"] as string | undefined)) {
            throw new HttpError(401, "unauthorized", "missing or wrong x-runner-token");
        }
        const body = parse(runSchema, request.body ?? {}, "body");
        if (!deps.sandboxEnabled) {
            deps.metrics.executions.inc({ outcome: "rejected" });
            throw new HttpError(503, "sandbox_disabled", "the sandbox is disabled (security.sandbox_enabled: false)");
        }
        if (active >= deps.concurrency) {
            deps.metrics.executions.inc({ outcome: "rejected" });
            reply.header("retry-after", "1");
            throw new HttpError(429, "busy", `${active} sandboxes are running; at most ${deps.concurrency} at once`);
        }
        active++;
        deps.metrics.active.inc();
        try {
            const result = await runInSandbox({ code: body.code, args: body.args, timeoutMs: body.timeoutMs }, deps.limits ?? SANDBOX_DEFAULTS);
            deps.metrics.executions.inc({ outcome: result.killed ?? (result.exitCode === 0 ? "ok" : "error") });
            deps.metrics.executionDuration.observe(result.durationMs / 1000);
            if (result.killed) request.log.warn({ killed: result.killed, durationMs: result.durationMs }, "sandbox killed");
            return result;
        } finally {
            active--;
            deps.metrics.active.dec();
        }
    });

    return {
        app,
        beginShutdown: () => {
            draining = true;
        },
        close: () => app.close(),
    };
}
