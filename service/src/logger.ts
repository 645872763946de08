/**
 * Structured JSON logs (pino). Secrets are redacted by path, and URLs lose their credentials.
 * Lines go to stdout through an asynchronous buffered writer: a request never waits for a write(2),
 * and lines that arrive while a write is in flight are batched into the next one. `flushLogs` waits
 * until every line is written; the shutdown path awaits it before the process exits.
 */
import pino from "pino";

export const REDACT_PATHS = [
    "req.headers.authorization",
    'req.headers["x-runner-token"]',
    "headers.authorization",
    "apiKey",
    "*.apiKey",
    "password",
    "*.password",
    "token",
    "*.token",
    "config.llm.apiKey",
    "config.apiTokens",
    "config.runner.token",
    "config.postgres.url",
    "config.redis.url",
];

export type Logger = pino.Logger;

/**
 * stdout, asynchronous (sonic-boom, `sync: false`). `minLength: 1` writes as soon as a line is
 * buffered and nothing is in flight (no delay at low traffic), batches everything else behind the
 * write in flight, and makes `flush(cb)` wait until the buffer has drained (sonic-boom skips that
 * wait when minLength is 0). Unbounded: a line is never dropped.
 */
export function stdoutDestination(): pino.DestinationStream {
    return pino.destination({ dest: 1, sync: false, minLength: 1 });
}

export function createLogger(level: string, destination: pino.DestinationStream = stdoutDestination()): Logger {
    return pino(
        {
            level,
            base: { service: "cli-platform" },
            timestamp: pino.stdTimeFunctions.isoTime,
            redact: { paths: REDACT_PATHS, censor: "[redacted]" },
            formatters: { level: (label) => ({ level: label }) },
        },
        destination,
    );
}

/** `postgres://user:pass@host/db` → `postgres://host/db`, for logs and error messages. */
export function stripCredentials(url: string): string {
    try {
        const u = new URL(url);
        u.username = "";
        u.password = "";
        return u.toString();
    } catch {
        return "(unparseable url)";
    }
}

/** Resolves once every line logged so far is written (a write error ends the wait too: nothing more can be done). */
export function flushLogs(log: Logger): Promise<void> {
    return new Promise((resolve) => log.flush(() => resolve()));
}
