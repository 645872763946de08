import * as assert from "node:assert/strict";
import type { RunRecord } from "../src/db";
import { createLogger } from "../src/logger";
import { createApiMetrics } from "../src/metrics";
import { RunRecorder } from "../src/runRecorder";

const run = (i: number): RunRecord & { name: string } => ({
    name: "cmd",
    version: 1,
    client: "ci",
    exitCode: i,
    durationMs: 1,
    killed: null,
    startedAt: "2026-01-01T00:00:00.000Z",
});

describe("RunRecorder (the audit trail's writer)", () => {
    it("writes queued runs in batches, in order, without the caller waiting", async () => {
        const batches: number[][] = [];
        const recorder = new RunRecorder(
            { recordRuns: async (runs) => void batches.push(runs.map((r) => r.exitCode)) },
            createLogger("silent"),
            createApiMetrics(false),
            { maxBatch: 3, delayMs: 10_000 },
        );
        for (let i = 0; i < 7; i++) recorder.record(run(i));
        await recorder.flush();
        assert.deepEqual(batches, [[0, 1, 2], [3, 4, 5], [6]]);
    });

    it("drops (and counts) what cannot be written or queued, never throwing at the run path", async () => {
        const metrics = createApiMetrics(false);
        const recorder = new RunRecorder(
            {
                recordRuns: async () => {
                    throw new Error("database down");
                },
            },
            createLogger("silent"),
            metrics,
            { maxBatch: 100, delayMs: 10_000, maxQueued: 4 },
        );
        for (let i = 0; i < 6; i++) recorder.record(run(i));
        await recorder.flush();
        const text = await metrics.registry.getSingleMetricAsString("run_records_dropped_total");
        assert.match(text, /run_records_dropped_total\{reason="queue_full"\} 2/);
        assert.match(text, /run_records_dropped_total\{reason="write_failed"\} 4/);
    });
});
