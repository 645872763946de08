/**
 * Writes the audit trail of runs off the run path: a run's record is queued and written with
 * others in one INSERT shortly after (at most `delayMs` later, or at once when `maxBatch` are
 * waiting). The queue is bounded; records that cannot be written are dropped, logged and counted
 * (run_records_dropped_total), never failing or delaying a run.
 */
import type { CommandRepository, RunRecord } from "./db";
import type { Logger } from "./logger";
import type { ApiMetrics } from "./metrics";

export interface RunRecorderOptions {
    /** Records written per INSERT at most. Default 200. */
    maxBatch?: number;
    /** How long a record waits for others before it is written, ms. Default 50. */
    delayMs?: number;
    /** Records held at most while the database is slow; more are dropped. Default 10000. */
    maxQueued?: number;
}

export class RunRecorder {
    private queue: (RunRecord & { name: string })[] = [];
    private timer?: NodeJS.Timeout;
    private writing: Promise<void> = Promise.resolve();
    private readonly maxBatch: number;
    private readonly delayMs: number;
    private readonly maxQueued: number;

    constructor(
        private readonly repo: Pick<CommandRepository, "recordRuns">,
        private readonly log: Logger,
        private readonly metrics: Pick<ApiMetrics, "runRecordsDropped">,
        options: RunRecorderOptions = {},
    ) {
        this.maxBatch = options.maxBatch ?? 200;
        this.delayMs = options.delayMs ?? 50;
        this.maxQueued = options.maxQueued ?? 10_000;
    }

    /** Queues one finished run; returns at once. */
    record(run: RunRecord & { name: string }): void {
        if (this.queue.length >= this.maxQueued) {
            this.metrics.runRecordsDropped.inc({ reason: "queue_full" });
            return;
        }
        this.queue.push(run);
        if (this.queue.length >= this.maxBatch) this.writeNow();
        else this.timer ??= setTimeout(() => this.writeNow(), this.delayMs);
    }

    /** Writes everything queued so far (tests; shutdown). */
    async flush(): Promise<void> {
        while (this.queue.length > 0) {
            this.writeNow();
            await this.writing;
        }
        await this.writing;
    }

    private writeNow(): void {
        clearTimeout(this.timer);
        this.timer = undefined;
        const batch = this.queue.splice(0, this.maxBatch);
        if (batch.length === 0) return;
        if (this.queue.length > 0) this.timer = setTimeout(() => this.writeNow(), this.delayMs);
        // One INSERT at a time, in queue order.
        this.writing = this.writing.then(() =>
            this.repo.recordRuns(batch).catch((err: unknown) => {
                this.metrics.runRecordsDropped.inc({ reason: "write_failed" }, batch.length);
                this.log.warn({ err: (err as Error).message, runs: batch.length }, "could not record runs in the audit trail");
            }),
        );
    }
}
