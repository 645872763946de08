/**
 * Structured JSON logs (pino). Secrets are redacted by path, and URLs lose their credentials.
 * Lines go to stdout through an asynchronous buffered writer (a request never waits for a write(2);
 * one write carries many lines). `flushLogs` waits until every line is written; the shutdown path
 * awaits it before the process exits.
 */
import pino from "pino";

/**
 * The TurnBatchedDestinations still alive, written out at process exit, held weakly (a dropped logger
 * is collected as before). Not on-exit-leak-free (pino's own exit hook): its clean-up of a collected
 * object, 2.1.2's `splice(index, index + 1)`, also drops the registrations after it, pino's included.
 */
const liveDestinations = new Set<WeakRef<TurnBatchedDestination>>();
const collected = new FinalizationRegistry<WeakRef<TurnBatchedDestination>>((ref) => liveDestinations.delete(ref));
let exitHooked = false;
function flushAtExit(destination: TurnBatchedDestination): void {
    const ref = new WeakRef(destination);
    liveDestinations.add(ref);
    collected.register(destination, ref);
    if (exitHooked) return;
    exitHooked = true;
    process.on("exit", () => {
        for (const live of liveDestinations) live.deref()?.flushSync();
    });
}

/** The most handed to sonic-boom in one write: its own split size, so an exit during a write loses at most that (sonic-boom 4's MAX_WRITE). */
const MAX_WRITE_BYTES = 16 * 1024;

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

type SonicBoom = ReturnType<typeof pino.destination>;

/**
 * The lines logged within one event-loop turn, handed to sonic-boom as one string when the turn
 * ends (setImmediate) or before a flush: sonic-boom measures its pending string on every write
 * (`Buffer.byteLength` of a growing concatenation, flattened each time), which at thousands of lines
 * a second cost ~4 µs a line; one write per turn pays it once for all of them. Order is kept: every
 * line of the logger goes through here.
 */
export class TurnBatchedDestination {
    private lines: string[] = [];
    private scheduled = false;

    constructor(readonly sonic: SonicBoom) {
        // A process that ends in the turn that logged (process.exit, an uncaught error) never reaches
        // the setImmediate: its last lines, the ones that say why, are written at exit. pino flushes
        // the sonic-boom itself the same way; a write after that flush is flushed here.
        flushAtExit(this);
    }

    write(line: string): boolean {
        this.lines.push(line);
        if (!this.scheduled) {
            this.scheduled = true;
            setImmediate(this.release);
        }
        return true;
    }

    /** Hands the turn's lines to sonic-boom, in writes of at most MAX_WRITE_BYTES cut at line ends (a longer line alone). */
    private readonly release = (): void => {
        this.scheduled = false;
        if (this.lines.length === 0) return;
        const lines = this.lines;
        this.lines = [];
        // After end() nothing can be written: the lines are dropped, never thrown from the setImmediate
        // that releases them (an uncaught error there ended the process; attack-42d).
        const state = this.sonic as unknown as { destroyed: boolean; _ending: boolean };
        if (state.destroyed || state._ending) return;
        let start = 0;
        let length = 0;
        for (let i = 0; i < lines.length; i++) {
            const bytes = Buffer.byteLength(lines[i]);
            if (i > start && length + bytes > MAX_WRITE_BYTES) {
                this.sonic.write(lines.slice(start, i).join(""));
                start = i;
                length = 0;
            }
            length += bytes;
        }
        this.sonic.write(start === 0 ? lines.join("") : lines.slice(start).join(""));
    };

    /** Writes every line now, synchronously: at exit (no event loop is left) and after a `fatal` line (pino calls it). */
    flushSync(): void {
        // Buffer only while handing over the lines: a write(2) started now would run on libuv's pool
        // after the synchronous writes below, putting these lines after later ones (attack-42c H2). A
        // write already in flight from an earlier turn cannot be recalled: its lines may land after these.
        const sonic = this.sonic as unknown as { minLength: number };
        const minLength = sonic.minLength;
        sonic.minLength = Number.MAX_SAFE_INTEGER;
        try {
            this.release();
            this.sonic.flushSync();
        } catch {
            // already ended or closed: nothing is left to write to
        } finally {
            sonic.minLength = minLength;
        }
    }

    flush(cb: (err?: Error) => void): void {
        this.release();
        // sonic-boom 4.2.1 emits 'drain', which its flush waits for, once less than minLength is left
        // (index.js release: `len > this.minLength` writes on, else drain): after several writes the
        // rest is still buffered then. The second flush writes it (or an empty write) and drains. It runs
        // whatever the first answered: on a pipe (a container's stdout) the fsync after a flush fails
        // with EINVAL (attack-42c H1).
        this.sonic.flush(() => this.sonic.flush(cb));
    }

    end(): void {
        this.release();
        this.sonic.end();
    }
}

/**
 * stdout (or `fd`) through sonic-boom with `sync: false`, behind a TurnBatchedDestination: lines
 * collect in memory and leave in one write(2) per 4 KiB (about 20 request lines), issued off the
 * event loop; at low traffic a timer writes what is buffered every 250 ms. Unbounded: a line is never
 * dropped. `flushLogs` waits until it drained.
 */
export function asyncDestination(fd = 1): TurnBatchedDestination {
    return new TurnBatchedDestination(pino.destination({ dest: fd, sync: false, minLength: LOG_BATCH_BYTES, periodicFlush: LOG_FLUSH_INTERVAL_MS }));
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
 * The logger of request lines: `log`'s level, destination and format (level label, time, base
 * fields and message key, all read from `log` itself), the line built as one string. The fields of a
 * request line are fixed by their type (no headers, no bodies, nothing to redact), so pino's generic
 * path (redaction, serializers, a key-by-key stringify) is skipped: it was the request's biggest
 * single cost after the socket write.
 */
export function requestLogger(log: Logger): { info(line: RequestLine): void; debug(line: RequestLine): void } {
    const own = log as unknown as Record<symbol, unknown>;
    const { streamSym, timeSym, chindingsSym, formattersSym, messageKeySym } = pino.symbols;
    const stream = own[streamSym] as { write(text: string): unknown };
    const time = own[timeSym] as () => string;
    const base = own[chindingsSym] as string;
    const levelObject = (own[formattersSym] as { level(label: string, n: number): object }).level;
    const end = `,${JSON.stringify(own[messageKeySym])}:"request"}\n`;
    const at = (label: "info" | "debug") => {
        const head = JSON.stringify(levelObject(label, log.levels.values[label])).slice(0, -1);
        return (r: RequestLine) => {
            if (!log.isLevelEnabled(label)) return;
            stream.write(
                `${head}${time()}${base},"reqId":${JSON.stringify(r.reqId)},"client":${JSON.stringify(r.client)},"method":${JSON.stringify(r.method)}` +
                    `,"route":${JSON.stringify(r.route)},"status":${JSON.stringify(r.status)},"durationMs":${JSON.stringify(r.durationMs)}${end}`,
            );
        };
    };
    return { info: at("info"), debug: at("debug") };
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
