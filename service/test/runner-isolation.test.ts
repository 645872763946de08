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
            assert.deepEqual([bad.exitCode, bad.stderr, bad.truncated], [1, "the sandbox gave a malformed answer\n", true]);
            assert.deepEqual([next.exitCode, next.stdout, next.killed], [0, "ran next\n", undefined]);
            assert.deepEqual(replaced, ["crash"]);
        } finally {
            await pool.close();
        }
    });

    it("V5: a run the pool ends (backstop) says truncated: what it printed is lost with its worker", async () => {
        const pool = new SandboxPool({ size: 1, queueSize: 1, queueWaitMs: 10_000, graceMs: 300 });
        try {
            // Two lines printed, then an uninterruptible C loop that only the backstop ends.
            const code = `function main() { console.log("progress 1"); console.log("progress 2"); let o = []; for (let i = 0; i < 40; i++) o = [o, o]; o.flat(Infinity); return 0 }`;
            const r = await pool.run({ code, args: [], timeoutMs: 500 });
            assert.deepEqual([r.exitCode, r.killed, r.stdout, r.truncated], [124, "timeout", "", true]);
        } finally {
            await pool.close();
        }
    });
});

/** Fills the engine's memory (keeping it full after main returns), then frees ten 16-byte arrays: room for small allocations only (attack-14v). */
const FILL_MEMORY = `const keep = globalThis.keep = new Array(200000); let k = 0;
  for (const size of [1 << 20, 1 << 16, 1 << 12, 1 << 8, 1 << 4]) { try { for (;;) keep[k++] = new Uint8Array(size) } catch (e) { k-- } }
  for (let i = 0; i < 10; i++) keep[--k] = undefined;`;

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

    it("V6: a leading U+FEFF is kept, and a string starting with one that is cut at the cap sets truncated", async () => {
        const long = '"\\uFEFF" + "x".repeat(100000) + "LOST-TAIL"';
        for (const code of [`function main() { console.log(${long}); return 0 }`, `function main() { return ${long} }`]) {
            const r = await run(code);
            assert.deepEqual(
                [r.exitCode, Buffer.byteLength(r.stdout), r.stdout.startsWith("\uFEFFxxx"), r.stdout.includes("LOST"), r.truncated],
                [0, 65536, true, false, true],
                code,
            );
        }
        const small = await run('function main() { console.log("\\uFEFFa", "\\uFEFFb"); return "\\uFEFFret" }');
        assert.deepEqual([small.exitCode, small.stdout, small.truncated], [0, "\uFEFFa \uFEFFb\n\uFEFFret\n", false]);
    });

    it("V1: a string too long for the room that the host cannot cut (engine memory full) is the memory limit, and truncated", async () => {
        const returned = await run(`function main() { const s = "R".repeat(100000); ${FILL_MEMORY} return s }`);
        assert.deepEqual([returned.exitCode, returned.killed, returned.stdout, returned.truncated], [137, "memory", "", true]);
        const logged = await run(
            `function main() { const s = "L".repeat(100000); ${FILL_MEMORY} console.log("before", s, "after"); console.log("next line"); return 0 }`,
        );
        assert.deepEqual([logged.exitCode, logged.killed, logged.stdout, logged.truncated], [137, "memory", "", true]);
    });

    it("V1: a string too long for the room logged near the engine's stack limit (the host cannot cut it) sets truncated", async () => {
        const r = await run(`const s = "S".repeat(70000); let done = false;
            function f(d) { try { f(d + 1) } catch (e) {} if (!done) { try { console.log(s); done = true } catch (e2) {} } }
            function main() { f(0); return 0 }`);
        assert.deepEqual([r.exitCode, r.stdout, r.truncated], [0, "[unprintable]\n", true]);
    });

    it("V2: a console argument the host cannot read for lack of engine memory is the memory limit, not an engine fault", async () => {
        // A non-ASCII string: the host's read needs a 40 KB copy in the engine's memory.
        const r = await run(
            `function main() { const s = "\\u00e9".repeat(20000); ${FILL_MEMORY} console.log("first line fine"); console.log(s); console.log("after"); return 0 }`,
        );
        assert.deepEqual(
            [r.exitCode, r.killed, r.stdout, r.stderr, r.truncated],
            [137, "memory", "first line fine\n", "killed: exceeded the memory limit\n", true],
        );
    });
    it("W1: an object or array whose formatting ran out of engine memory is the memory limit, never printed as something else", async () => {
        const object = await run(`function main() { const big = []; for (let i = 0; i < 200000; i++) big.push(i); const o = { data: big };
            ${FILL_MEMORY} console.log(o); console.log("after"); return 0 }`);
        const array = await run(`function main() { const big = []; for (let i = 0; i < 200000; i++) big.push(i);
            ${FILL_MEMORY} console.log(big); return 0 }`);
        for (const r of [object, array])
            assert.deepEqual([r.exitCode, r.killed, r.stdout, r.stderr, r.truncated], [137, "memory", "", "killed: exceeded the memory limit\n", true]);
    });

    it("W1: a value whose formatting overflowed the engine's stack or passed the deadline sets truncated", async () => {
        const stack = await run(`let done = false;
            function f(d) { try { f(d + 1) } catch (e) {} if (!done) { try { console.log({ deep: [1, 2, 3] }); done = true } catch (e2) {} } }
            function main() { f(0); return 0 }`);
        assert.deepEqual([stack.exitCode, stack.stdout, stack.truncated], [0, "[unprintable]\n", true]);
        const late = await pool.run({
            code: `function main() { console.log("line1"); console.log({ toJSON() { for (;;) {} } }); return 0 }`,
            args: [],
            timeoutMs: 500,
        });
        assert.deepEqual([late.exitCode, late.killed, late.truncated], [124, "timeout", true]);
    });

    it("X2: an uncaught Error with a 16 MB message is described (exit 1, its head kept, truncated), not a memory kill", async () => {
        const r = await run(`function main() { throw new Error("m".repeat(16e6)) }`);
        assert.deepEqual([r.exitCode, r.killed, r.stderr.slice(0, 12), r.truncated], [1, undefined, "Error: mmmmm", true]);
    });

    it("Y1: an exception's stack lines after many empty lines are kept", async () => {
        const r = await run(
            `function main() { const e = new Error("x"); e.stack = "    at a (command.js:1:1)\\n" + "\\n".repeat(70000) + "    at b (IMPORTANT)\\n"; throw e }`,
        );
        assert.deepEqual([r.exitCode, r.stderr, r.truncated], [1, "Error: x\n    at a (command.js:1:1)\n    at b (IMPORTANT)\n", false]);
    });

    it("Y2/Y3: describing an exception never copies more than the room (a 32 700-line stack near the limit, a 26 MB name)", async () => {
        const lines = await run(`function main() { const keep = []; for (let i = 0; i < 57; i++) keep.push(new Uint8Array(1 << 20).fill(1));
            const e = new Error("x"); e.stack = "a\\n".repeat(32700); throw e }`);
        assert.deepEqual([lines.exitCode, lines.killed, lines.stderr], [1, undefined, `Error: x\n${"a\n".repeat(10)}    ... 32690 more\n`]);
        const name = await run(`function main() { const e = new Error("x"); e.name = "m".repeat(26e6); e.message = 1; throw e }`);
        assert.deepEqual([name.exitCode, name.killed, name.stderr.slice(0, 5), name.truncated], [1, undefined, "mmmmm", true]);
    });

    it("X1: a refusal caught by code the host runs to format a value (a toJSON) still ends the run at the memory limit, as documented", async () => {
        const r = await run(
            `function main() { console.log({ toJSON() { try { new ArrayBuffer(200 * 1024 * 1024) } catch (e) {} return "fine" } }); return 0 }`,
        );
        assert.deepEqual([r.exitCode, r.killed, r.stdout, r.truncated], [137, "memory", "", true]);
    });

    it("W2: the memory limit is announced once, and a refusal the command caught earlier does not make a later stack failure a memory kill", async () => {
        // A 400 KB copy for the host's read of s: it cannot fit in the filled memory, whatever small holes the layout leaves.
        const twice = await run(`function main() { const s = "\\u00e9".repeat(200000); ${FILL_MEMORY} console.log("first"); console.log(s); for (;;) {} }`);
        assert.deepEqual([twice.exitCode, twice.killed, twice.stderr], [137, "memory", "killed: exceeded the memory limit\n"]);
        const caught = await run(`const s = "S".repeat(70000); let done = false;
            function f(d) { try { f(d + 1) } catch (e) {} if (!done) { try { console.log(s); done = true } catch (e2) {} } }
            function main() { try { new ArrayBuffer(2 ** 31 - 1) } catch (e) {} f(0); return 0 }`);
        assert.deepEqual([caught.exitCode, caught.killed, caught.stdout, caught.truncated], [0, undefined, "[unprintable]\n", true]);
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

    it("V3: an uncaught exception's text is kept up to the stream's cap, not a fixed 64 Ki characters", async () => {
        const wide = { ...limits, maxOutputBytes: 256 * 1024 };
        const r = runCommand(
            await loadEngine(wide),
            { code: 'function main() { throw new Error("m".repeat(100000) + "TAIL") }', args: [], timeoutMs: 5000 },
            wide,
        );
        assert.deepEqual([r.exitCode, r.stderr.startsWith(`Error: ${"m".repeat(100000)}TAIL\n    at main`), r.truncated], [1, true, false]);
    });
});
