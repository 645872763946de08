/**
 * Evaluates many stack variants on every core: a pool of child processes
 * (tools/evaluation-worker.ts), each with the program loaded once and evaluating the jobs it is
 * given one after another, through the same harness as everything else (tools/harness.ts). A job
 * answers with the render's digest (`renderDigest`): enough to tell whether a change of config
 * changed the render, without shipping renders between processes. Jobs go to whichever worker is
 * idle, so a slow stack does not hold up the rest.
 */
import { type ChildProcess, fork } from "node:child_process";
import * as os from "node:os";
import * as path from "node:path";
import type { EvaluateOptions } from "./harness";

export interface EvaluationJob {
    id: number;
    stack: string;
    options: EvaluateOptions;
}

export type EvaluationResult = { id: number; digest: string; error?: undefined } | { id: number; error: { name: string; message: string }; digest?: undefined };

/** The program failed to evaluate (a ConfigError, a component's validation, ...). */
export class PoolEvaluationError extends Error {
    constructor(name: string, message: string) {
        super(message);
        this.name = name;
    }
}

interface Pending {
    job: EvaluationJob;
    resolve: (digest: string) => void;
    reject: (err: Error) => void;
}

/**
 * Node flags of a worker. An evaluation allocates ~50 MB of objects that stay alive until it ends:
 * a young generation large enough for a whole evaluation (with the default 16 MB semi-space,
 * scavenges were a third of a worker's CPU) and kept that large (V8 shrinks it after the cheap
 * scavenges below, and then scavenges in the middle of evaluations again), emptied by the worker
 * between two evaluations (`gc`, exposed for that: little is alive then, so the scavenge is cheap,
 * instead of copying a half-built evaluation), and collected on the worker's own thread (V8's
 * parallel GC helpers cost CPU and only pay off on idle cores, which the pool is there to fill).
 * README "Development".
 */
const WORKER_NODE_OPTIONS = ["--max-semi-space-size=128", "--min-semi-space-size=64", "--single-threaded-gc", "--expose-gc"];

export class EvaluationPool {
    private readonly queue: Pending[] = [];
    private readonly idle: ChildProcess[] = [];
    private readonly busy = new Map<ChildProcess, Pending>();
    private workers = 0;
    private nextId = 0;
    private closed = false;

    /**
     * @param size Worker processes, started on demand. @default os.availableParallelism()
     * @param priority The workers' nice value. @default 10
     */
    constructor(
        private readonly size = os.availableParallelism(),
        private readonly priority = 10,
    ) {}

    /** The digest of `stack`'s render with `options`; rejects with a PoolEvaluationError when the program fails. */
    digest(stack: string, options: EvaluateOptions = {}): Promise<string> {
        if (this.closed) return Promise.reject(new Error("EvaluationPool: closed"));
        return new Promise((resolve, reject) => {
            this.queue.push({ job: { id: this.nextId++, stack, options }, resolve, reject });
            this.dispatch();
        });
    }

    /** Stops the workers; jobs not answered yet are rejected. */
    close(): void {
        this.closed = true;
        for (const p of this.queue.splice(0)) p.reject(new Error("EvaluationPool: closed"));
        for (const [worker, p] of this.busy) {
            p.reject(new Error("EvaluationPool: closed"));
            worker.kill();
        }
        for (const worker of this.idle.splice(0)) worker.disconnect();
        this.busy.clear();
    }

    private dispatch(): void {
        while (this.queue.length > 0) {
            const worker = this.idle.pop() ?? (this.workers < this.size ? this.start() : undefined);
            if (!worker) return;
            const pending = this.queue.shift()!;
            this.busy.set(worker, pending);
            worker.send(pending.job);
        }
    }

    private start(): ChildProcess {
        this.workers++;
        const worker = fork(path.join(__dirname, "evaluation-worker.ts"), [], {
            execArgv: [...WORKER_NODE_OPTIONS, "-r", path.join(__dirname, "register.js")],
            stdio: ["ignore", "inherit", "inherit", "ipc"],
        });
        // Below the processes that wait on it: the pool soaks up the cores they leave idle.
        try {
            if (worker.pid !== undefined) os.setPriority(worker.pid, this.priority);
        } catch {
            // Not allowed here (or already gone): it only runs at the same priority.
        }
        worker.on("message", (result: EvaluationResult) => {
            const pending = this.busy.get(worker);
            if (!pending || pending.job.id !== result.id) return;
            this.busy.delete(worker);
            if (result.error) pending.reject(new PoolEvaluationError(result.error.name, result.error.message));
            else pending.resolve(result.digest);
            this.idle.push(worker);
            this.dispatch();
        });
        worker.on("exit", (code, signal) => {
            const pending = this.busy.get(worker);
            this.busy.delete(worker);
            this.workers--;
            if (pending) pending.reject(new Error(`EvaluationPool: worker exited (${signal ?? `code ${code}`}) while evaluating ${pending.job.stack}`));
            if (!this.closed) this.dispatch();
        });
        return worker;
    }
}
