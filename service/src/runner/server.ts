/** The runner process: sandbox API on RUNNER_PORT, metrics on METRICS_PORT, graceful shutdown. */
import { closeServer, createMetricsServer, handleShutdown, listen } from "../lifecycle";
import { createLogger } from "../logger";
import { createRunnerMetrics } from "../metrics";
import { configOrExit } from "../server";
import { buildRunnerApp } from "./app";

export async function main(): Promise<void> {
    const config = configOrExit("runner");
    const log = createLogger(config.logLevel).child({ role: "runner" });
    const metrics = createRunnerMetrics();
    const runner = buildRunnerApp({
        log,
        metrics,
        sandboxEnabled: config.security.sandboxEnabled,
        maxExecutionTimeMs: config.security.maxExecutionTimeMs,
        concurrency: config.runner.concurrency,
        queueSize: config.runner.queueSize,
        queueWaitMs: config.runner.queueWaitMs,
        token: config.runner.token,
        bodyLimit: config.bodyLimit,
    });
    runner.warm();
    const metricsServer = createMetricsServer(metrics.registry);
    await runner.app.listen({ port: config.runnerPort, host: config.host });
    await listen(metricsServer, config.metricsPort, config.host);
    log.info({ port: config.runnerPort, metricsPort: config.metricsPort, concurrency: config.runner.concurrency }, "runner listening");
    handleShutdown({
        log,
        timeoutMs: config.shutdownTimeoutMs,
        servers: [runner, { beginShutdown: () => undefined, close: () => closeServer(metricsServer) }],
        closeResources: async () => undefined,
    });
}

if (require.main === module) {
    main().catch((err: unknown) => {
        process.stderr.write(`cli-platform runner: ${(err as Error).message}\n`);
        process.exit(1);
    });
}
