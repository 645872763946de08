/**
 * The runner attacked as an attacker who has read its code would: every class of exploit found
 * against the previous runner (issue 14) and against this one, each POSTed to a real runner process
 * (src/runner/server.ts) whose environment holds RUNNER_TOKEN and a canary secret. Each test asserts
 * outcomes: no file written, no secret of the runner visible, a well-typed answer, the runner still
 * answering /health, a run in flight still completing, limits holding.
 */
import * as assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { freePort } from "./support";

const TOKEN = "adversarial-runner-token-0123456789";
const CANARY = "canary-secret-value-9f8e7d6c5b4a";
const TIMEOUT_MS = 3000;

interface RunAnswer {
    exitCode: number;
    stdout: string;
    stderr: string;
    durationMs: number;
    killed?: string;
    truncated: boolean;
}

/**
 * Tries to turn a candidate host Function into the host's process: read the secrets, write a file,
 * spawn a process. Prints what it got; in a sound sandbox every attempt throws inside the guest.
 */
const PAYLOAD = `
function pwn(F, marker) {
  try {
    const proc = F("return process")();
    const req = proc.getBuiltinModule || (proc.mainModule && proc.mainModule.require.bind(proc.mainModule));
    const out = "TOKEN=" + proc.env.RUNNER_TOKEN + " CANARY=" + proc.env.CANARY_SECRET;
    req("fs").writeFileSync(marker, out);
    req("child_process").execSync("id > " + marker + ".id");
    console.log(out);
    return out;
  } catch (e) {
    console.log("blocked: " + (e && e.message));
  }
}
`;

describe("runner adversarial suite (a real runner process)", function () {
    this.timeout(120_000);
    let child: ChildProcess;
    let url: string;
    let dir: string;
    let marker: string;

    const post = async (code: string, args: string[] = [], timeoutMs = TIMEOUT_MS) => {
        const res = await fetch(`${url}/run`, {
            method: "POST",
            headers: { "content-type": "application/json", "x-runner-token": TOKEN },
            body: JSON.stringify({ code, args, timeoutMs }),
        });
        return { status: res.status, retryAfter: res.headers.get("retry-after"), body: (await res.json()) as RunAnswer & { error?: { code: string } } };
    };
    const run = async (code: string, args: string[] = [], timeoutMs = TIMEOUT_MS): Promise<RunAnswer> => {
        const r = await post(code, args, timeoutMs);
        assert.equal(r.status, 200, JSON.stringify(r.body));
        return r.body;
    };
    const health = async () => (await fetch(`${url}/health`)).status;
    /** VmHWM (peak RSS) and VmRSS of the runner process, MiB. */
    const memory = () => {
        const status = fs.readFileSync(`/proc/${child.pid}/status`, "utf8");
        const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(status)![1]);
        return { peak: kb("VmHWM") / 1024, now: kb("VmRSS") / 1024 };
    };

    /** The outcome every attack must leave: a well-typed answer, no secret, no file, the runner alive. */
    const assertContained = async (r: RunAnswer) => {
        assert.ok(Number.isInteger(r.exitCode) && r.exitCode >= 0 && r.exitCode <= 255, `exitCode ${JSON.stringify(r.exitCode)}`);
        assert.equal(typeof r.stdout, "string");
        assert.equal(typeof r.stderr, "string");
        assert.equal(typeof r.truncated, "boolean");
        assert.equal(typeof r.durationMs, "number");
        assert.ok(r.killed === undefined || r.killed === "timeout" || r.killed === "memory", String(r.killed));
        assert.deepEqual(
            Object.keys(r).filter((k) => !["exitCode", "stdout", "stderr", "durationMs", "killed", "truncated"].includes(k)),
            [],
        );
        for (const secret of [TOKEN, CANARY]) assert.ok(!`${r.stdout}${r.stderr}`.includes(secret), "a secret of the runner leaked");
        assert.ok(!/uid=\d+/.test(r.stdout + r.stderr), "a process was spawned");
        assert.deepEqual(fs.readdirSync(dir), [], "the command wrote a file");
        assert.equal(await health(), 200);
    };

    /** Runs an attack while a normal command is in flight; the normal one must complete intact. */
    const attack = async (code: string, timeoutMs = TIMEOUT_MS) => {
        const inFlight = run("function main() { let n = 0; for (let i = 0; i < 2e6; i++) n += i % 7; console.log('in flight', n); return 0 }");
        const r = await run(code, [marker], timeoutMs);
        const normal = await inFlight;
        assert.deepEqual([normal.exitCode, normal.stdout], [0, "in flight 5999995\n"]);
        await assertContained(r);
        return r;
    };

    before(async () => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "runner-attack-"));
        marker = path.join(dir, "pwned");
        const port = await freePort();
        // The runner as deployed (compiled; under ts-node every worker would also carry the TypeScript
        // compiler, and the memory measured here would not be the runner's).
        const root = path.join(__dirname, "..");
        execFileSync(path.join(root, "node_modules", ".bin", "tsc"), ["-p", path.join(root, "tsconfig.json")], { stdio: "inherit" });
        child = spawn(process.execPath, [path.join(root, "dist", "runner", "server.js")], {
            stdio: ["ignore", "ignore", "inherit"],
            env: {
                PATH: process.env.PATH,
                CONFIG_PATH: "/dev/null",
                LOG_LEVEL: "silent",
                RUNNER_TOKEN: TOKEN,
                CANARY_SECRET: CANARY,
                RUNNER_PORT: String(port),
                METRICS_PORT: String(await freePort()),
                RUNNER_CONCURRENCY: "2",
                RUNNER_QUEUE_SIZE: "2",
                RUNNER_QUEUE_WAIT_MS: "300",
            },
        });
        url = `http://127.0.0.1:${port}`;
        for (let i = 0; i < 600; i++) {
            if ((await health().catch(() => 0)) === 200) break;
            await new Promise((resolve) => setTimeout(resolve, 100));
        }
        // Both workers loaded (the first runs on each do not race their start-up).
        await Promise.all([run("function main() {}", [], 30_000), run("function main() {}", [], 30_000)]);
    });

    after(() => {
        child?.kill("SIGKILL");
        if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    describe("escapes found against the vm-based runner", () => {
        it("a thrown object whose message getter throws an inspect.custom object gets nothing of the host", async () => {
            const r = await attack(`${PAYLOAD}
                function main(a) {
                  throw { get message() { throw { [Symbol.for("nodejs.util.inspect.custom")]: (d, o, inspect) => pwn(inspect.constructor, a[0]) }; } };
                }`);
            assert.equal(r.exitCode, 1);
        });

        it("Error.prepareStackTrace set by the command is never called with host call sites", async () => {
            const r = await attack(`${PAYLOAD}
                function main(a) {
                  Error.prepareStackTrace = (e, sites) => { for (const s of sites) pwn(s.getFunction().constructor, a[0]); return "x"; };
                  throw new Error("go");
                }`);
            assert.equal(r.exitCode, 1);
        });

        it("a dynamic import() rejects inside the guest, with a guest error", async () => {
            const r = await attack(`${PAYLOAD}
                async function main(a) {
                  try { await import("fs"); } catch (e) { pwn(e.constructor.constructor, a[0]); console.log("import: " + e.message); }
                  return 0;
                }`);
            assert.match(r.stdout, /^blocked: .*\nimport: could not load module 'fs'\n$/);
        });

        it("the constructor chains of args, console and main lead only to the guest's Function", async () => {
            const r = await attack(`${PAYLOAD}
                function main(a) {
                  pwn(a.constructor.constructor, a[0]);
                  pwn(a[0].constructor.constructor, a[0]);
                  pwn(console.log.constructor, a[0]);
                  pwn(main.constructor, a[0]);
                  pwn((async () => {}).constructor, a[0]);
                  return 0;
                }`);
            assert.equal(r.stdout.split("\n").filter((l) => l.startsWith("blocked: ")).length, 5, r.stdout);
        });

        it("replacing JSON.stringify / JSON.parse cannot crash the runner or forge the answer", async () => {
            const r = await attack(`
                function main() {
                  JSON.stringify = () => '{"exitCode":"0; rm -rf /","stdout":{"fake":true}}';
                  JSON.parse = () => { throw new Error("boom"); };
                  String.prototype.toString = () => { throw 1; };
                  console.log({ a: 1 }, "plain");
                  return 7;
                }`);
            // The host's formatter captured JSON.stringify before the command ran; the answer is the host's.
            assert.deepEqual([r.exitCode, r.stdout], [7, '{"a":1} plain\n']);
        });

        it("the output caps are the host's: no guest global raises them", async () => {
            const r = await attack(`
                function main() {
                  globalThis.__max = 1e9; globalThis.__io = { out: "", err: "", truncated: false };
                  const line = "x".repeat(1 << 20);
                  for (let i = 0; i < 8; i++) { console.log(line); console.error(line); }
                  return 0;
                }`);
            assert.deepEqual([Buffer.byteLength(r.stdout), Buffer.byteLength(r.stderr), r.truncated], [65536, 65536, true]);
        });

        it("typed arrays count against the memory limit: 8 x 256 MiB leaves the runner under 512 MiB", async () => {
            for (let i = 0; i < 2; i++) {
                const r = await attack(`
                    function main() {
                      const keep = [];
                      for (let i = 0; i < 8; i++) keep.push(new Uint8Array(256 * 1024 * 1024).fill(1));
                      return keep.length;
                    }`);
                assert.deepEqual([r.killed, r.exitCode], ["memory", 137]);
            }
            const parallel = await Promise.all([1, 2].map(() => run("function main() { const k = []; while (true) k.push(new ArrayBuffer(16 << 20)); }")));
            for (const r of parallel) assert.equal(r.killed, "memory");
            const { peak } = memory();
            assert.ok(peak < 512, `peak RSS ${peak.toFixed(0)} MiB`);
        });
    });

    describe("limits", () => {
        it("an endless loop is killed at its deadline", async () => {
            const r = await attack("function main() { for (;;) {} }", 800);
            assert.deepEqual([r.killed, r.exitCode, r.stderr], ["timeout", 124, "killed: exceeded 800 ms\n"]);
            assert.ok(r.durationMs < 800 + 1000, String(r.durationMs));
        });

        it("an endless loop that catches everything is still killed", async () => {
            const r = await attack("function main() { for (;;) { try { for (;;) {} } catch (e) {} finally { continue; } } }", 800);
            assert.equal(r.killed, "timeout");
        });

        it("a catastrophic regex is interrupted", async () => {
            const r = await attack("function main() { return String(/^(a+)+$/.test('a'.repeat(100) + 'b')) }", 800);
            assert.deepEqual([r.killed, r.exitCode], ["timeout", 124]);
        });

        it("'x'.repeat(2 ** 29) hits the memory limit", async () => {
            const r = await attack("function main() { return 'x'.repeat(2 ** 29).length }");
            assert.deepEqual([r.killed, r.exitCode], ["memory", 137]);
        });

        it("deep recursion is a guest RangeError/stack error, and the runner carries on", async () => {
            const r = await attack("function main() { const f = (n) => f(n + 1) + 1; return f(0) }");
            assert.equal(r.exitCode, 1);
            assert.match(r.stderr, /stack overflow/);
        });

        it("nesting that overflows the host's stack inside the engine resets that sandbox and nothing else", async () => {
            const r = await attack("function main() { return eval('('.repeat(200000)) }");
            assert.equal(r.exitCode, 1);
            assert.match(r.stderr, /stack/);
            assert.equal((await run("function main() { return 'next' }")).stdout, "next\n");
        });

        it("a never-settling async main is answered, not left hanging", async () => {
            const pending = await attack("async function main() { await new Promise(() => {}); }");
            assert.equal(pending.exitCode, 1);
            const busy = await attack("async function main() { for (;;) await null; }", 800);
            assert.equal(busy.killed, "timeout");
        });

        it("console calls from inside formatting (toJSON, getters) cannot recurse into the host", async () => {
            const r = await attack(`
                function main() {
                  const o = { toJSON() { console.log(o); return "j"; } };
                  console.log(o);
                  return 0;
                }`);
            assert.deepEqual([r.exitCode, r.stdout], [0, '"j"\n']);
        });

        it("printing a structure nested deep enough to break the engine never yields a wrong answer, and the runner carries on", async () => {
            // Depending on the thread's stack, the engine either overflows the host's stack (the sandbox
            // is reset: exit 1) or spends its time in an uninterruptible C loop (the backstop kills the
            // worker at deadline + grace): never a success, and the next run works.
            for (const make of ["a = [a]", "a = { a }"]) {
                const r = await attack(`function main() { let a = []; for (let i = 0; i < 1e5; i++) ${make}; console.log(a); return 0 }`);
                assert.ok(
                    (r.exitCode === 1 && r.stderr === "the engine failed while printing; the sandbox was reset\n") || r.killed === "timeout",
                    JSON.stringify(r),
                );
                assert.ok(r.durationMs < TIMEOUT_MS + 1500, String(r.durationMs));
            }
            assert.equal((await run("function main() { console.log([1, [2]]) }")).stdout, "[1,[2]]\n");
        });

        it("console calls with tens of thousands of arguments stay within the deadline", async () => {
            const r = await attack("function main() { for (let i = 0; i < 1e6; i++) console.log(...Array(60000).fill(1)); return 0 }", 1000);
            assert.deepEqual([r.killed, r.truncated, Buffer.byteLength(r.stdout)], ["timeout", true, 65536]);
            assert.ok(r.durationMs < 2000, String(r.durationMs));
        });

        it("prototype pollution is not visible to the next run", async () => {
            await attack("function main() { Object.prototype.polluted = 'yes'; Array.prototype.map = () => 'hijacked'; globalThis.leak = 1; return 0 }");
            const next = await run("function main(a) { return [typeof ({}).polluted, a.map((x) => x).join(), typeof leak].join(' ') }", ["a", "b"]);
            assert.equal(next.stdout, "undefined a,b undefined\n");
        });

        it("more endless loops than sandboxes and queue places, then a normal command: answered at once with 429 and Retry-After", async () => {
            const loops = [1, 2, 3, 4].map(() => post("function main() { for (;;) {} }", [], 1500));
            await new Promise((resolve) => setTimeout(resolve, 150));
            const started = performance.now();
            const normal = await post("function main() { return 'normal' }");
            const waited = performance.now() - started;
            assert.ok(waited < 1000, `answered after ${waited.toFixed(0)} ms`);
            // 2 sandboxes and a queue of 2 are taken: the fifth run is refused at once, with a hint.
            assert.deepEqual([normal.status, normal.retryAfter, normal.body.error?.code], [429, "1", "busy"]);
            for (const l of await Promise.all(loops)) assert.ok(l.status === 429 || l.body.killed === "timeout", JSON.stringify(l.body));
            assert.equal(await health(), 200);
        });
    });

    describe("findings of the attack on the QuickJS runner (attack-14)", () => {
        /** The runner's memory budget with 2 sandboxes (service/README.md "Runner memory budget"), MiB. */
        const BUDGET_MIB = 352;

        /** Samples the runner's RSS every 50 ms while `work` runs; returns the highest sample, MiB. */
        const peakWhile = async (work: Promise<unknown>) => {
            let peak = memory().now;
            const timer = setInterval(() => (peak = Math.max(peak, memory().now)), 50);
            try {
                await work;
            } finally {
                clearInterval(timer);
            }
            return Math.max(peak, memory().now);
        };

        it("F1: the intrinsics a command does not need are gone (SharedArrayBuffer, Atomics, WeakRef, FinalizationRegistry, ArrayBuffer resize/transfer)", async () => {
            const r = await attack(`
                function main() {
                  const b = new ArrayBuffer(8, { maxByteLength: 16 });
                  return [typeof SharedArrayBuffer, typeof Atomics, typeof WeakRef, typeof FinalizationRegistry,
                          typeof b.resize, typeof b.transfer, typeof b.transferToFixedLength].join(" ");
                }`);
            assert.equal(r.stdout, "undefined undefined undefined undefined undefined undefined undefined\n");
        });

        it("F1: a secret passed to an earlier run is not findable by a later run, and a later run cannot change another run's output", async () => {
            const secret = "S3CR3T-passed-as-arg-4d1c9b";
            // Both sandboxes hold the secret in many places (args, strings, a joined CSV).
            const victim = `function main(a) { const rows = []; for (let i = 0; i < 5000; i++) rows.push([i, a[0], "row " + i].join(",")); console.log(rows.length); return 0 }`;
            for (const r of await Promise.all([run(victim, [secret]), run(victim, [secret])])) assert.equal(r.stdout, "5000\n");
            // The attacker's heap overflow (growable SharedArrayBuffer) scanning for it, and writing over the engine's memory.
            const scan = fs.readFileSync(path.join(__dirname, "fixtures", "attack-14-scan.js"), "utf8");
            for (const r of await Promise.all([run(scan, ["S3CR3T"]), run(scan, ["S3CR3T"])])) {
                await assertContained(r);
                assert.ok(!`${r.stdout}${r.stderr}`.includes("S3CR3T"), `found: ${r.stdout}`);
                assert.equal(r.exitCode, 1);
                assert.match(r.stderr, /^ReferenceError: 'SharedArrayBuffer' is not defined/);
            }
            const tamper = `function main() { const s = new SharedArrayBuffer(0, { maxByteLength: 1 << 20 }); s.grow(1 << 20); new Uint8Array(s).fill(0x41, 0, 1 << 20); return "tampered" }`;
            assert.equal((await attack(tamper)).exitCode, 1);
            // Later runs on either sandbox: their own output, nothing of the secret.
            const later = await Promise.all(
                [1, 2, 3, 4].map(() => run(`function main(a) { return [true, typeof a[0], a.length, JSON.stringify({ ok: !false })].join(" ") }`)),
            );
            for (const r of later) assert.deepEqual([r.exitCode, r.stdout, r.stderr], [0, 'true undefined 0 {"ok":true}\n', ""]);
        });

        it("F2: a species constructor that makes every job fail keeps the runner's RSS under its budget and ends as a timeout", async () => {
            const species = `let n = 0; const boom = {};
                function Evil(ex) { ex(() => { n++; schedule(); throw boom }, () => { throw boom }) }
                function schedule() { const p = Promise.resolve(1); p.constructor = { [Symbol.species]: Evil }; p.then(() => 1) }
                async function main() { schedule(); await new Promise(() => {}) }`;
            const runs = Promise.all([run(species, [], 6000), run(species, [], 6000)]);
            const peak = await peakWhile(runs);
            for (const r of await runs) {
                assert.deepEqual([r.killed, r.exitCode], ["timeout", 124]);
                await assertContained(r);
            }
            assert.ok(peak < BUDGET_MIB, `RSS reached ${peak.toFixed(0)} MiB`);
        });

        it("F3: engine faults and memory kills back to back keep the runner's peak RSS under its budget", async () => {
            const fault = `function main() { const k = []; try { for (let i = 0; i < 48; i++) k.push(new Uint8Array(1 << 20).fill(i + 1)) } catch (e) {} return eval('('.repeat(200000)) }`;
            const fill = `function main() { const k = []; for (;;) k.push(new Uint8Array(1 << 20).fill(7)) }`;
            for (let i = 0; i < 15; i++) {
                const [a, b] = await Promise.all([run(fault), run(fill)]);
                assert.deepEqual([a.exitCode, a.stderr], [1, "the command exhausted the engine's stack; the sandbox was reset\n"]);
                assert.deepEqual([b.killed, b.exitCode], ["memory", 137]);
            }
            const { peak } = memory();
            assert.ok(peak < BUDGET_MIB, `peak RSS ${peak.toFixed(0)} MiB`);
            assert.equal((await run("function main() { return 'after' }")).stdout, "after\n");
        });

        it("F3 as attacked: 100 engine faults after filling 48 MiB, 4 at a time, keep the runner's peak RSS under its budget", async () => {
            const fault = `function main() { const k = []; try { for (let i = 0; i < 48; i++) k.push(new Uint8Array(1 << 20).fill(i + 1)) } catch (e) {} return eval('('.repeat(200000)) }`;
            let faults = 0;
            for (let i = 0; faults < 100 && i < 100; i++) {
                for (const r of await Promise.all([1, 2, 3, 4].map(() => post(fault)))) {
                    if (r.status === 429) continue; // this runner's queue (2 places, 300 ms) was full: backpressure, not a failure
                    assert.deepEqual([r.status, r.body.exitCode], [200, 1], r.body.stderr);
                    faults++;
                }
            }
            assert.ok(faults >= 100, `${faults} faults`);
            const { peak } = memory();
            assert.ok(peak < BUDGET_MIB, `peak RSS ${peak.toFixed(0)} MiB`);
            assert.equal((await run("function main() { return 'after' }")).stdout, "after\n");
        });

        it("F4: a run past its deadline is reported killed with a timeout, even when the guest swallows the interrupt and returns 0", async () => {
            const r = await attack(
                `
                function main() {
                  const spin = { get x() { for (;;) {} } };
                  console.log(spin);
                  for (let i = 0; i < 50; i++) console.error(spin);
                  console.log("still running");
                  return 0;
                }`,
                1000,
            );
            assert.deepEqual([r.killed, r.exitCode], ["timeout", 124]);
            assert.match(r.stderr, /killed: exceeded 1000 ms\n$/);
            assert.ok(r.durationMs < 1000 + 1000, String(r.durationMs));
        });

        it("F5: output dropped once a stream is exactly full sets truncated", async () => {
            const r = await attack(
                `function main() { console.log("x".repeat(65535)); console.log("lost"); console.error("e".repeat(65535)); console.error("lost too"); return 0 }`,
            );
            assert.deepEqual([r.exitCode, r.truncated, r.stdout.includes("lost"), r.stderr.includes("lost")], [0, true, false, false]);
        });

        it("F6: a guest cannot make the answer say killed memory", async () => {
            for (const code of [
                `function main() { throw new InternalError("out of memory: not really") }`,
                `function main() { throw null }`,
                `function main() { const e = new Error("x"); e.name = "InternalError"; e.message = "out of memory"; throw e }`,
            ]) {
                const r = await attack(code);
                assert.equal(r.killed, undefined, code);
                assert.equal(r.exitCode, 1, code);
            }
        });

        it("a command that uses most of its memory still prints and returns normally", async () => {
            const r = await run(
                `function main(a) { const big = new Uint8Array(40 << 20).fill(1); console.log("sum", big[123] + big[big.length - 1], a[0], { n: 1 }); return "done" }`,
                ["arg"],
            );
            assert.deepEqual([r.exitCode, r.stdout, r.stderr], [0, 'sum 2 arg {"n":1}\ndone\n', ""]);
        });

        it("a command that catches a failed allocation and finishes keeps its own answer", async () => {
            const r = await attack(
                `function main() { let got = "no"; try { new ArrayBuffer(1 << 30) } catch (e) { got = e.name } console.log(got); return 3 }`,
            );
            assert.deepEqual([r.exitCode, r.killed, r.stdout], [3, undefined, "InternalError\n"]);
        });

        it("an out-of-memory inside a native string operation is the memory limit (not an unknown exception)", async () => {
            const r = await attack(`function main() { return "\\u1e9b\\u0323".repeat(4e6).normalize("NFKD").length }`);
            assert.deepEqual([r.killed, r.exitCode, r.stderr], ["memory", 137, "killed: exceeded the memory limit\n"]);
        });
    });
});
