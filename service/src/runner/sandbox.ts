/**
 * The sandbox pool: one worker thread per slot, each running one command at a time on a fresh
 * QuickJS engine (a new wasm instance, glue and runtime per run on the worker's zeroed memory) (engine.ts enforces the deadline, memory, stack and
 * output limits). Runs beyond the slots wait in a bounded queue for a bounded time, then get
 * SandboxBusyError (the HTTP layer's 429). Backstop: a worker that has not answered by its
 * deadline plus a grace period is terminated and replaced; a worker that dies is replaced too.
 * Answers from workers are checked field by field before they become a SandboxResult.
 */
import * as path from "node:path";
import { Worker } from "node:worker_threads";
import type { WorkerJob } from "./engine";
import { EXIT_TIMEOUT, SANDBOX_DEFAULTS, type SandboxLimits, type SandboxRequest, type SandboxResult } from "./limits";

export { EXIT_MEMORY, EXIT_TIMEOUT, SANDBOX_DEFAULTS, type SandboxLimits, type SandboxRequest, type SandboxResult } from "./limits";

/** Every slot is busy and the queue is full, or the wait in the queue ran out. */
export class SandboxBusyError extends Error {
    constructor(
        message: string,
        readonly retryAfterSeconds: number,
    ) {
        super(message);
    }
}

export interface PoolOptions {
    /** Commands running at once (worker threads). */
    size: number;
    /** Runs that may wait for a slot; beyond it, SandboxBusyError at once. */
    queueSize: number;
    /** How long a run may wait for a slot before SandboxBusyError, ms. */
    queueWaitMs: number;
    /** Time past a run's deadline before its worker is terminated and replaced, ms. Default 1000. */
    graceMs?: number;
    /** Default SANDBOX_DEFAULTS. */
    limits?: SandboxLimits;
    /** Called when a worker is replaced: it ran past deadline + grace, or it died. */
    onReplace?: (reason: "deadline" | "crash") => void;
    /** Called whenever the number of running or waiting runs changes. */
    onChange?: (active: number, queued: number) => void;
    /** The workers' code (evaluated in each worker). Default: engine.ts's serveWorker. Tests substitute stand-ins. */
    workerSource?: string;
}

interface Job {
    id: number;
    started: number;
    timeoutMs: number;
    resolve: (r: SandboxResult) => void;
    backstop?: NodeJS.Timeout;
    /** The backstop counts from the moment the worker's engine is loaded (a new worker needs a moment first). */
    armed: boolean;
}

interface Slot {
    worker?: Worker;
    /** The worker's engine is loaded (it says so after every load). */
    ready: boolean;
    job?: Job;
}

interface Waiting {
    request: SandboxRequest;
    resolve: (r: SandboxResult) => void;
    reject: (e: Error) => void;
    timer: NodeJS.Timeout;
}

/** The engine next to this file: engine.js when built, engine.ts under ts-node (tests, bench), registered in the worker. */
const ENGINE = path.join(__dirname, `engine${path.extname(__filename)}`);
export const WORKER_SOURCE = `${ENGINE.endsWith(".ts") ? 'require("ts-node").register({ transpileOnly: true });' : ""} require(${JSON.stringify(ENGINE)}).serveWorker();`;

/**
 * V8 limits of a worker's own (host) heap; the guest's memory is the engine's limit, not these. The
 * host side of a run holds its code, args and at most 2 x 64 KiB of output: a worker past these
 * limits dies and is replaced. Part of the runner's memory budget (service/README.md).
 */
const WORKER_RESOURCES = { maxOldGenerationSizeMb: 48, maxYoungGenerationSizeMb: 8, stackSizeMb: 8 };

/** Bound on loading a worker's engine (ts-node in tests takes a few seconds on a busy machine). */
const STARTUP_MS = 30_000;

const isInt = (v: unknown, min: number, max: number): v is number => Number.isInteger(v) && (v as number) >= min && (v as number) <= max;

/** A worker's answer as a SandboxResult, or undefined when it is not exactly that shape. */
function toResult(raw: unknown): SandboxResult | undefined {
    if (typeof raw !== "object" || raw === null) return undefined;
    const r = raw as Record<string, unknown>;
    if (!isInt(r.exitCode, 0, 255) || typeof r.stdout !== "string" || typeof r.stderr !== "string" || typeof r.truncated !== "boolean") return undefined;
    if (r.killed !== undefined && r.killed !== "timeout" && r.killed !== "memory") return undefined;
    if (!isInt(r.durationMs, 0, 2 ** 31)) return undefined;
    return {
        exitCode: r.exitCode,
        stdout: r.stdout,
        stderr: r.stderr,
        durationMs: r.durationMs,
        ...(r.killed === undefined ? {} : { killed: r.killed }),
        truncated: r.truncated,
    };
}

export class SandboxPool {
    private readonly slots: Slot[];
    private readonly queue: Waiting[] = [];
    private readonly limits: SandboxLimits;
    private readonly graceMs: number;
    private nextId = 1;
    private closed = false;

    constructor(private readonly options: PoolOptions) {
        this.slots = Array.from({ length: options.size }, () => ({ ready: false }));
        this.limits = options.limits ?? SANDBOX_DEFAULTS;
        if (this.limits.maxMemoryMb < 32 || this.limits.maxMemoryMb > 2048 || !Number.isInteger(this.limits.maxMemoryMb))
            throw new Error(`sandbox limits maxMemoryMb: ${this.limits.maxMemoryMb} is not allowed; an integer from 32 to 2048 (MiB)`);
        this.graceMs = options.graceMs ?? 1000;
    }

    /** Commands running now. */
    get active(): number {
        return this.slots.filter((s) => s.job !== undefined).length;
    }

    /** Runs waiting for a slot. */
    get queued(): number {
        return this.queue.length;
    }

    /** Starts every worker now (the server does this at start, so the first runs do not pay for it). */
    warm(): void {
        for (const slot of this.slots) if (!slot.worker) slot.worker = this.spawn(slot);
    }

    /** Runs one command; rejects with SandboxBusyError when it cannot get a slot in time. */
    run(request: SandboxRequest): Promise<SandboxResult> {
        return new Promise((resolve, reject) => {
            if (this.closed) return reject(new SandboxBusyError("the runner is shutting down", 1));
            const idle = this.slots.find((s) => s.job === undefined);
            if (idle) return this.dispatch(idle, request, resolve);
            if (this.queue.length >= this.options.queueSize) {
                return reject(
                    new SandboxBusyError(`${this.options.size} sandboxes are running and ${this.queue.length} runs are waiting; try again shortly`, 1),
                );
            }
            const waiting: Waiting = {
                request,
                resolve,
                reject,
                timer: setTimeout(() => {
                    this.queue.splice(this.queue.indexOf(waiting), 1);
                    this.changed();
                    reject(new SandboxBusyError(`no sandbox became free within ${this.options.queueWaitMs} ms; try again shortly`, 1));
                }, this.options.queueWaitMs),
            };
            this.queue.push(waiting);
            this.changed();
        });
    }

    /** Terminates every worker; queued runs are refused. Call after in-flight requests drained. */
    async close(): Promise<void> {
        this.closed = true;
        for (const w of this.queue.splice(0)) {
            clearTimeout(w.timer);
            w.reject(new SandboxBusyError("the runner is shutting down", 1));
        }
        await Promise.all(
            this.slots.map((slot) => {
                const worker = slot.worker;
                slot.worker = undefined;
                if (slot.job) this.settle(slot, { exitCode: 1, stdout: "", stderr: "the runner shut down during the run\n", truncated: false });
                return worker?.terminate();
            }),
        );
    }

    private spawn(slot: Slot): Worker {
        slot.ready = false;
        const worker = new Worker(this.options.workerSource ?? WORKER_SOURCE, {
            eval: true,
            env: {},
            stdout: true,
            stderr: true,
            resourceLimits: WORKER_RESOURCES,
            workerData: { limits: this.limits },
        });
        worker.on("message", (m: { id?: unknown; result?: unknown; ready?: unknown }) => {
            if (slot.worker !== worker) return;
            if (m?.ready === true) {
                slot.ready = true;
                if (slot.job && !slot.job.armed) this.arm(slot, slot.job, true);
                return;
            }
            const job = slot.job;
            if (!job || m?.id !== job.id) return;
            // The worker measured the run itself (its durationMs leaves out the engine's preparation).
            const result = toResult(m.result);
            // Replaced before the slot is settled: settling hands the slot to the next queued run (attack-14s S4).
            if (!result) this.replace(slot, "crash");
            this.settle(slot, result ?? { exitCode: 1, stdout: "", stderr: "the sandbox gave a malformed answer\n", truncated: false });
        });
        const died = () => {
            if (slot.worker !== worker) return;
            slot.worker = undefined;
            this.options.onReplace?.("crash");
            if (slot.job) this.settle(slot, { exitCode: 1, stdout: "", stderr: "the sandbox failed; it was replaced\n", truncated: false });
        };
        worker.on("error", died);
        worker.on("exit", died);
        return worker;
    }

    private dispatch(slot: Slot, request: SandboxRequest, resolve: (r: SandboxResult) => void): void {
        slot.worker ??= this.spawn(slot);
        const job: Job = { id: this.nextId++, started: performance.now(), timeoutMs: request.timeoutMs, resolve, armed: false };
        slot.job = job;
        this.arm(slot, job, slot.ready);
        const message: WorkerJob = { id: job.id, request: { code: request.code, args: request.args, timeoutMs: request.timeoutMs } };
        slot.worker.postMessage(message);
        this.changed();
    }

    /**
     * The backstop: past deadline + grace, the worker is terminated and replaced. Until the worker's
     * engine is loaded, the bound also allows STARTUP_MS for loading it.
     */
    private arm(slot: Slot, job: Job, ready: boolean): void {
        clearTimeout(job.backstop);
        if (ready) job.started = performance.now();
        job.armed = ready;
        job.backstop = setTimeout(
            () => {
                if (slot.job !== job) return;
                this.replace(slot, "deadline");
                this.settle(slot, {
                    exitCode: EXIT_TIMEOUT,
                    stdout: "",
                    stderr: `killed: exceeded ${job.timeoutMs} ms\n`,
                    killed: "timeout",
                    truncated: false,
                });
            },
            job.timeoutMs + this.graceMs + (ready ? 0 : STARTUP_MS),
        );
    }

    private changed(): void {
        this.options.onChange?.(this.active, this.queue.length);
    }

    /** Terminates the slot's worker; the next run on the slot starts a new one. */
    private replace(slot: Slot, reason: "deadline" | "crash"): void {
        const worker = slot.worker;
        slot.worker = undefined;
        if (worker) {
            this.options.onReplace?.(reason);
            void worker.terminate();
        }
    }

    /** Answers the slot's job (durationMs filled in here unless given) and gives the slot to the next waiting run. */
    private settle(slot: Slot, result: Omit<SandboxResult, "durationMs"> & { durationMs?: number }): void {
        const job = slot.job;
        if (!job) return;
        slot.job = undefined;
        clearTimeout(job.backstop);
        job.resolve({ ...result, durationMs: result.durationMs ?? Math.round(performance.now() - job.started) });
        const next = this.closed ? undefined : this.queue.shift();
        if (next) {
            clearTimeout(next.timer);
            this.dispatch(slot, next.request, next.resolve);
        } else this.changed();
    }
}
