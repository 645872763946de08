/**
 * The runner adversarial suite, part 2: limits (time, memory, stack, output, queue) held against a real runner process, asserted by outcome (answers, RSS, the runner alive).
 */
import * as assert from "node:assert/strict";
import { attackedRunner, TIMEOUT_MS } from "./attacked-runner";

describe("runner adversarial suite: limits (a real runner process)", function () {
    this.timeout(120_000);
    const { post, run, health, attack } = attackedRunner();

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
