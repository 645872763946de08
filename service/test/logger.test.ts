import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Writable } from "node:stream";
import { asyncDestination, createLogger, flushLogs, isoTime, requestLogger, stripCredentials } from "../src/logger";

describe("logger", () => {
    it("never writes a secret: headers, tokens, passwords, keys and connection URLs are redacted", () => {
        const lines: string[] = [];
        const sink = new Writable({ write: (chunk, _enc, cb) => (lines.push(String(chunk)), cb()) });
        const log = createLogger("info", sink);
        log.info(
            {
                req: { headers: { authorization: "Bearer top-secret-token" } },
                apiKey: "sk-live-123",
                password: "hunter2",
                token: "abc",
                config: { llm: { apiKey: "sk-x" }, apiClients: [{ name: "ci", token: "t1" }], postgres: { url: "postgres://u:pw@h/db" } },
            },
            "test",
        );
        const out = lines.join("");
        for (const secret of ["top-secret-token", "sk-live-123", "hunter2", '"abc"', "sk-x", "t1", "u:pw"])
            assert.ok(!out.includes(secret), `${secret} was logged: ${out}`);
        assert.match(out, /\[redacted\]/);
        assert.equal(JSON.parse(out).msg, "test");
    });

    it("request lines: the logger's level, format and destination, with their fixed fields", () => {
        const lines: string[] = [];
        const sink = new Writable({ write: (chunk, _enc, cb) => (lines.push(String(chunk)), cb()) });
        const log = requestLogger(createLogger("info", sink));
        log.info({ reqId: "req-7", client: "ci", method: "GET", route: "/commands/:name", status: 200, durationMs: 3 });
        log.debug({ reqId: "req-8", client: "none", method: "GET", route: "/health", status: 200, durationMs: 0 });
        assert.equal(lines.length, 1, "debug lines stay below info");
        const line = JSON.parse(lines[0]) as Record<string, unknown>;
        assert.match(String(line.time), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
        delete line.time;
        assert.deepEqual(line, {
            level: "info",
            service: "cli-platform",
            reqId: "req-7",
            client: "ci",
            method: "GET",
            route: "/commands/:name",
            status: 200,
            durationMs: 3,
            msg: "request",
        });
    });

    it("timestamps are ISO 8601, formatted once per millisecond", () => {
        assert.equal(isoTime(1795743559389), ',"time":"2026-11-27T01:39:19.389Z"');
        assert.equal(isoTime(1795743559389), ',"time":"2026-11-27T01:39:19.389Z"');
        assert.equal(isoTime(1795743559390), ',"time":"2026-11-27T01:39:19.390Z"');
    });

    describe("the default destination: asynchronous and buffered", () => {
        let file: string;
        let dest: ReturnType<typeof asyncDestination>;
        const lines = () => fs.readFileSync(file, "utf8").split("\n").filter(Boolean);
        beforeEach(() => {
            file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "logger-")), "out.log");
            dest = asyncDestination(fs.openSync(file, "w"));
        });
        afterEach(() => new Promise((resolve) => (dest.sonic.once("close", resolve), dest.end())));

        it("logging calls do not wait for their writes; flushLogs resolves once every line is out, in order", async () => {
            const log = createLogger("info", dest);
            for (let i = 0; i < 1000; i++) log.info({ i }, "request");
            // One write may already be in flight on libuv's thread pool; the rest waits for the event loop.
            assert.ok(lines().length < 1000, `all ${lines().length} lines were written synchronously`);
            await flushLogs(log);
            assert.deepEqual(
                lines().map((l) => (JSON.parse(l) as { i: number }).i),
                Array.from({ length: 1000 }, (_, i) => i),
            );
        });

        it("a lone line at low traffic is written within a second, without a flush", async () => {
            const log = createLogger("info", dest);
            log.info("one quiet line");
            const until = Date.now() + 1000;
            while (lines().length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 25));
            assert.equal(lines().length, 1);
            assert.equal((JSON.parse(lines()[0]) as { msg: string }).msg, "one quiet line");
        });
    });

    it("strips credentials from URLs", () => {
        assert.equal(stripCredentials("postgres://user:pass@db:5432/cli"), "postgres://db:5432/cli");
        assert.equal(stripCredentials("rediss://:tok@cache:6379"), "rediss://cache:6379");
    });
});
