import * as assert from "node:assert/strict";
import { createLogger } from "../src/logger";
import { createRunnerMetrics } from "../src/metrics";
import { buildRunnerApp } from "../src/runner/app";
import { EXIT_MEMORY, EXIT_TIMEOUT, runInSandbox } from "../src/runner/sandbox";

const TOKEN = "runner-token-0123456789abcdef";

describe("runner sandbox", function () {
    this.timeout(30_000);

    it("runs main(args), capturing stdout/stderr and the exit code", async () => {
        const r = await runInSandbox({
            code: "function main(a) { console.log('x', a.length, {k: 1}); console.error('e'); return 4 }",
            args: ["1", "2"],
            timeoutMs: 2000,
        });
        assert.deepEqual({ ...r, durationMs: 0 }, { exitCode: 4, stdout: 'x 2 {"k":1}\n', stderr: "e\n", truncated: false, durationMs: 0 });
    });

    it("prints a returned string; a thrown error is exit 1 with its message", async () => {
        assert.equal((await runInSandbox({ code: "function main() { return 'done' }", args: [], timeoutMs: 2000 })).stdout, "done\n");
        const r = await runInSandbox({ code: "function main() { console.log('before'); throw new Error('boom') }", args: [], timeoutMs: 2000 });
        assert.deepEqual([r.exitCode, r.stdout, r.stderr], [1, "before\n", "boom\n"]);
    });

    it("kills a command that loops forever and reports it", async () => {
        const r = await runInSandbox({ code: "function main() { while (true) {} }", args: [], timeoutMs: 500 });
        assert.equal(r.killed, "timeout");
        assert.equal(r.exitCode, EXIT_TIMEOUT);
        assert.match(r.stderr, /killed: exceeded 500 ms/);
        assert.ok(r.durationMs >= 450 && r.durationMs < 3000, String(r.durationMs));
    });

    it("kills a command that allocates without bound and reports it", async () => {
        const r = await runInSandbox({ code: "function main() { const a = []; while (true) a.push(new Array(1e6).fill(1)); }", args: [], timeoutMs: 10_000 });
        assert.equal(r.killed, "memory");
        assert.equal(r.exitCode, EXIT_MEMORY);
    });

    it("caps output", async () => {
        const r = await runInSandbox({ code: "function main() { for (let i = 0; i < 100000; i++) console.log('0123456789') }", args: [], timeoutMs: 5000 });
        assert.equal(r.truncated, true);
        assert.equal(r.stdout.length, 64 * 1024);
    });

    const escapes: [string, string][] = [
        ["require", "function main() { return String(typeof require) + ' ' + String(typeof process) + ' ' + String(typeof setTimeout) }"],
        [
            "this.constructor.constructor",
            "function main() { try { return String(this.constructor.constructor('return process')()) } catch (e) { return 'blocked: ' + e.message } }",
        ],
        [
            "an argument's constructor",
            "function main(a) { try { return String(a.constructor.constructor('return process')()) } catch (e) { return 'blocked: ' + e.message } }",
        ],
        [
            "console's constructor",
            "function main() { try { return String(console.log.constructor('return process')()) } catch (e) { return 'blocked: ' + e.message } }",
        ],
        ["eval", "function main() { try { return String(eval('1+1')) } catch (e) { return 'blocked: ' + e.message } }"],
    ];
    for (const [title, code] of escapes) {
        it(`gives no way out through ${title}`, async () => {
            const r = await runInSandbox({ code, args: ["a"], timeoutMs: 2000 });
            assert.ok(!/\[object process\]|pid/.test(r.stdout), r.stdout);
            if (title === "require") assert.equal(r.stdout, "undefined undefined undefined\n");
            else assert.match(r.stdout, /^blocked: Code generation from strings disallowed/);
        });
    }
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

    it("keeps serving after a command was killed", async () => {
        const r = build();
        const killed = await post(r, { code: "function main() { while (true) {} }", timeoutMs: 300 });
        assert.equal(killed.statusCode, 200);
        assert.equal(killed.json().killed, "timeout");
        const ok = await post(r, { code: "function main() { console.log('still here') }" });
        assert.equal(ok.json().stdout, "still here\n");
        const metrics = await r.app.inject({ method: "GET", url: "/health" });
        assert.equal(metrics.statusCode, 200);
    });

    it("429 beyond its concurrency, 503 when the sandbox is disabled", async () => {
        const r = build({ concurrency: 1 });
        const slow = post(r, { code: "function main() { while (true) {} }", timeoutMs: 800 });
        await new Promise((resolve) => setTimeout(resolve, 100));
        const busy = await post(r, { code: "function main() {}" });
        assert.equal(busy.statusCode, 429);
        assert.equal(busy.json().error.code, "busy");
        await slow;
        const off = await post(build({ sandboxEnabled: false }), { code: "function main() {}" });
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
