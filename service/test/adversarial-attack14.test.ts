/**
 * The runner adversarial suite, part 3: the findings of the attack on the QuickJS runner (attack-14), each replayed against a real runner process and asserted by outcome.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { attackedRunner } from "./attacked-runner";

describe("runner adversarial suite: findings of the attack on the QuickJS runner (attack-14) (a real runner process)", function () {
    this.timeout(120_000);
    const { post, run, memory, assertContained, attack } = attackedRunner();

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
        const r = await attack(`function main() { let got = "no"; try { new ArrayBuffer(1 << 30) } catch (e) { got = e.name } console.log(got); return 3 }`);
        assert.deepEqual([r.exitCode, r.killed, r.stdout], [3, undefined, "InternalError\n"]);
    });

    it("an out-of-memory inside a native string operation is the memory limit (not an unknown exception)", async () => {
        const r = await attack(`function main() { return "\\u1e9b\\u0323".repeat(4e6).normalize("NFKD").length }`);
        assert.deepEqual([r.killed, r.exitCode, r.stderr], ["memory", 137, "killed: exceeded the memory limit\n"]);
    });
});
