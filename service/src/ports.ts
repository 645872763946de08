/**
 * The ports the api, the runner and both workloads' /metrics listen on by default (PORT,
 * RUNNER_PORT, METRICS_PORT); the Pulumi program deploys them on the same ports. No imports: the
 * healthcheck loads this on every probe.
 */
export const PORTS = { api: 8000, runner: 8001, metrics: 8080 } as const;
