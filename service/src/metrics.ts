/**
 * Prometheus metrics (prom-client), named as in the deployment guide. One registry per process
 * role, so tests can build several apps in one process.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export interface ApiMetrics {
    registry: Registry;
    requests: Counter<"method" | "endpoint" | "status" | "client">;
    requestDuration: Histogram<"method" | "endpoint">;
    activeConnections: Gauge;
    generationAttempts: Counter;
    generationSuccess: Counter;
    validationDuration: Histogram;
    validationRejections: Counter<"reason">;
    cacheRequests: Counter<"result">;
    /** 1 when the last readiness check reached Redis, else 0. */
    cacheUp: Gauge;
    llmErrors: Counter<"kind">;
    runs: Counter<"outcome">;
    runRecordsDropped: Counter<"reason">;
}

export const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export function createApiMetrics(withDefaults = true): ApiMetrics {
    const registry = new Registry();
    if (withDefaults) collectDefaultMetrics({ register: registry });
    const r = [registry];
    return {
        registry,
        // client: a configured client name, or "none" (public routes, rejected tokens): bounded by API_TOKENS.
        requests: new Counter({ name: "cli_requests_total", help: "Total requests", labelNames: ["method", "endpoint", "status", "client"], registers: r }),
        requestDuration: new Histogram({
            name: "cli_request_duration_seconds",
            help: "Request latency",
            labelNames: ["method", "endpoint"],
            buckets: LATENCY_BUCKETS,
            registers: r,
        }),
        activeConnections: new Gauge({ name: "cli_active_connections", help: "Requests in flight", registers: r }),
        generationAttempts: new Counter({ name: "code_generation_attempts_total", help: "Code generation attempts", registers: r }),
        generationSuccess: new Counter({ name: "code_generation_success_total", help: "Successful code generations (validated and stored)", registers: r }),
        validationDuration: new Histogram({
            name: "validation_duration_seconds",
            help: "Validation latency",
            buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
            registers: r,
        }),
        validationRejections: new Counter({
            name: "validation_rejections_total",
            help: "Generated code rejected by validation",
            labelNames: ["reason"],
            registers: r,
        }),
        cacheRequests: new Counter({
            name: "cache_requests_total",
            help: "Generation cache look-ups (hit, miss, error)",
            labelNames: ["result"],
            registers: r,
        }),
        cacheUp: new Gauge({ name: "cli_cache_up", help: "1 when the last readiness check reached the Redis cache, 0 when it did not", registers: r }),
        llmErrors: new Counter({ name: "llm_errors_total", help: "LLM calls that failed (timeout, error)", labelNames: ["kind"], registers: r }),
        runs: new Counter({ name: "command_runs_total", help: "Command runs by outcome", labelNames: ["outcome"], registers: r }),
        runRecordsDropped: new Counter({
            name: "run_records_dropped_total",
            help: "Run records not written to the audit trail (queue_full, write_failed)",
            labelNames: ["reason"],
            registers: r,
        }),
    };
}

export interface RunnerMetrics {
    registry: Registry;
    executions: Counter<"outcome">;
    executionDuration: Histogram;
    active: Gauge;
    queued: Gauge;
    workerReplacements: Counter<"reason">;
}

export function createRunnerMetrics(withDefaults = true): RunnerMetrics {
    const registry = new Registry();
    if (withDefaults) collectDefaultMetrics({ register: registry });
    const r = [registry];
    return {
        registry,
        executions: new Counter({
            name: "sandbox_executions_total",
            help: "Sandbox executions by outcome (ok, error, timeout, memory, rejected)",
            labelNames: ["outcome"],
            registers: r,
        }),
        executionDuration: new Histogram({
            name: "sandbox_execution_duration_seconds",
            help: "Sandbox execution time",
            buckets: LATENCY_BUCKETS,
            registers: r,
        }),
        active: new Gauge({ name: "sandbox_active", help: "Sandboxes running", registers: r }),
        queued: new Gauge({ name: "sandbox_queued", help: "Runs waiting for a free sandbox", registers: r }),
        workerReplacements: new Counter({
            name: "sandbox_worker_replacements_total",
            help: "Sandbox workers terminated and replaced, by reason (deadline: past deadline + grace; crash: died or answered malformed)",
            labelNames: ["reason"],
            registers: r,
        }),
    };
}
