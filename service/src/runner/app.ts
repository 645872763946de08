/** The runner's HTTP app (port 8001): POST /run executes one command in the sandbox. */
import { timingSafeEqual } from "node:crypto";
import { z } from "zod";
import { createHttp, HttpError, parse, sendError } from "../http";
import type { Logger } from "../logger";
import type { RunnerMetrics } from "../metrics";
import { argsSchema } from "../schemas";
import { MAX_CODE_LENGTH } from "../validation";
import { SandboxBusyError, SandboxPool, type SandboxLimits } from "./sandbox";

export interface RunnerDeps {
    log: Logger;
    metrics: RunnerMetrics;
    sandboxEnabled: boolean;
    /** Upper bound for a request's timeoutMs (security.max_execution_time). */
    maxExecutionTimeMs: number;
    /** Sandboxes running at once (worker threads). */
    concurrency: number;
    /** Runs that may wait for a free sandbox; beyond it, 429 at once. */
    queueSize: number;
    /** How long a run may wait for a free sandbox before 429, ms. */
    queueWaitMs: number;
    /** Shared secret the api sends as x-runner-token; unset = not checked (NetworkPolicy still applies). */
    token?: string;
    bodyLimit: number;
    /** Default SANDBOX_DEFAULTS. */
    limits?: SandboxLimits;
    /** Time past a run's deadline before its worker is replaced, ms. Default 1000. */
    graceMs?: number;
}

// The args limits are shared with the api's run route (declared in the zod-only schemas module).
export { argsSchema, MAX_ARG_LENGTH, MAX_ARGS } from "../schemas";

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
    let draining = false;
    const pool = new SandboxPool({
        size: deps.concurrency,
        queueSize: deps.queueSize,
        queueWaitMs: deps.queueWaitMs,
        graceMs: deps.graceMs,
        limits: deps.limits,
        onReplace: (reason) => deps.metrics.workerReplacements.inc({ reason }),
        onChange: (active, queued) => {
            deps.metrics.active.set(active);
            deps.metrics.queued.set(queued);
        },
    });
    const tokenOk = secretMatcher(deps.token === undefined ? [] : [deps.token]);
    const runSchema = z.strictObject({
        code: z.string().min(1).max(MAX_CODE_LENGTH),
        args: argsSchema().default([]),
        timeoutMs: z.int().min(1).max(deps.maxExecutionTimeMs).default(deps.maxExecutionTimeMs),
    });

    app.get("/health", async () => ({ status: "ok" }));
    app.get("/ready", async (_req, reply) =>
        draining ? sendError(reply, 503, "shutting_down", "the runner is shutting down") : { status: "ready", active: pool.active, queued: pool.queued },
    );

    app.post("/run", async (request, reply) => {
        if (deps.token !== undefined && !tokenOk(request.headers["x-runner-token"] as string | undefined)) {
            throw new HttpError(401, "unauthorized", "missing or wrong x-runner-token");
        }
        const body = parse(runSchema, request.body ?? {}, "body");
        if (!deps.sandboxEnabled) {
            deps.metrics.executions.inc({ outcome: "rejected" });
            throw new HttpError(503, "sandbox_disabled", "the sandbox is disabled (security.sandbox_enabled: false)");
        }
        let result;
        try {
            result = await pool.run({ code: body.code, args: body.args, timeoutMs: body.timeoutMs });
        } catch (err) {
            if (!(err instanceof SandboxBusyError)) throw err;
            deps.metrics.executions.inc({ outcome: "rejected" });
            reply.header("retry-after", String(err.retryAfterSeconds));
            throw new HttpError(429, "busy", err.message);
        }
        deps.metrics.executions.inc({ outcome: result.killed ?? (result.exitCode === 0 ? "ok" : "error") });
        deps.metrics.executionDuration.observe(result.durationMs / 1000);
        if (result.killed) request.log.warn({ killed: result.killed, durationMs: result.durationMs }, "sandbox killed");
        return result;
    });

    return {
        app,
        beginShutdown: () => {
            draining = true;
        },
        /** Starts the sandboxes' workers now rather than on the first runs. */
        warm: () => pool.warm(),
        close: async () => {
            await app.close();
            await pool.close();
        },
    };
}
