import * as assert from "node:assert/strict";
import { FAKE_CODE } from "./support";
import { type Platform, startPlatform, TOKEN, usePlatform } from "./fixture";

describe("api (real PostgreSQL, Redis, runner; fake LLM)", function () {
    this.timeout(60_000);
    const platform = usePlatform();
    let p: Platform;
    beforeEach(() => {
        p = platform();
    });

    describe("health and readiness", () => {
        it("GET /health answers without auth and touches no dependency", async () => {
            const res = await fetch(`${p.apiUrl}/health`);
            assert.equal(res.status, 200);
            assert.deepEqual(await res.json(), { status: "ok", version: "1.0.0" });
        });

        it("GET /ready is 200 when PostgreSQL and Redis answer", async () => {
            const res = await fetch(`${p.apiUrl}/ready`);
            assert.equal(res.status, 200);
            assert.deepEqual(await res.json(), { status: "ready", failing: [], degraded: [], checks: { postgres: "ok", redis: "ok" } });
        });
    });

    describe("auth", () => {
        for (const [title, headers] of [
            ["no header", {}],
            ["a wrong token", { authorization: "Bearer wrong-token-0123456789abc" }],
            ["a non-bearer scheme", { authorization: `Basic ${TOKEN}` }],
            ["an empty bearer", { authorization: "Bearer " }],
        ] as const) {
            it(`401 with ${title}`, async () => {
                const res = await fetch(`${p.apiUrl}/commands`, { headers });
                assert.equal(res.status, 401);
                assert.deepEqual(await res.json(), { error: { code: "unauthorized", message: "missing or invalid bearer token" } });
            });
        }

        it("accepts every configured token", async () => {
            const res = await fetch(`${p.apiUrl}/commands`, { headers: { authorization: "Bearer second-token-0123456789" } });
            assert.equal(res.status, 200);
        });

        it("protects unknown routes too (401 before 404)", async () => {
            assert.equal((await fetch(`${p.apiUrl}/nope`)).status, 401);
            const res = await p.call("GET", "/nope");
            assert.equal(res.status, 404);
            assert.equal(res.body.error!.code, "not_found");
        });
    });

    describe("POST /evolve", () => {
        it("generates, validates and stores version 1, returning 201 with the report", async () => {
            const res = await p.call("POST", "/evolve", { description: "greet someone by name", name: "greet" });
            assert.equal(res.status, 201);
            assert.equal(res.body.name, "greet");
            assert.equal(res.body.version, 1);
            assert.equal(res.body.code, FAKE_CODE.greet);
            assert.equal(res.body.created, true);
            assert.equal(res.body.cached, false);
            assert.deepEqual(res.body.validation, { enabled: true, strictMode: true, valid: true, problems: [] });
            const call = p.llm.calls.at(-1)!;
            assert.equal(call.model, "gpt-4");
            assert.equal(call.temperature, 0.7);
            assert.equal(call.authorization, "Bearer sk-test");
        });

        it("answers the same request from Redis without calling the LLM again", async () => {
            const before = p.llm.calls.length;
            const first = await p.call("POST", "/evolve", { description: "add numbers together", name: "add" });
            const second = await p.call("POST", "/evolve", { description: "add numbers together", name: "add" });
            assert.equal(p.llm.calls.length, before + 1, "one LLM call for two identical requests");
            assert.equal(first.status, 201);
            assert.equal(second.status, 200, "same code as the latest version: nothing new stored");
            assert.equal(second.body.cached, true);
            assert.equal(second.body.version, 1);
            const keys = await p.redis.keys("cli-platform:generation:*");
            assert.ok(keys.length >= 1);
            assert.ok((await p.redis.ttl(keys[0])) > 3000);
        });

        it("stores the next version when a command evolves", async () => {
            const res = await p.call("POST", "/evolve", { description: "fail loudly with exit code 3", name: "greet" });
            assert.equal(res.status, 201);
            assert.equal(res.body.version, 2);
            const versions = await p.call("GET", "/commands/greet");
            assert.deepEqual(
                (versions.body.versions as { version: number }[]).map((v) => v.version),
                [1, 2],
            );
        });

        it("derives the name from the description when none is given", async () => {
            const res = await p.call("POST", "/evolve", { description: "Greet the World, politely!" });
            assert.equal(res.status, 201);
            assert.equal(res.body.name, "greet-the-world-politely");
        });

        it("strips a Markdown fence the model adds anyway", async () => {
            const res = await p.call("POST", "/evolve", { description: "fenced output", name: "fenced" });
            assert.equal(res.status, 201);
            assert.equal(res.body.code, "function main() {\n  console.log('fenced');\n  return 0;\n}");
        });

        it("rejects invalid generated code with 422 and reasons, stores nothing, counts it", async () => {
            const res = await p.call("POST", "/evolve", { description: "evil file reader", name: "evil" });
            assert.equal(res.status, 422);
            assert.equal(res.body.error!.code, "validation_failed");
            const details = (res.body.error as unknown as { details: { validation: { valid: boolean; problems: { reason: string }[] } } }).details;
            assert.equal(details.validation.valid, false);
            assert.ok(details.validation.problems.some((x) => x.reason === "forbidden_identifier"));
            assert.equal((await p.call("GET", "/commands/evil")).status, 404);
            const metric = await p.metrics.registry.getSingleMetricAsString("validation_rejections_total");
            assert.match(metric, /validation_rejections_total\{reason="forbidden_identifier"\} [1-9]/);
        });

        it("rejects a constructor escape in strict mode", async () => {
            const res = await p.call("POST", "/evolve", { description: "escape the sandbox", name: "escape" });
            assert.equal(res.status, 422);
        });

        const bad: [string, unknown, number, string][] = [
            ["malformed JSON", "{not json", 400, "invalid_json"],
            ["a JSON array", [], 400, "invalid_request"],
            ["a missing description", {}, 400, "invalid_request"],
            ["a description of the wrong type", { description: 42 }, 400, "invalid_request"],
            ["an empty description", { description: "   " }, 400, "invalid_request"],
            ["an over-long description", { description: "x".repeat(2001) }, 400, "invalid_request"],
            ["an unknown field", { description: "greet", force: true }, 400, "invalid_request"],
            ["a name outside the slug rule", { description: "greet", name: "Bad Name!" }, 400, "invalid_request"],
            ["a name too long", { description: "greet", name: "a".repeat(64) }, 400, "invalid_request"],
            ["a body over 64 KiB", { description: "x".repeat(70 * 1024) }, 413, "body_too_large"],
        ];
        for (const [title, body, status, code] of bad) {
            it(`${status} for ${title}`, async () => {
                const res = await p.call("POST", "/evolve", body);
                assert.equal(res.status, status, JSON.stringify(res.body));
                assert.equal(res.body.error!.code, code);
                assert.equal(typeof res.body.error!.message, "string");
            });
        }

        it("names the field in a 400", async () => {
            const res = await p.call("POST", "/evolve", { description: "greet", name: "Bad Name!" });
            assert.match(res.body.error!.message, /^body: name: must be a slug/);
            const unknown = await p.call("POST", "/evolve", { description: "greet", force: true });
            assert.equal(unknown.body.error!.message, "body: body: unknown field(s) force");
        });

        for (const [field, body] of [
            ["description", { description: "abc\u0000def", name: "nul-desc" }],
            ["name", { description: "greet someone", name: "abc\u0000def" }],
        ] as const) {
            it(`400 naming ${field} for a NUL character in it, before any LLM call`, async () => {
                const before = p.llm.calls.length;
                const res = await p.call("POST", "/evolve", body);
                assert.equal(res.status, 400, JSON.stringify(res.body));
                assert.equal(res.body.error!.code, "invalid_request");
                assert.match(res.body.error!.message, new RegExp(`^body: ${field}: `));
                if (field === "description") assert.equal(res.body.error!.message, "body: description: must not contain a NUL character (\\u0000)");
                assert.equal(p.llm.calls.length, before, "the LLM was called");
            });
        }

        it("415 for a non-JSON content type", async () => {
            const res = await p.call("POST", "/evolve", "description=greet", { "content-type": "application/x-www-form-urlencoded" });
            assert.equal(res.status, 415);
            assert.equal(res.body.error!.code, "unsupported_media_type");
        });
    });

    describe("LLM failures", () => {
        afterEach(() => {
            p.llm.mode = "ok";
        });

        it("502 when the LLM errors", async () => {
            p.llm.mode = "error";
            const res = await p.call("POST", "/evolve", { description: "a new thing that errors", name: "errs" });
            assert.equal(res.status, 502);
            assert.equal(res.body.error!.code, "llm_error");
            assert.match(res.body.error!.message, /the LLM answered 500: upstream exploded/);
        });

        it("504 when the LLM times out", async () => {
            p.llm.mode = "slow";
            p.llm.delayMs = 3000;
            const res = await p.call("POST", "/evolve", { description: "a slow new thing", name: "slow" });
            assert.equal(res.status, 504);
            assert.equal(res.body.error!.code, "llm_timeout");
        });

        it("503 for /evolve when no key is configured, while everything else works", async () => {
            const q = await startPlatform({ apiKey: null });
            try {
                const res = await q.call("POST", "/evolve", { description: "greet", name: "greet" });
                assert.equal(res.status, 503);
                assert.deepEqual(res.body.error, {
                    code: "llm_unavailable",
                    message: "code generation is unavailable: no LLM API key is configured (OPENAI_API_KEY)",
                });
                assert.equal(q.llm.calls.length, 0);
                assert.equal((await q.call("GET", "/commands")).status, 200);
                assert.equal((await fetch(`${q.apiUrl}/ready`)).status, 200);
            } finally {
                await q.close();
            }
        });
    });

    describe("commands", () => {
        it("GET /commands lists each command with its latest version", async () => {
            const res = await p.call("GET", "/commands");
            assert.equal(res.status, 200);
            const commands = res.body.commands as { name: string; latestVersion: number }[];
            assert.deepEqual(commands.find((c) => c.name === "greet")?.latestVersion, 2);
            assert.ok(commands.some((c) => c.name === "add"));
        });

        it("GET /commands/:name is cached in Redis and invalidated when a version is stored", async () => {
            await p.call("POST", "/evolve", { description: "greet the cache", name: "cached-cmd" });
            const first = await p.call("GET", "/commands/cached-cmd");
            assert.equal((first.body.versions as unknown[]).length, 1);
            assert.ok(await p.redis.get("cli-platform:command:v2:cached-cmd"), "cached in Redis");
            await p.call("POST", "/evolve", { description: "add for the cache", name: "cached-cmd" });
            assert.equal(await p.redis.get("cli-platform:command:v2:cached-cmd"), null, "invalidated on write");
            const second = await p.call("GET", "/commands/cached-cmd");
            assert.deepEqual(
                (second.body.versions as { version: number }[]).map((v) => v.version),
                [1, 2],
            );
        });

        it("GET /commands/:name: 404 for an unknown command, 400 for a bad name", async () => {
            const missing = await p.call("GET", "/commands/does-not-exist");
            assert.equal(missing.status, 404);
            assert.deepEqual(missing.body.error, { code: "not_found", message: 'no command named "does-not-exist"' });
            const bad = await p.call("GET", "/commands/Not_A_Slug");
            assert.equal(bad.status, 400);
            assert.match(bad.body.error!.message, /^path: name: must be a slug/);
        });

        it("POST /commands/:name/run runs the latest version through the runner", async () => {
            const res = await p.call("POST", "/commands/add/run", { args: ["2", "3", "4"] });
            assert.equal(res.status, 200);
            assert.equal(res.body.name, "add");
            assert.equal(res.body.version, 1);
            assert.equal(res.body.exitCode, 0);
            assert.equal(res.body.stdout, "9\n");
            assert.equal(res.body.stderr, "");
            assert.equal(typeof res.body.durationMs, "number");
        });

        it("returns the command's own exit code and stderr", async () => {
            const res = await p.call("POST", "/commands/greet/run", { args: [] });
            assert.equal(res.body.exitCode, 3);
            assert.equal(res.body.stderr, "nope\n");
        });

        it("400 for bad args, 404 for an unknown command", async () => {
            assert.equal((await p.call("POST", "/commands/add/run", { args: "2 3" })).status, 400);
            assert.equal((await p.call("POST", "/commands/add/run", { args: [1, 2] })).status, 400);
            assert.equal((await p.call("POST", "/commands/add/run", { args: new Array(65).fill("1") })).status, 400);
            assert.equal((await p.call("POST", "/commands/add/run", { args: [], extra: 1 })).status, 400);
            const nul = await p.call("POST", "/commands/add/run", { args: ["1", "2\u00003"] });
            assert.deepEqual(
                [nul.status, nul.body.error!.code, nul.body.error!.message],
                [400, "invalid_request", "body: args.1: must not contain a NUL character (\\u0000)"],
            );
            assert.equal((await p.call("POST", "/commands/nothing-here/run", { args: [] })).status, 404);
        });
    });

    describe("metrics", () => {
        it("counts requests by method, route and status, with the deployment guide's names", async () => {
            const text = await p.metrics.registry.metrics();
            assert.match(text, /cli_requests_total\{method="POST",endpoint="\/evolve",status="201",client="alice"\} [1-9]/);
            assert.match(text, /cli_requests_total\{method="GET",endpoint="\/commands\/:name",status="404",client="alice"\} [1-9]/);
            assert.match(text, /cli_request_duration_seconds_bucket\{le="0.005",method="GET",endpoint="\/health"\}/);
            assert.match(text, /code_generation_attempts_total [1-9]/);
            assert.match(text, /code_generation_success_total [1-9]/);
            assert.match(text, /validation_duration_seconds_count [1-9]/);
            assert.match(text, /cli_active_connections 0/);
            assert.match(text, /cache_requests_total\{result="hit"\} [1-9]/);
        });
    });
});
