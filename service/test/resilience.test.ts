import * as assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as path from "node:path";
import { freePort } from "./support";
import { type Platform, startPlatform, TOKEN, usePlatform } from "./fixture";

describe("resilience (real servers stopped and started)", function () {
    this.timeout(90_000);
    const platform = usePlatform();
    let p: Platform;
    beforeEach(() => {
        p = platform();
    });

    it("Redis down: the pod stays ready (200, redis degraded in the body, cli_cache_up 0), generation still works without the cache (counted)", async () => {
        await p.redisServer.stop();
        const ready = await fetch(`${p.apiUrl}/ready`);
        assert.equal(ready.status, 200);
        const body = (await ready.json()) as { status: string; failing: string[]; degraded: string[]; checks: Record<string, string> };
        assert.deepEqual([body.status, body.failing, body.degraded, body.checks.postgres], ["degraded", [], ["redis"], "ok"]);
        assert.notEqual(body.checks.redis, "ok");
        assert.match(await p.metrics.registry.getSingleMetricAsString("cli_cache_up"), /^cli_cache_up 0$/m);

        const calls = p.llm.calls.length;
        const a = await p.call("POST", "/evolve", { description: "add without a cache", name: "nocache" });
        const b = await p.call("POST", "/evolve", { description: "add without a cache", name: "nocache" });
        assert.equal(a.status, 201);
        assert.equal(b.status, 200);
        assert.equal(p.llm.calls.length, calls + 2, "no cache: both requests reach the LLM");
        assert.match(await p.metrics.registry.getSingleMetricAsString("cache_requests_total"), /cache_requests_total\{result="error"\} [1-9]/);

        await p.redisServer.startAgain();
        const status = async () => ((await (await fetch(`${p.apiUrl}/ready`)).json()) as { status: string }).status;
        for (let i = 0; i < 50 && (await status()) !== "ready"; i++) await new Promise((r) => setTimeout(r, 200));
        assert.equal(await status(), "ready", "not degraded once Redis is back");
        assert.match(await p.metrics.registry.getSingleMetricAsString("cli_cache_up"), /^cli_cache_up 1$/m);
    });

    it("PostgreSQL down: 503 with a JSON error (never a 500), /ready names postgres; back up: everything works again", async () => {
        p.pg.stop();
        const list = await p.call("GET", "/commands");
        assert.equal(list.status, 503);
        assert.equal(list.body.error!.code, "database_unavailable");
        const readyRes = await fetch(`${p.apiUrl}/ready`);
        const ready = (await readyRes.json()) as { failing: string[] };
        assert.equal(readyRes.status, 503, "without PostgreSQL the pod cannot serve");
        assert.deepEqual(ready.failing, ["postgres"]);
        const evolve = await p.call("POST", "/evolve", { description: "greet while the database is down", name: "dbdown" });
        assert.equal(evolve.status, 503);

        p.pg.startAgain();
        let status = 0;
        for (let i = 0; i < 50 && status !== 200; i++) {
            status = (await p.call("GET", "/commands")).status;
            if (status !== 200) await new Promise((r) => setTimeout(r, 200));
        }
        assert.equal(status, 200);
        assert.equal((await fetch(`${p.apiUrl}/ready`)).status, 200);
        assert.equal((await p.call("POST", "/evolve", { description: "greet after recovery", name: "recovered" })).status, 201);
    });

    it("/ready turns 503 as soon as shutdown begins", async () => {
        const q = await startPlatform();
        try {
            q.api.beginShutdown();
            const res = await fetch(`${q.apiUrl}/ready`);
            assert.equal(res.status, 503);
            assert.equal(((await res.json()) as { status: string }).status, "shutting down");
        } finally {
            await q.close();
        }
    });
});

describe("the api process (src/server.ts)", function () {
    this.timeout(90_000);
    const tsNode = path.join(__dirname, "..", "node_modules", ".bin", "ts-node");
    const start = (env: NodeJS.ProcessEnv) =>
        spawn(tsNode, ["--transpile-only", path.join(__dirname, "..", "src", "server.ts")], {
            env: { PATH: process.env.PATH, CONFIG_PATH: "/dev/null", LOG_LEVEL: "warn", ...env },
            stdio: ["ignore", "pipe", "pipe"],
        });
    const exited = (child: ReturnType<typeof start>) =>
        new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
            let stdout = "";
            let stderr = "";
            child.stderr!.on("data", (d) => (stderr += d));
            child.stdout!.on("data", (d) => (stdout += d));
            // "close", not "exit": every byte the process wrote to its pipes has been read by then.
            child.on("close", (code) => resolve({ code, stdout, stderr }));
        });
    const up = async (url: string) => {
        for (let i = 0; i < 100; i++) {
            if (
                await fetch(`${url}/health`).then(
                    (r) => r.ok,
                    () => false,
                )
            )
                return;
            await new Promise((r) => setTimeout(r, 100));
        }
        throw new Error(`${url} did not come up`);
    };

    it("exits 1 with one line on stderr for bad configuration", async () => {
        const child = start({ POSTGRES_URL: "mysql://nope", API_TOKENS: "x" });
        const { code, stderr } = await exited(child);
        assert.equal(code, 1);
        assert.equal(stderr.trim().split("\n").length, 1);
        assert.match(stderr, /^cli-platform: invalid configuration: environment variable POSTGRES_URL: /);
    });

    it("on SIGTERM finishes the request in flight, refuses new ones, and exits 0", async () => {
        const p = await startPlatform();
        try {
            p.llm.mode = "slow";
            p.llm.delayMs = 1500;
            const port = await freePort();
            const child = start({
                POSTGRES_URL: p.pg.url,
                REDIS_URL: p.redisServer.url,
                OPENAI_API_KEY: "sk-test",
                OPENAI_BASE_URL: p.llm.url,
                API_TOKENS: TOKEN,
                PORT: String(port),
                METRICS_PORT: String(await freePort()),
                SHUTDOWN_TIMEOUT: "10",
            });
            const done = exited(child);
            const url = `http://127.0.0.1:${port}`;
            await up(url);
            const inFlight = fetch(`${url}/evolve`, {
                method: "POST",
                headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
                body: JSON.stringify({ description: "greet during shutdown", name: "draining" }),
            });
            await new Promise((r) => setTimeout(r, 400));
            child.kill("SIGTERM");
            await new Promise((r) => setTimeout(r, 200));
            const late = await fetch(`${url}/health`).then(
                (r) => r.status,
                () => "refused",
            );
            const res = await inFlight;
            assert.equal(res.status, 201, "the in-flight request completed");
            assert.ok(late === "refused" || late === 503, `a new request after SIGTERM got ${late}`);
            const { code, stdout, stderr } = await done;
            assert.equal(code, 0, `exit code; output: ${stdout}${stderr}`);
        } finally {
            await p.close();
        }
    });

    it("at LOG_LEVEL=info, SIGTERM under load loses no log line: one request line per answered request, then the shutdown lines", async () => {
        const p = await startPlatform();
        try {
            const port = await freePort();
            const child = start({
                LOG_LEVEL: "info",
                POSTGRES_URL: p.pg.url,
                REDIS_URL: p.redisServer.url,
                OPENAI_API_KEY: "sk-test",
                OPENAI_BASE_URL: p.llm.url,
                API_TOKENS: TOKEN,
                PORT: String(port),
                METRICS_PORT: String(await freePort()),
                SHUTDOWN_TIMEOUT: "10",
            });
            const done = exited(child);
            const url = `http://127.0.0.1:${port}`;
            await up(url);
            const auth = { authorization: `Bearer ${TOKEN}` };
            const created = await fetch(`${url}/evolve`, {
                method: "POST",
                headers: { ...auth, "content-type": "application/json" },
                body: JSON.stringify({ description: "greet someone", name: "greet" }),
            });
            assert.equal(created.status, 201);

            // 20 keep-alive clients read in a loop until the server stops answering.
            const answered: number[] = [];
            const client = async () => {
                for (;;) {
                    const status = await fetch(`${url}/commands/greet`, { headers: auth }).then(
                        async (r) => (await r.arrayBuffer(), r.status),
                        () => undefined,
                    );
                    if (status === undefined || status === 503) return;
                    answered.push(status);
                }
            };
            const clients = Array.from({ length: 20 }, client);
            while (answered.length < 300) await new Promise((r) => setTimeout(r, 20));
            child.kill("SIGTERM");
            await Promise.all(clients);
            const { code, stdout, stderr } = await done;
            assert.equal(code, 0, `exit code; stderr: ${stderr}`);

            const lines = stdout
                .trim()
                .split("\n")
                .map((l) => JSON.parse(l) as { msg: string; level: string; route?: string; status?: number });
            const requestLines = lines.filter((l) => l.msg === "request" && l.route === "/commands/:name");
            assert.ok(answered.length >= 300, `only ${answered.length} answers`);
            assert.deepEqual(
                answered.filter((s) => s !== 200),
                [],
                "every read before the shutdown was a 200",
            );
            assert.equal(requestLines.length, answered.length, "one request line per answered GET /commands/:name");
            assert.ok(
                requestLines.every((l) => l.level === "info" && l.status === 200),
                "request lines are info lines with the status",
            );
            assert.equal(lines.filter((l) => l.msg === "request" && l.route === "/evolve").length, 1, "the POST /evolve line");
            // Requests in flight at SIGTERM log after the "shutting down" line; nothing logs after "shutdown complete".
            assert.equal(lines.filter((l) => l.msg === "shutting down: draining in-flight requests").length, 1);
            assert.equal(lines.at(-1)?.msg, "shutdown complete");
        } finally {
            await p.close();
        }
    });
});
