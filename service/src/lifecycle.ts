/**
 * Process lifecycle shared by the api and the runner: a metrics endpoint on its own port, and
 * graceful shutdown on SIGTERM/SIGINT (report not ready, stop accepting, let in-flight requests
 * finish within a bound, close pools, flush the buffered logs, exit 0).
 */
import * as http from "node:http";
import type { Registry } from "prom-client";
import { flushLogs, type Logger } from "./logger";

/** GET /metrics on its own port (8080), so scraping never competes with the API's auth or limits. */
export function createMetricsServer(registry: Registry): http.Server {
    return http.createServer((req, res) => {
        if (req.method === "GET" && req.url?.split("?")[0] === "/metrics") {
            registry.metrics().then(
                (body) => {
                    res.writeHead(200, { "content-type": registry.contentType });
                    res.end(body);
                },
                () => {
                    res.writeHead(500, { "content-type": "application/json" });
                    res.end(JSON.stringify({ error: { code: "internal", message: "metrics collection failed" } }));
                },
            );
            return;
        }
        res.writeHead(404, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: { code: "not_found", message: "only GET /metrics is served here" } }));
    });
}

export interface Drainable {
    /** Flags the process as going away (readiness turns 503). */
    beginShutdown(): void;
    /** Stops accepting and resolves when in-flight requests have finished. */
    close(): Promise<void>;
}

/** How long the exit path waits for buffered log lines to reach stdout before exiting anyway. */
export const LOG_FLUSH_BOUND_MS = 5000;

/**
 * Installs SIGTERM/SIGINT handlers. `closeResources` runs after the servers drained (pools, clients).
 * Exits 0 on a clean drain, 1 when the bound ran out; either way only after the buffered log lines
 * (the request lines of the drained requests included) are written.
 */
export function handleShutdown(opts: {
    log: Logger;
    timeoutMs: number;
    servers: Drainable[];
    closeResources: () => Promise<void>;
    exit?: (code: number) => void;
}): void {
    const processExit = opts.exit ?? ((code: number) => process.exit(code));
    let exiting = false;
    const exit = (code: number) => {
        if (exiting) return;
        exiting = true;
        const bound = setTimeout(() => processExit(code), LOG_FLUSH_BOUND_MS);
        void flushLogs(opts.log).then(() => {
            clearTimeout(bound);
            processExit(code);
        });
    };
    let stopping = false;
    const stop = async (signal: string) => {
        if (stopping) return;
        stopping = true;
        opts.log.info({ signal, timeoutMs: opts.timeoutMs }, "shutting down: draining in-flight requests");
        const timer = setTimeout(() => {
            opts.log.error({ timeoutMs: opts.timeoutMs }, "drain bound exceeded; exiting with requests still in flight");
            exit(1);
        }, opts.timeoutMs);
        timer.unref();
        try {
            for (const s of opts.servers) s.beginShutdown();
            await Promise.all(opts.servers.map((s) => s.close()));
            await opts.closeResources();
            clearTimeout(timer);
            opts.log.info("shutdown complete");
            exit(0);
        } catch (err) {
            opts.log.error({ err }, "shutdown failed");
            exit(1);
        }
    };
    process.on("SIGTERM", () => void stop("SIGTERM"));
    process.on("SIGINT", () => void stop("SIGINT"));
}

export function listen(server: http.Server, port: number, host: string): Promise<void> {
    return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
            server.off("error", reject);
            resolve();
        });
    });
}

export function closeServer(server: http.Server): Promise<void> {
    return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
    });
}
