/**
 * Structured JSON logs (pino). Secrets are redacted by path, and URLs lose their credentials.
 * Lines go to stdout through an asynchronous buffered writer (a request never waits for a write(2);
 * one write carries many lines). `flushLogs` waits until every line is written; the shutdown path
 * awaits it before the process exits.
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
    "config.apiClients",
    "config.runner.token",
    "config.postgres.url",
    "config.redis.url",
];

export type Logger = pino.Logger;

/** Bytes buffered before a write, and the longest a line waits at low traffic. */
export const LOG_BATCH_BYTES = 4096;
export const LOG_FLUSH_INTERVAL_MS = 250;

/**
 * stdout (or `fd`) through sonic-boom with `sync: false`: lines collect in memory and leave in one write(2)
 * per 4 KiB (about 15 request lines), issued off the event loop; at low traffic a timer writes what
 * is buffered every 250 ms. Unbounded: a line is never dropped. `flushLogs` waits until it drained.
 */
export function asyncDestination(fd = 1): ReturnType<typeof pino.destination> {
    return pino.destination({ dest: fd, sync: false, minLength: LOG_BATCH_BYTES, periodicFlush: LOG_FLUSH_INTERVAL_MS });
}

let lastMs = -1;
let lastTime = "";
/**
 * pino's `isoTime` (`,"time":"<ISO 8601>"`), formatted once per millisecond: at thousands of lines
 * a second most lines share their millisecond, and `toISOString` was a tenth of a line's cost.
 */
export function isoTime(now = Date.now()): string {
    if (now !== lastMs) {
        lastMs = now;
        lastTime = `,"time":"${new Date(now).toISOString()}"`;
    }
    return lastTime;
}

export function createLogger(level: string, destination: pino.DestinationStream = asyncDestination()): Logger {
    return pino(
        {
            level,
            base: { service: "cli-platform" },
            timestamp: () => isoTime(),
            redact: { paths: REDACT_PATHS, censor: "[redacted]" },
            formatters: { level: (label) => ({ level: label }) },
        },
        destination,
    );
}

/** The fields of a request line: set by the api's onResponse hook, none of them a secret. */
export interface RequestLine {
    reqId: string;
    client: string;
    method: string;
    route: string;
    status: number;
    durationMs: number;
}

/**
 * The logger of request lines: `log`'s level, destination and format, without redaction. Checking
 * the redaction paths (wildcards included) was half the cost of a line, and a request line's fields
 * are fixed by its type (no headers, no bodies): typed so that nothing else can be passed to it.
 */
export function requestLogger(log: Logger): { info(line: RequestLine): void; debug(line: RequestLine): void } {
    const child = log.child({}, { redact: [] });
    return { info: (line) => child.info(line, "request"), debug: (line) => child.debug(line, "request") };
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
