import * as assert from "node:assert/strict";
import { createLogger } from "../src/logger";
import { createRunnerMetrics } from "../src/metrics";
import { buildRunnerApp } from "../src/runner/app";
import { SandboxPool } from "../src/runner/sandbox";
import { type Engine, engineMemoryFor, loadEngine } from "../src/runner/engine";
import { runCommand } from "../src/runner/run";

const TOKEN = "runner-token-0123456789abcdef";

describe("runner sandbox (QuickJS in WebAssembly)", function () {
    this.timeout(60_000);
    const pool = new SandboxPool({ size: 2, queueSize: 8, queueWaitMs: 20_000 });
    const run = (code: string, args: string[] = [], timeoutMs = 2000) => pool.run({ code, args, timeoutMs });
    after(() => pool.close());

    it("runs main(args), capturing stdout/stderr and the exit code", async () => {
        const r = await run("function main(a) { console.log('x', a.length, {k: 1}, [true, null]); console.error('e'); return 4 }", ["1", "2"]);
        assert.deepEqual({ ...r, durationMs: 0 }, { exitCode: 4, stdout: 'x 2 {"k":1} [true,null]\n', stderr: "e\n", truncated: false, durationMs: 0 });
        assert.equal(typeof r.durationMs, "number");
    });

    it("gives main its args as an array of strings", async () => {
        const r = await run("function main(a) { return Array.isArray(a) + ' ' + a.map((x) => typeof x + ':' + x).join(',') }", ["one", "", "3"]);
        assert.equal(r.stdout, "true string:one,string:,string:3\n");
    });

    it("prints a returned string; a thrown error is exit 1 with its name, message and guest stack", async () => {
        assert.deepEqual(await run("function main() { return 'done' }").then((r) => [r.exitCode, r.stdout]), [0, "done\n"]);
        const r = await run("function main() { console.log('before'); throw new TypeError('boom') }");
        assert.deepEqual([r.exitCode, r.stdout], [1, "before\n"]);
        assert.match(r.stderr, /^TypeError: boom\n {4}at main \(command\.js:1:\d+\)\n$/);
    });

    it("computes the exit code from main's return value: an integer 0-255, anything else documented", async () => {
        const cases: [string, number, string][] = [
            ["return 0", 0, ""],
            ["return 255", 255, ""],
            ["return 256", 1, "main returned 256; an exit code is an integer from 0 to 255\n"],
            ["return -1", 1, "main returned -1; an exit code is an integer from 0 to 255\n"],
            ["return 2.5", 1, "main returned 2.5; an exit code is an integer from 0 to 255\n"],
            ["return undefined", 0, ""],
            ["return { exitCode: 3 }", 0, ""],
            ["return true", 0, ""],
        ];
        for (const [body, exitCode, stderr] of cases) {
            const r = await run(`function main() { ${body} }`);
            assert.deepEqual([r.exitCode, r.stderr], [exitCode, stderr], body);
        }
    });

    it("runs an async main's jobs until it settles", async () => {
        const r = await run("async function main(a) { const x = await Promise.resolve(2); console.log('awaited', x); return a.length + x }", ["a"]);
        assert.deepEqual([r.exitCode, r.stdout, r.stderr], [3, "awaited 2\n", ""]);
        const rejected = await run("const main = async () => { await null; throw new Error('later') }");
        assert.equal(rejected.exitCode, 1);
        assert.match(rejected.stderr, /^Error: later\n/);
    });

    it("answers at once when an async main can never settle", async () => {
        const r = await run("async function main() { await new Promise(() => {}) }", [], 5000);
        assert.deepEqual([r.exitCode, r.stderr, r.killed], [1, "main returned a promise that can never settle (nothing left to run)\n", undefined]);
        assert.ok(r.durationMs < 2000, String(r.durationMs));
    });

    it("reports a command without main and a syntax error as exit 1", async () => {
        assert.deepEqual(await run("function helper() {}").then((r) => [r.exitCode, r.stderr]), [1, "the command does not define function main(args)\n"]);
        const r = await run("function main( {");
        assert.equal(r.exitCode, 1);
        assert.match(r.stderr, /^SyntaxError: /);
    });

    it("kills a command that loops forever and reports it", async () => {
        const r = await run("function main() { console.log('started'); while (true) {} }", [], 500);
        assert.deepEqual([r.killed, r.exitCode, r.stdout, r.stderr], ["timeout", 124, "started\n", "killed: exceeded 500 ms\n"]);
        assert.ok(r.durationMs >= 450 && r.durationMs < 1500, String(r.durationMs));
    });

    it("kills a command that allocates without bound and reports it", async () => {
        const r = await run("function main() { const a = []; while (true) a.push(new Float64Array(1 << 20)); }", [], 10_000);
        assert.deepEqual([r.killed, r.exitCode, r.stderr], ["memory", 137, "killed: exceeded the memory limit\n"]);
    });

    it("caps each stream at 64 KiB of UTF-8, never splitting a character", async () => {
        const r = await run("function main() { for (let i = 0; i < 10000; i++) { console.log('0123456789'); console.error('é'.repeat(10)) } }", [], 10_000);
        assert.equal(r.truncated, true);
        assert.equal(Buffer.byteLength(r.stdout), 65536);
        assert.ok(Buffer.byteLength(r.stderr) >= 65535 && Buffer.byteLength(r.stderr) <= 65536, String(Buffer.byteLength(r.stderr)));
        assert.ok(!r.stderr.includes("\ufffd"));
    });

    it("offers nothing of the host: no require, process, timers, file or network APIs", async () => {
        const r = await run(
            "function main() { return ['require', 'process', 'setTimeout', 'fetch', 'Buffer', 'WebAssembly', 'std', 'os', 'module'].map((n) => n + ':' + typeof globalThis[n]).join(' ') }",
        );
        assert.equal(
            r.stdout,
            "require:undefined process:undefined setTimeout:undefined fetch:undefined Buffer:undefined WebAssembly:undefined std:undefined os:undefined module:undefined\n",
        );
    });
});

describe("runner HTTP app", function () {
    this.timeout(30_000);
    const build = (over: Partial<Parameters<typeof buildRunnerApp>[0]> = {}) =>
        buildRunnerApp({
            log: createLogger("silent"),
            metrics: createRunnerMetrics(false),
            sandboxEnabled: true,
            maxExecutionTimeMs: 1000,
            concurrency: 2,
            queueSize: 0,
            queueWaitMs: 0,
            token: TOKEN,
            bodyLimit: 64 * 1024,
            ...over,
        });
    const post = (r: ReturnType<typeof build>, body: unknown, token: string | null = TOKEN) =>
        r.app.inject({ method: "POST", url: "/run", payload: body as object, headers: token ? { "x-runner-token": token } : {} });

    it("401 without the shared token", async () => {
        const r = build();
        assert.equal((await post(r, { code: "function main(){}" }, null)).statusCode, 401);
        assert.equal((await post(r, { code: "function main(){}" }, "wrong-token-0123456789")).statusCode, 401);
    });

    it("400 for bad input, including a timeout above security.max_execution_time", async () => {
        const r = build();
        for (const body of [{}, { code: "" }, { code: "x", args: "a" }, { code: "x", timeoutMs: 5000 }, { code: "x", extra: 1 }]) {
            const res = await post(r, body);
            assert.equal(res.statusCode, 400, JSON.stringify(body));
            assert.equal(res.json().error.code, "invalid_request");
        }
    });

    const apps: ReturnType<typeof build>[] = [];
    const built = (over: Partial<Parameters<typeof buildRunnerApp>[0]> = {}) => {
        const r = build(over);
        apps.push(r);
        return r;
    };
    after(async () => {
        for (const r of apps) await r.close();
    });

    it("keeps serving after a command was killed", async () => {
        const r = built();
        const killed = await post(r, { code: "function main() { while (true) {} }", timeoutMs: 300 });
        assert.equal(killed.statusCode, 200);
        assert.equal(killed.json().killed, "timeout");
        const ok = await post(r, { code: "function main() { console.log('still here') }" });
        assert.equal(ok.json().stdout, "still here\n");
        const health = await r.app.inject({ method: "GET", url: "/health" });
        assert.equal(health.statusCode, 200);
    });

    it("queues a run while every sandbox is busy, then answers 429 with Retry-After", async () => {
        const r = built({ concurrency: 1, queueSize: 1, queueWaitMs: 300 });
        await post(r, { code: "function main() {}" }); // the worker is up
        const slow = post(r, { code: "function main() { while (true) {} }", timeoutMs: 900 });
        await new Promise((resolve) => setTimeout(resolve, 100));
        const queued = post(r, { code: "function main() { return 'queued' }" });
        await new Promise((resolve) => setTimeout(resolve, 50));
        const started = performance.now();
        const full = await post(r, { code: "function main() {}" });
        assert.equal(full.statusCode, 429);
        assert.equal(full.headers["retry-after"], "1");
        assert.equal(full.json().error.code, "busy");
        assert.ok(performance.now() - started < 200, "a full queue answers at once");
        const waitedTooLong = await queued;
        assert.equal(waitedTooLong.statusCode, 429);
        assert.match(waitedTooLong.json().error.message, /no sandbox became free within 300 ms/);
        assert.equal((await slow).json().killed, "timeout");
    });

    it("a queued run is answered 200 once a sandbox is free", async () => {
        const r = built({ concurrency: 1, queueSize: 4, queueWaitMs: 5000 });
        await post(r, { code: "function main() {}" });
        const slow = post(r, { code: "function main() { while (true) {} }", timeoutMs: 400 });
        await new Promise((resolve) => setTimeout(resolve, 100));
        const queued = await post(r, { code: "function main() { return 'queued' }" });
        assert.equal(queued.statusCode, 200);
        assert.equal(queued.json().stdout, "queued\n");
        assert.equal((await slow).json().killed, "timeout");
    });

    it("503 when the sandbox is disabled", async () => {
        const off = await post(built({ sandboxEnabled: false }), { code: "function main() {}" });
        assert.equal(off.statusCode, 503);
        assert.equal(off.json().error.code, "sandbox_disabled");
    });
});

describe("secretMatcher", () => {
    it("accepts exactly the configured secrets", async () => {
        const { secretMatcher } = await import("../src/runner/app");
        const ok = secretMatcher(["first-token-0123456789", "second-token-0123456789"]);
        assert.equal(ok("first-token-0123456789"), true);
        assert.equal(ok("second-token-0123456789"), true);
        for (const bad of [undefined, "", "first-token-012345678", "first-token-01234567890", "first-token-0123456788", "FIRST-TOKEN-0123456789"])
            assert.equal(ok(bad), false, String(bad));
        assert.equal(secretMatcher([])("anything-at-all-12345"), false);
    });
});

describe("runner engine: every run starts from a new engine's state", () => {
    const limits = { maxOutputBytes: 64 * 1024, maxMemoryMb: 64, maxStackKb: 1024 };
    const MIB = 1024 * 1024;
    const holds = (memory: { buffer: ArrayBuffer }, text: string) => Buffer.from(memory.buffer).includes(Buffer.from(text));
    const run = (engine: Engine, code: string, args: string[] = []) => runCommand(engine, { code, args, timeoutMs: 5000 }, limits);
    /** The next engine as a pool worker prepares it after `engine`'s run. */
    const nextAfter = (engine: Engine) => loadEngine(limits, engineMemoryFor(limits, engine.memory));
    /** Bytes in which two engines' memories differ (at the same size). */
    const differing = (a: Engine, b: Engine) => {
        const [x, y] = [new Uint8Array(a.memory.buffer), new Uint8Array(b.memory.buffer)];
        assert.equal(x.length, y.length);
        let n = 0;
        for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) n++;
        return n;
    };

    it("a secret passed to a run is nowhere in the engine's memory when the next run starts", async () => {
        const secret = "S3CR3T-of-the-earlier-run-77a1";
        const first = await loadEngine(limits);
        const r = run(first, "function main(a) { globalThis.keep = [a[0], a[0] + '!']; console.log(a[0].length); return 0 }", [secret]);
        assert.deepEqual([r.exitCode, r.stdout], [0, "30\n"]);
        assert.ok(holds(first.memory, secret), "the run's memory holds its secret");
        const next = await nextAfter(first);
        assert.ok(!holds(next.memory, secret), "the next run's memory holds the earlier run's secret");
        // Byte for byte a new engine's memory, but for QuickJS's random seed (two new engines differ there too).
        assert.ok(differing(next, await loadEngine(limits)) <= 8);
        const later = run(next, "function main(a) { return String(typeof keep) + ' ' + true }");
        assert.deepEqual([later.exitCode, later.stdout], [0, "undefined true\n"]);
        assert.ok(!holds(next.memory, secret));
    });

    it("a run that wrote over every byte of its memory changes nothing for the next run", async () => {
        const first = await loadEngine(limits);
        assert.equal(run(first, "function main() { return 0 }").exitCode, 0);
        // What a memory-safety bug in QuickJS gave a guest (attack-14 F1: read/write of the engine's whole memory),
        // done from the host: a marker over every byte, the engine's static data (its atoms, such as "true"), the C
        // stack, the heap and the memory beyond the allocator's break included.
        const bytes = new Uint8Array(first.memory.buffer);
        const marker = Buffer.from("MARKER-of-an-earlier-run;");
        for (let i = 0; i + marker.length <= bytes.length; i += marker.length) bytes.set(marker, i);
        assert.ok(holds(first.memory, "MARKER-of-an-earlier-run"));
        const next = await nextAfter(first);
        assert.ok(!holds(next.memory, "MARKER-of-an-earlier-run"));
        assert.ok(differing(next, await loadEngine(limits)) <= 8);
        const r = run(next, "function main(a) { console.log(true, [1, 2].map((x) => x * 2), JSON.stringify({ ok: !false }), a[0]); return 'done' }", ["arg"]);
        assert.deepEqual([r.exitCode, r.stdout, r.stderr], [0, 'true [2,4] {"ok":true} arg\ndone\n', ""]);
    });

    it("a run that grew its memory leaves the next run a 16 MiB memory holding nothing of it", async () => {
        const first = await loadEngine(limits);
        const r = run(first, "function main(a) { globalThis.k = []; for (let i = 0; i < 40; i++) k.push(a[0].repeat(1 << 15) + i); return 0 }", [
            "GROWN-run-secret",
        ]);
        assert.equal(r.exitCode, 0, r.stderr);
        assert.ok(first.memory.buffer.byteLength > 16 * MIB, "the run grew its memory");
        const next = await nextAfter(first);
        assert.equal(next.memory.buffer.byteLength, 16 * MIB);
        assert.ok(!holds(next.memory, "GROWN-run-secret"));
        assert.equal(run(next, "function main() { return 'next' }").stdout, "next\n");
    });

    it("a memory that grows during a run: console, lengths and promise jobs still work", async () => {
        const grows = [
            // growth in main, then console.log of several values
            [
                `function main(a) { const big = []; for (let i = 0; i < 30; i++) big.push(new Uint8Array(1 << 20).fill(i)); console.log("grown", big.length, a[0], { n: big[29][5] }); return "x".repeat(3) }`,
                0,
                'grown 30 arg {"n":29}\nxxx\n',
            ],
            // growth inside console.log's formatting (a toJSON), with strings read after it
            [
                `function main(a) { console.log({ toJSON() { globalThis.k = new Uint8Array(30 << 20); return "big" } }, "tail", a[0]); return 0 }`,
                0,
                '"big" tail arg\n',
            ],
            // growth inside a promise job, and jobs run after it
            [
                `async function main(a) { await null; const big = new Uint8Array(30 << 20); big[7] = 7; await Promise.resolve(); console.log("after", big[7], a.length); return 3 }`,
                3,
                "after 7 1\n",
            ],
        ] as const;
        for (const [code, exitCode, stdout] of grows) {
            const engine = await loadEngine(limits);
            const r = run(engine, code, ["arg"]);
            assert.deepEqual([r.exitCode, r.stdout, r.stderr], [exitCode, stdout, ""], code);
            assert.ok(engine.memory.buffer.byteLength > 16 * MIB, `the memory grew: ${code}`);
        }
    });

    it("the memory limit is the engine's whole 64 MiB: a command fills 58 MiB of it with 1 MiB arrays", async () => {
        const engine = await loadEngine(limits);
        const r = run(engine, "function main() { const k = []; try { for (;;) k.push(new Uint8Array(1 << 20)) } catch (e) {} return String(k.length) }");
        assert.deepEqual([r.exitCode, r.stdout], [0, "58\n"]);
        assert.ok(engine.memory.buffer.byteLength <= 64 * MIB, "the memory never grows beyond the limit");
    });
});
