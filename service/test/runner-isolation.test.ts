/**
 * What one run can learn of, or do to, another run on the same pool worker, and what the host reads
 * of a guest's strings: the findings of the attack on the reused-memory runner (attack-14s, issue 14),
 * each asserted as what an attacker observes.
 */
import * as assert from "node:assert/strict";
import { engineMemoryFor, loadEngine } from "../src/runner/engine";
import { runCommand } from "../src/runner/run";
import { SandboxPool, WORKER_SOURCE } from "../src/runner/sandbox";

const limits = { maxOutputBytes: 64 * 1024, maxMemoryMb: 64, maxStackKb: 1024 };

/**
 * QuickJS 2025-09-13 seeds Math.random (xorshift64*) with gettimeofday in microseconds when a
 * context is made. The attacker's payload: recover the seed from the first Math.random value,
 * trying every millisecond within 2 minutes of the run's clock.
 */
const SEED_SEARCH = `function main() {
  const first = Math.random(), now = Date.now();
  const M = (1n << 64n) - 1n, K = 0x2545F4914F6CDD1Dn, target = BigInt(first * 2 ** 52);
  for (let d = -120000; d <= 120000; d++) {
    let s = BigInt(now + d) * 1000n;
    s ^= s >> 12n; s ^= (s << 25n) & M; s ^= s >> 27n;
    if ((((s * K) & M) >> 12n) === target) return "seeded " + -d + " ms before this run";
  }
  return "no seed within 2 minutes of now";
}`;

/** Run N's prediction of run N+1's first Math.random: the values of the seeds from its own end to 200 ms later. */
const PREDICT = `function main() {
  const M = (1n << 64n) - 1n, K = 0x2545F4914F6CDD1Dn, end = Date.now(), out = [];
  for (let ms = end; ms < end + 200; ms++) {
    let s = BigInt(ms) * 1000n;
    s ^= s >> 12n; s ^= (s << 25n) & M; s ^= s >> 27n;
    out.push(Number(((s * K) & M) >> 12n) / 2 ** 52);
  }
  return JSON.stringify(out);
}`;

describe("runner isolation between runs (attack-14s)", function () {
    this.timeout(120_000);

    it("S1: a run cannot find its Math.random seed near the clock, nor predict the next run's Math.random", async () => {
        const pool = new SandboxPool({ size: 1, queueSize: 4, queueWaitMs: 60_000 });
        try {
            const run = async (code: string) => {
                const r = await pool.run({ code, args: [], timeoutMs: 20_000 });
                assert.equal(r.exitCode, 0, r.stderr);
                return r.stdout.trimEnd();
            };
            // The first run's engine was prepared when the worker started, every later one when the run before it ended.
            for (let i = 0; i < 3; i++) assert.equal(await run(SEED_SEARCH), "no seed within 2 minutes of now");
            for (let i = 0; i < 3; i++) {
                const predicted = JSON.parse(await run(PREDICT)) as number[];
                const actual = Number(await run("function main() { return String(Math.random()) }"));
                assert.ok(actual >= 0 && actual < 1, String(actual));
                assert.ok(!predicted.includes(actual), `run N predicted run N+1's Math.random ${actual} (candidate ${predicted.indexOf(actual)})`);
            }
        } finally {
            await pool.close();
        }
    });

    it("S1: engines prepared at the same clock reading give different Math.random sequences", async () => {
        const now = Date.now;
        const frozen = now();
        Date.now = () => frozen;
        let engines;
        try {
            engines = [await loadEngine(limits), await loadEngine(limits, engineMemoryFor(limits))];
        } finally {
            Date.now = now;
        }
        const code = "function main() { return [Math.random(), Math.random(), Math.random()].join(' ') }";
        const [a, b] = engines.map((e) => runCommand(e, { code, args: [], timeoutMs: 5000 }, limits));
        assert.equal(a.exitCode, 0, a.stderr);
        assert.notEqual(a.stdout, b.stdout);
        // Date.now() in the guest still tells the time.
        const engine = await loadEngine(limits);
        const before = Date.now();
        const t = Number(runCommand(engine, { code: "function main() { return String(Date.now()) }", args: [], timeoutMs: 5000 }, limits).stdout);
        assert.ok(t >= before && t <= Date.now(), `${before} <= ${t}`);
    });

    it("S5: durationMs is the run's own time, not the preparation of its engine after the previous run", async () => {
        // Workers whose every engine preparation (a new wasm instance) takes 600 ms more.
        const slowPreparation =
            "{ const Instance = WebAssembly.Instance; WebAssembly.Instance = function (m, i) { const end = Date.now() + 600; while (Date.now() < end); return new Instance(m, i); }; }";
        const pool = new SandboxPool({ size: 1, queueSize: 4, queueWaitMs: 60_000, workerSource: `${slowPreparation} ${WORKER_SOURCE}` });
        try {
            const tiny = { code: "function main() { return 'tiny' }", args: [], timeoutMs: 5000 };
            const answers = await Promise.all([pool.run(tiny), pool.run(tiny), pool.run(tiny)]);
            for (const r of answers) {
                assert.equal(r.stdout, "tiny\n");
                assert.ok(r.durationMs < 300, `durationMs ${r.durationMs} includes the engine's preparation`);
            }
        } finally {
            await pool.close();
        }
    });

    it("S4: after a worker's malformed answer, the next queued run completes normally", async () => {
        // A stand-in worker: a malformed answer to a run whose first arg is "malformed", a well-formed one otherwise.
        const stub = `const { parentPort } = require("node:worker_threads");
            parentPort.postMessage({ ready: true });
            parentPort.on("message", ({ id, request }) => parentPort.postMessage(
                request.args[0] === "malformed" ? { id, result: { exitCode: "x" } } : { id, result: { exitCode: 0, stdout: "ran " + request.args[0] + "\\n", stderr: "", truncated: false, durationMs: 1 } }));`;
        const replaced: string[] = [];
        const pool = new SandboxPool({ size: 1, queueSize: 4, queueWaitMs: 10_000, graceMs: 300, workerSource: stub, onReplace: (r) => replaced.push(r) });
        try {
            const request = (arg: string) => pool.run({ code: "function main() {}", args: [arg], timeoutMs: 500 });
            const [bad, next] = await Promise.all([request("malformed"), request("next")]);
            assert.deepEqual([bad.exitCode, bad.stderr], [1, "the sandbox gave a malformed answer\n"]);
            assert.deepEqual([next.exitCode, next.stdout, next.killed], [0, "ran next\n", undefined]);
            assert.deepEqual(replaced, ["crash"]);
        } finally {
            await pool.close();
        }
    });
});

describe("runner output: nothing dropped silently, guest strings read whole (attack-14s)", function () {
    this.timeout(60_000);
    const pool = new SandboxPool({ size: 2, queueSize: 8, queueWaitMs: 20_000 });
    const run = (code: string) => pool.run({ code, args: [], timeoutMs: 5000 });
    after(() => pool.close());

    it("S2: an argument dropped because the stream is full sets truncated", async () => {
        const r = await run('function main() { console.log("a".repeat(65535), "SECOND-ARG-DROPPED"); return 0 }');
        assert.deepEqual([r.exitCode, Buffer.byteLength(r.stdout), r.stdout.includes("SECOND"), r.truncated], [0, 65536, false, true]);
    });

    it("S2: a console call made while an argument is formatted (from a toJSON) is dropped and sets truncated", async () => {
        const r = await run('function main() { console.log({ toJSON() { console.log("inner"); return 1 } }, "outer"); console.log("after"); return 0 }');
        assert.deepEqual([r.exitCode, r.stdout, r.truncated], [0, "1 outer\nafter\n", true]);
    });

    it("S2: output that fits is not truncated", async () => {
        const r = await run('function main() { console.log("a".repeat(65534)); return 0 }');
        assert.deepEqual([Buffer.byteLength(r.stdout), r.truncated], [65535, false]);
    });

    it("S3: a NUL character reaches the output: console arguments, stderr, the returned string and an exception", async () => {
        const r = await run('function main() { console.log("before\\0after", "x"); console.error("e1\\0e2"); return "ret\\0hidden" }');
        assert.deepEqual([r.exitCode, r.stdout, r.stderr, r.truncated], [0, "before\u0000after x\nret\u0000hidden\n", "e1\u0000e2\n", false]);
        const wide = await run('function main() { console.log("é\\0€ \\u{1F600}\\0", { k: "a\\0b" }); throw new Error("bad\\0news") }');
        assert.equal(wide.stdout, 'é\u0000€ \u{1F600}\u0000 {"k":"a\\u0000b"}\n');
        assert.match(wide.stderr, /^Error: bad\u0000news\n {4}at main/);
    });
});

describe("runner engine: the host reads a guest string by its length", () => {
    it("a string whose terminating zero byte was overwritten (in-engine write) is read as exactly its characters", async () => {
        const engine = await loadEngine(limits);
        const text = `MARK-${"Q".repeat(5000)}`;
        engine.context.evalCode(`globalThis.s = ["MARK-", "Q".repeat(5000)].join("")`).unwrap().dispose();
        const bytes = Buffer.from(engine.memory.buffer);
        const at = bytes.indexOf(Buffer.from(text));
        assert.ok(at > 0 && bytes[at + text.length] === 0, "the string and its terminating zero are in the engine's memory");
        bytes[at + text.length] = "Z".charCodeAt(0); // what a guest with write access to its memory could do
        const r = runCommand(engine, { code: "function main() { console.log(s); return 0 }", args: [], timeoutMs: 5000 }, limits);
        assert.deepEqual([r.exitCode, r.stdout.length, r.stdout.slice(-3), r.stdout === `${text}\n`], [0, text.length + 1, "QQ\n", true]);
    });
});
