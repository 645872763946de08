import * as assert from "node:assert/strict";
import { Writable } from "node:stream";
import { FAKE_CODE } from "./support";
import { CI_TOKEN, type Platform, TOKEN, usePlatform } from "./fixture";

interface Version {
    version: number;
    code: string;
    createdBy: string;
    rolledBackFrom: number | null;
}

interface Run {
    version: number;
    client: string;
    exitCode: number;
    durationMs: number;
    killed: string | null;
    startedAt: string;
}

describe("clients, audit trail, pinned versions and rollback (real PostgreSQL, Redis, runner)", function () {
    this.timeout(60_000);
    const logLines: Record<string, unknown>[] = [];
    const platform = usePlatform({
        logSink: new Writable({
            write: (chunk, _enc, cb) => {
                for (const line of String(chunk).split("\n").filter(Boolean)) logLines.push(JSON.parse(line) as Record<string, unknown>);
                cb();
            },
        }),
    });
    let p: Platform;
    beforeEach(() => {
        p = platform();
    });
    const asCi = { authorization: `Bearer ${CI_TOKEN}` };

    describe("named clients", () => {
        it("puts the client's name on the request log line and the request counter; 'none' when no client is known", async () => {
            await p.call("GET", "/commands", undefined, asCi);
            await fetch(`${p.apiUrl}/commands`, { headers: { authorization: "Bearer not-a-configured-token-000" } });
            const line = logLines.find((l) => l.msg === "request" && l.route === "/commands" && l.status === 200);
            assert.equal(line?.client, "ci");
            const rejected = logLines.find((l) => l.msg === "request" && l.route === "/commands" && l.status === 401);
            assert.equal(rejected?.client, "none");
            const metric = await p.metrics.registry.getSingleMetricAsString("cli_requests_total");
            assert.match(metric, /cli_requests_total\{method="GET",endpoint="\/commands",status="200",client="ci"\} 1/);
            assert.match(metric, /cli_requests_total\{method="GET",endpoint="\/commands",status="401",client="none"\} 1/);
        });

        it("never logs a token", () => {
            const all = JSON.stringify(logLines);
            assert.ok(!all.includes(TOKEN) && !all.includes(CI_TOKEN));
        });
    });

    describe("repeated reads of a command (the hot path)", () => {
        const read = async (path: string, init: RequestInit = {}) => {
            const res = await fetch(`${p.apiUrl}${path}`, { ...init, headers: { ...asCi, ...(init.headers as Record<string, string>) } });
            return { status: res.status, type: res.headers.get("content-type"), length: res.headers.get("content-length"), body: await res.text() };
        };
        const counted = async (series: string) => {
            const text = await p.metrics.registry.metrics();
            const line = text.split("\n").find((l) => l.startsWith(`${series} `));
            return line === undefined ? 0 : Number(line.split(" ")[1]);
        };
        const reads = 'cli_requests_total{method="GET",endpoint="/commands/:name",status="200",client="ci"}';
        const timed = 'cli_request_duration_seconds_count{method="GET",endpoint="/commands/:name"}';
        const isRead = (l: Record<string, unknown>) => l.msg === "request" && l.route === "/commands/:name" && l.client === "ci" && l.status === 200;

        it("a command read again answers as its first read did: same status, headers and bytes; one request line and one count each", async () => {
            assert.equal((await p.call("POST", "/evolve", { description: "greet someone", name: "read-twice" })).status, 201);
            const [linesBefore, readsBefore, timedBefore] = [logLines.filter(isRead).length, await counted(reads), await counted(timed)];
            const answers = [];
            for (let i = 0; i < 5; i++) answers.push(await read("/commands/read-twice"));
            const first = answers[0];
            assert.equal(first.status, 200);
            assert.equal(first.type, "application/json; charset=utf-8");
            assert.equal(first.length, String(Buffer.byteLength(first.body)));
            const body = JSON.parse(first.body) as { name: string; versions: Version[] };
            assert.equal(body.name, "read-twice");
            assert.deepEqual(
                body.versions.map((v) => [v.version, v.createdBy]),
                [[1, "alice"]],
            );
            for (const a of answers.slice(1)) assert.deepEqual(a, first);
            const lines = logLines.filter(isRead).slice(linesBefore);
            assert.equal(lines.length, 5, "one request line per read");
            assert.equal(new Set(lines.map((l) => l.reqId)).size, 5, "each read has its own request id");
            assert.equal(logLines.filter((l) => lines.some((m) => m.reqId === l.reqId)).length, 5, "request ids are not reused");
            assert.equal((await counted(reads)) - readsBefore, 5, "cli_requests_total");
            assert.equal((await counted(timed)) - timedBefore, 5, "cli_request_duration_seconds");
        });

        it("a command this replica has just read is never answered without a valid token", async () => {
            assert.equal((await read("/commands/read-twice")).status, 200);
            for (const authorization of [
                undefined,
                "Bearer not-a-configured-token-000",
                `Basic ${CI_TOKEN}`,
                `Bearer ${CI_TOKEN.slice(0, -1)}`,
                `Bearer ${CI_TOKEN}x`,
            ]) {
                const res = await fetch(`${p.apiUrl}/commands/read-twice`, { headers: authorization === undefined ? {} : { authorization } });
                assert.equal(res.status, 401, String(authorization));
                assert.deepEqual(await res.json(), { error: { code: "unauthorized", message: "missing or invalid bearer token" } });
            }
        });

        it("the forms of the path the route decodes, and HEAD, answer as the plain read does", async () => {
            const plain = await read("/commands/read-twice");
            for (const path of ["/commands/read-twice?verbose=1", "/commands/read%2Dtwice"]) assert.deepEqual(await read(path), plain, path);
            const head = await read("/commands/read-twice", { method: "HEAD" });
            assert.deepEqual(head, { ...plain, body: "" });
            assert.equal((await read("/commands/read-twice/")).status, 404);
            assert.equal((await read("/commands/Read-twice")).status, 400);
        });
    });

    describe("audit trail", () => {
        it("each version says which client stored it", async () => {
            assert.equal((await p.call("POST", "/evolve", { description: "greet someone", name: "hello" })).body.createdBy, "alice");
            const second = await p.call("POST", "/evolve", { description: "add some numbers", name: "hello" }, asCi);
            assert.equal(second.status, 201);
            assert.equal(second.body.createdBy, "ci");
            const shown = await p.call("GET", "/commands/hello");
            assert.deepEqual(
                (shown.body.versions as Version[]).map((v) => [v.version, v.createdBy, v.rolledBackFrom]),
                [
                    [1, "alice", null],
                    [2, "ci", null],
                ],
            );
        });

        it("records every run (client, version, exit code, duration, killed; no output) and lists them newest first", async () => {
            const before = Date.now();
            assert.equal((await p.call("POST", "/commands/hello/run", { args: ["1", "2"] })).body.stdout, "3\n");
            assert.equal((await p.call("POST", "/commands/hello/run", { args: ["5"], version: 1 }, asCi)).body.stdout, "hello 5\n");
            await p.recorder.flush();
            const res = await p.call("GET", "/commands/hello/runs");
            assert.equal(res.status, 200);
            assert.equal(res.body.name, "hello");
            const runs = res.body.runs as Run[];
            assert.deepEqual(
                runs.map((r) => [r.version, r.client, r.exitCode, r.killed]),
                [
                    [1, "ci", 0, null],
                    [2, "alice", 0, null],
                ],
            );
            for (const r of runs) {
                assert.ok(r.durationMs >= 0);
                assert.ok(Date.parse(r.startedAt) >= before - 1000 && Date.parse(r.startedAt) <= Date.now(), r.startedAt);
            }
            const { rows } = await p.pool.query<{ column_name: string }>("SELECT column_name FROM information_schema.columns WHERE table_name = 'runs'");
            assert.deepEqual(rows.map((r) => r.column_name).sort(), ["client", "duration_ms", "exit_code", "id", "killed", "name", "started_at", "version"]);
        });

        it("records a killed run", async () => {
            await p.call("POST", "/evolve", { description: "spin forever", name: "spinner" });
            const run = await p.call("POST", "/commands/spinner/run", { args: [] });
            assert.equal(run.body.killed, "timeout");
            await p.recorder.flush();
            const runs = (await p.call("GET", "/commands/spinner/runs")).body.runs as Run[];
            assert.deepEqual(
                runs.map((r) => [r.version, r.client, r.exitCode, r.killed]),
                [[1, "alice", 124, "timeout"]],
            );
        });

        it("?limit= bounds the list (1..100); 404 for an unknown command", async () => {
            for (let i = 0; i < 3; i++) await p.call("POST", "/commands/hello/run", { args: [] });
            await p.recorder.flush();
            assert.equal(((await p.call("GET", "/commands/hello/runs?limit=2")).body.runs as Run[]).length, 2);
            assert.equal(((await p.call("GET", "/commands/hello/runs?limit=100")).body.runs as Run[]).length, 5);
            for (const bad of ["0", "101", "two", "1.5"]) {
                const res = await p.call("GET", `/commands/hello/runs?limit=${bad}`);
                assert.equal(res.status, 400, bad);
                assert.equal(res.body.error!.code, "invalid_request");
                assert.match(res.body.error!.message, /^query: limit: /);
            }
            const unknownParam = await p.call("GET", "/commands/hello/runs?limt=2");
            assert.equal(unknownParam.body.error!.message, "query: query: unknown field(s) limt");
            const missing = await p.call("GET", "/commands/nobody/runs");
            assert.equal(missing.status, 404);
            assert.deepEqual(missing.body.error, { code: "not_found", message: 'no command named "nobody"' });
        });
    });

    describe("pinned versions and rollback", () => {
        it("run --version runs that version; 404 for a version that does not exist, 400 for a bad one", async () => {
            assert.equal((await p.call("POST", "/commands/hello/run", { args: ["x"], version: 1 })).body.stdout, "hello x\n");
            const missing = await p.call("POST", "/commands/hello/run", { args: [], version: 9 });
            assert.equal(missing.status, 404);
            assert.deepEqual(missing.body.error, { code: "not_found", message: 'command "hello" has no version 9' });
            for (const version of [0, -1, 1.5, "1"]) {
                const bad = await p.call("POST", "/commands/hello/run", { args: [], version });
                assert.equal(bad.status, 400, JSON.stringify(version));
                assert.match(bad.body.error!.message, /^body: version: /);
            }
        });

        it("rollback stores a copy of version N as the next version, which then runs by default", async () => {
            const res = await p.call("POST", "/commands/hello/rollback", { version: 1 }, asCi);
            assert.equal(res.status, 201);
            assert.equal(res.body.version, 3);
            assert.equal(res.body.rolledBackFrom, 1);
            assert.equal(res.body.createdBy, "ci");
            assert.equal(res.body.created, true);
            assert.equal(res.body.code, FAKE_CODE.greet);
            const shown = (await p.call("GET", "/commands/hello")).body.versions as Version[];
            assert.deepEqual(
                shown.map((v) => [v.version, v.rolledBackFrom, v.createdBy]),
                [
                    [1, null, "alice"],
                    [2, null, "ci"],
                    [3, 1, "ci"],
                ],
                "history only grows, and the cached body was invalidated",
            );
            const run = await p.call("POST", "/commands/hello/run", { args: ["again"] });
            assert.deepEqual([run.body.version, run.body.stdout], [3, "hello again\n"]);
            const list = (await p.call("GET", "/commands")).body.commands as { name: string; latestVersion: number }[];
            assert.equal(list.find((c) => c.name === "hello")?.latestVersion, 3);
        });

        it("rolling back to the latest version stores nothing (200, created: false)", async () => {
            const res = await p.call("POST", "/commands/hello/rollback", { version: 3 });
            assert.equal(res.status, 200);
            assert.deepEqual([res.body.version, res.body.created], [3, false]);
            assert.equal(((await p.call("GET", "/commands/hello")).body.versions as Version[]).length, 3);
        });

        it("404 for an unknown command or version, 400 for a bad version", async () => {
            const noVersion = await p.call("POST", "/commands/hello/rollback", { version: 42 });
            assert.equal(noVersion.status, 404);
            assert.deepEqual(noVersion.body.error, { code: "not_found", message: 'command "hello" has no version 42' });
            const noCommand = await p.call("POST", "/commands/nobody/rollback", { version: 1 });
            assert.deepEqual([noCommand.status, noCommand.body.error!.message], [404, 'no command named "nobody"']);
            const cases: [unknown, RegExp][] = [
                [{}, /^body: version: Invalid input: expected number, received undefined$/],
                [{ version: "2" }, /^body: version: /],
                [{ version: 0 }, /^body: version: /],
                [{ version: 2, force: true }, /^body: body: unknown field\(s\) force$/],
            ];
            for (const [body, message] of cases) {
                const res = await p.call("POST", "/commands/hello/rollback", body);
                assert.equal(res.status, 400, JSON.stringify(body));
                assert.equal(res.body.error!.code, "invalid_request");
                assert.match(res.body.error!.message, message);
            }
        });

        it("a version beyond PostgreSQL's integer range is a 400 on run and rollback, not a database error", async () => {
            for (const path of ["/commands/hello/rollback", "/commands/hello/run"]) {
                for (const version of [2147483648, 9007199254740991]) {
                    const res = await p.call("POST", path, { version });
                    assert.equal(res.status, 400, `${path} ${version}`);
                    assert.equal(res.body.error!.code, "invalid_request");
                    assert.match(res.body.error!.message, /^body: version: must be at most 2147483647$/);
                }
            }
            // The command is untouched and still serves.
            assert.equal(((await p.call("GET", "/commands/hello")).body.versions as Version[]).length, 3);
        });

        it("a malformed percent-encoded path is a 400 in the JSON error shape", async () => {
            for (const path of ["/commands/%ED%A0%80", "/commands/%E0%A4%A", "/commands/%ff/rollback"]) {
                const res = await p.call("GET", path);
                assert.equal(res.status, 400, path);
                assert.equal(res.body.error!.code, "bad_request", path);
                assert.equal(typeof res.body.error!.message, "string");
            }
        });
    });
});
