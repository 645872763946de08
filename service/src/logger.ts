/** Structured JSON logs (pino). Secrets are redacted by path, and URLs lose their credentials. */
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

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
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
