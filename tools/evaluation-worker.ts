/**
 * A child process of `EvaluationPool` (tools/evaluation-pool.ts): evaluates each stack it is sent
 * through the harness, one at a time, and answers with the render's digest, or the error the
 * program failed with. Started as `node -r tools/register.js tools/evaluation-worker.ts`.
 */
import { evaluateStack, renderDigest } from "./harness";
import type { EvaluationJob, EvaluationResult } from "./evaluation-pool";

let queue: Promise<void> = Promise.resolve();
const send = (result: EvaluationResult) => process.send?.(result);
/** V8's collector, when the pool exposed it (`--expose-gc`): `minor` empties the young generation. */
const gc = (globalThis as { gc?: (options: { type: "minor" | "major" }) => void }).gc;

process.on("message", (job: EvaluationJob) => {
    queue = queue.then(async () => {
        try {
            const render = await evaluateStack(job.stack, job.options);
            send({ id: job.id, digest: renderDigest(render) });
        } catch (err) {
            send({ id: job.id, error: { name: (err as Error).name, message: (err as Error).message } });
        }
        // Between two evaluations the last one's objects are garbage: collecting them now is cheap,
        // and the next evaluation then fits in the young generation (WORKER_NODE_OPTIONS).
        gc?.({ type: "minor" });
    });
});
// The pool closed (or the parent died): nothing more will come.
process.on("disconnect", () => process.exit(0));
