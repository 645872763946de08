/**
 * The held-command answer (answerHeldCommand in src/app.ts: a cached GET /commands/:name answered in
 * front of fastify's routing) on a real socket, where it runs (`app.inject()` never reaches it): the
 * cases three attacks on it found (/work/team/attack-42.md F1-F4, -42b.md G1-G4, -42c.md H1-H2), each asserted
 * by what a client or an operator sees. In-memory repository and Redis: nothing here needs PostgreSQL.
 */
import * as assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import dns from "node:dns";
import * as net from "node:net";
import * as path from "node:path";
import { Writable } from "node:stream";
import type { Redis } from "ioredis";
import { buildApiApp, type ApiDeps } from "../src/app";
import { GenerationCache } from "../src/cache";
import { createLogger } from "../src/logger";
import { createApiMetrics } from "../src/metrics";

const TOKEN = "held-command-token-0123456789";
const SLOW_MS = 300;

const version = (name: string) => ({
    name,
    version: 1,
    description: "d",
    code: "console.log('hi')",
    model: "m",
    validation: { enabled: true, strictMode: true, valid: true, problems: [] },
    createdBy: "alice",
    rolledBackFrom: null,
    createdAt: "2026-01-01T00:00:00.000Z",
});

class MemoryRedis {
    private readonly values = new Map<string, string>();
    async get(key: string) {
        return this.values.get(key) ?? null;
    }
    async getBuffer(key: string) {
        const value = this.values.get(key);
        return value === undefined ? null : Buffer.from(value);
    }
    async set(key: string, value: string) {
        this.values.set(key, String(value));
        return "OK";
    }
    async del(key: string) {
        return this.values.delete(key) ? 1 : 0;
    }
}

/** The api with a repository holding "hello" (answered at once) and names starting "slow" (answered after SLOW_MS, 404). */
async function startApi() {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
        write(chunk, _encoding, done) {
            for (const line of String(chunk).split("\n")) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
            done();
        },
    });
    const log = createLogger("info", sink);
    const metrics = createApiMetrics(false);
    const repo = {
        async versions(name: string) {
            if (name.startsWith("slow")) await new Promise((resolve) => setTimeout(resolve, SLOW_MS));
            if (name === "big") return Array.from({ length: 40 }, (_, i) => ({ ...version(name), version: i + 1, code: "x".repeat(100_000) }));
            return name === "hello" ? [version(name)] : [];
        },
        async latest() {
            return undefined;
        },
    };
    const api = await buildApiApp({
        log,
        metrics,
        repo: repo as unknown as ApiDeps["repo"],
        cache: new GenerationCache(new MemoryRedis() as unknown as Redis, 3600, log, metrics),
        llm: { model: "m" } as unknown as ApiDeps["llm"],
        runner: {} as ApiDeps["runner"],
        runs: { record() {}, flush: async () => undefined },
        redisPing: async () => "PONG",
        apiClients: [{ name: "alice", token: TOKEN }],
        validation: { enabled: true, strictMode: true },
        security: { sandboxEnabled: true, maxExecutionTimeMs: 1000 },
        version: "1.0.0",
        bodyLimit: 64 * 1024,
    });
    return { api, lines };
}

const get = (name: string, extra = "") => `GET /commands/${name} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\n${extra}\r\n`;

/** Sends `requests` on one connection and resolves with what arrived when `count` responses are in (or the socket closed). */
function exchange(port: number, requests: string, count: number, host = "127.0.0.1"): Promise<string> {
    return new Promise((resolve, reject) => {
        const socket = net.connect(port, host);
        let received = "";
        const done = () => {
            socket.destroy();
            resolve(received);
        };
        socket.on("data", (data) => {
            received += data.toString("latin1");
            if ((received.match(/HTTP\/1\.1 \d{3} /g) ?? []).length >= count && /\r\n\r\n[^]*\}$/.test(received)) done();
        });
        socket.on("close", done);
        socket.on("error", reject);
        socket.on("connect", () => socket.write(requests));
    });
}

/** Runs `script` (CommonJS, with `createLogger`, `flushLogs` and `requestLogger` of src/logger in scope) in a node whose stdout is a pipe, as a container's is. */
function runLogging(script: string, nodeArgs: string[] = []) {
    const prelude = `const { createLogger, flushLogs, requestLogger } = require(${JSON.stringify(path.join(__dirname, "../src/logger"))});`;
    const child = spawnSync(process.execPath, [...nodeArgs, "-r", "ts-node/register/transpile-only", "-e", prelude + script], {
        encoding: "utf8",
        cwd: path.join(__dirname, ".."),
    });
    return { status: child.status, stderr: child.stderr, lines: child.stdout.split("\n").filter(Boolean) };
}

const statuses = (text: string) => [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
const requestLines = (lines: Record<string, unknown>[]) => lines.filter((l) => l.msg === "request");

describe("the held-command answer in front of fastify (real socket)", () => {
    it("a held command pipelined behind a slow request is logged and timed when it is sent, in request order (F2)", async () => {
        const { api, lines } = await startApi();
        try {
            await api.app.listen({ port: 0, host: "127.0.0.1" });
            const { port } = api.app.server.address() as net.AddressInfo;
            assert.deepEqual(statuses(await exchange(port, get("hello"), 1)), [200]); // now held
            const received = await exchange(port, get("slow-one") + get("hello"), 2);
            assert.deepEqual(statuses(received), [404, 200]);
            // Logged in request order: the slow request's line first.
            const [slow, held] = requestLines(lines).slice(1);
            assert.deepEqual([slow.status, held.status], [404, 200]);
            assert.ok(Number(held.durationMs) >= SLOW_MS - 50, `the held answer waited behind the slow one: durationMs ${String(held.durationMs)}`);
        } finally {
            await api.close();
        }
    });

    it("once the app is closing, a held command on a kept-alive connection is answered 503 with Connection: close, like every request (F3)", async () => {
        const { api } = await startApi();
        await api.app.listen({ port: 0, host: "127.0.0.1" });
        const { port } = api.app.server.address() as net.AddressInfo;
        assert.deepEqual(statuses(await exchange(port, get("hello"), 1)), [200]); // now held
        // A connection kept open by a slow request, then close() (without beginShutdown), then the held read on it.
        const socket = net.connect(port, "127.0.0.1");
        await new Promise((resolve) => socket.on("connect", resolve));
        let received = "";
        socket.on("data", (data) => (received += data.toString("latin1")));
        const closed = new Promise((resolve) => socket.on("close", resolve));
        socket.write(get("slow-two"));
        await new Promise((resolve) => setTimeout(resolve, 50));
        const closing = api.close();
        await new Promise((resolve) => setTimeout(resolve, 50));
        socket.write(get("hello"));
        await closed;
        await closing;
        assert.deepEqual(statuses(received), [404, 503]);
        assert.match(received.slice(received.lastIndexOf("HTTP/1.1 ")), /\r\nConnection: close\r\n/i);
    });

    it('listening on "localhost" answers on each of its addresses, as fastify binds them all (F4)', async () => {
        // "localhost" with two addresses, as in a dual-stack hosts file (127.0.0.1 and ::1; fastify binds
        // every address of "localhost"); 127.0.0.2 is loopback too, so no IPv6 is needed.
        const lookup = dns.lookup;
        (dns as { lookup: unknown }).lookup = (host: string, options: unknown, callback?: unknown) => {
            if (host !== "localhost") return (lookup as (...args: unknown[]) => void)(host, options, callback);
            const cb = (typeof options === "function" ? options : callback) as (...args: unknown[]) => void;
            const all = typeof options === "object" && options !== null && (options as { all?: boolean }).all;
            if (all)
                process.nextTick(cb, null, [
                    { address: "127.0.0.1", family: 4 },
                    { address: "127.0.0.2", family: 4 },
                ]);
            else process.nextTick(cb, null, "127.0.0.1", 4);
        };
        const { api } = await startApi();
        try {
            await api.app.listen({ port: 0, host: "localhost" });
            const { port } = api.app.server.address() as net.AddressInfo;
            for (const host of ["127.0.0.1", "127.0.0.2"]) {
                assert.deepEqual(statuses(await exchange(port, get("hello"), 1, host)), [200], host);
                assert.deepEqual(statuses(await exchange(port, get("hello"), 1, host)), [200], `${host}, held`);
            }
        } finally {
            (dns as { lookup: unknown }).lookup = lookup;
            await api.close();
        }
    });

    it("a process that exits in the turn it logged still writes those lines (F1)", () => {
        const { status, stderr, lines } = runLogging(`
            const log = createLogger("info");
            log.info("first");
            log.error("the line that says why");
            process.exit(3);`);
        assert.equal(status, 3, stderr);
        const messages = lines.map((l) => (JSON.parse(l) as { msg: string }).msg);
        assert.deepEqual(messages, ["first", "the line that says why"]);
    });

    it("a held command pipelined behind another read, with Expect: 100-continue, arrives whole and parseable (G1)", async () => {
        const { api } = await startApi();
        try {
            await api.app.listen({ port: 0, host: "127.0.0.1" });
            const { port } = api.app.server.address() as net.AddressInfo;
            const first = await exchange(port, get("hello"), 1); // now held
            const body = first.slice(first.indexOf("\r\n\r\n") + 4);
            const received = await exchange(port, get("hello") + get("hello", "Expect: 100-continue\r\n"), 3);
            // Read as a client does: each response's head, then content-length bytes; a 100 has no body.
            const bodies: string[] = [];
            let rest = received;
            while (rest.length > 0) {
                const head = rest.slice(0, rest.indexOf("\r\n\r\n") + 4);
                assert.match(head, /^HTTP\/1\.1 (100|200) /, `a response starts here: ${JSON.stringify(rest.slice(0, 40))}`);
                const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
                if (head.startsWith("HTTP/1.1 200")) bodies.push(rest.slice(head.length, head.length + length));
                rest = rest.slice(head.length + length);
            }
            assert.deepEqual(bodies, [body, body]);
            assert.equal((JSON.parse(body) as { name: string }).name, "hello");
        } finally {
            await api.close();
        }
    });

    it("a held body read slowly is timed until the client has it, as fastify times it (G4)", async () => {
        const { api, lines } = await startApi();
        try {
            await api.app.listen({ port: 0, host: "127.0.0.1" });
            const { port } = api.app.server.address() as net.AddressInfo;
            const readBig = (pauseMs: number) =>
                new Promise<number>((resolve, reject) => {
                    const socket = net.connect(port, "127.0.0.1", () => socket.write(get("big")));
                    let head = "";
                    let received = 0;
                    let need = -1;
                    socket.pause();
                    setTimeout(() => socket.resume(), pauseMs);
                    socket.on("data", (data) => {
                        received += data.length;
                        if (need < 0) {
                            head += data.toString("latin1");
                            const length = /content-length: (\d+)/i.exec(head);
                            const end = head.indexOf("\r\n\r\n");
                            if (length && end >= 0) need = end + 4 + Number(length[1]);
                        }
                        if (need >= 0 && received >= need) {
                            socket.destroy();
                            resolve(received);
                        }
                    });
                    socket.on("error", reject);
                });
            await readBig(0); // now held (4 MB)
            await readBig(600);
            await new Promise((resolve) => setTimeout(resolve, 100));
            const reads = requestLines(lines).filter((l) => l.route === "/commands/:name");
            assert.equal(reads.length, 2);
            assert.equal(reads[1].status, 200);
            assert.ok(Number(reads[1].durationMs) >= 500, `the held read lasted until the client had read it: durationMs ${String(reads[1].durationMs)}`);
        } finally {
            await api.close();
        }
    });

    it("a process with many loggers, some dropped and collected, writes every kept logger's last lines at exit (G2)", () => {
        const { status, stderr, lines } = runLogging(
            `
            let loggers = Array.from({ length: 100 }, () => createLogger("info"));
            const kept = loggers.filter((_, i) => i % 2 === 0);
            loggers = null;
            (async () => {
                for (let i = 0; i < 5; i++) { global.gc(); await new Promise((r) => setTimeout(r, 20)); }
                kept.forEach((log, i) => log.info({ i }, "kept"));
                process.exit(0);
            })();`,
            ["--expose-gc"],
        );
        assert.equal(status, 0, stderr);
        const kept = lines.map((l) => (JSON.parse(l) as { i: number }).i).sort((a, b) => a - b);
        assert.deepEqual(
            kept,
            Array.from({ length: 50 }, (_, i) => i),
        );
    });

    it("a process that exits while its stdout is backed up tears no line and keeps its last turn (G3)", async () => {
        const script = `
            const { createLogger } = require(${JSON.stringify(path.join(__dirname, "../src/logger"))});
            const log = createLogger("info");
            const pad = "x".repeat(900);
            setTimeout(() => {
                for (let i = 0; i < 300; i++) log.info({ i, pad }, "earlier");
                setTimeout(() => {
                    for (let n = 0; n < 40; n++) log.info({ n }, "last turn");
                    process.exit(1);
                }, 300);
            }, 10);`;
        const child = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", "-e", script], {
            cwd: path.join(__dirname, ".."),
            stdio: ["ignore", "pipe", "inherit"],
        });
        let out = "";
        child.stdout.on("data", (data) => (out += String(data)));
        child.stdout.pause(); // a slow reader: the pipe fills
        setTimeout(() => child.stdout.resume(), 1000);
        await new Promise((resolve) => child.stdout.on("end", resolve));
        const records = out
            .split("\n")
            .filter(Boolean)
            .map((l) => {
                try {
                    return JSON.parse(l) as { msg: string; i?: number; n?: number };
                } catch {
                    assert.fail(`a torn line: ${l.slice(0, 60)}...`);
                }
            });
        assert.deepEqual(
            records.filter((r) => r.msg === "last turn").map((r) => r.n),
            Array.from({ length: 40 }, (_, n) => n),
        );
        const earlier = records.filter((r) => r.msg === "earlier").map((r) => r.i!);
        assert.deepEqual(
            earlier,
            [...earlier].sort((a, b) => a - b),
            "in order",
        );
        // At most one write in flight is lost at exit: sonic-boom's 16 KiB, ≈ 17 of these lines.
        assert.ok(earlier.length >= 300 - 17, `earlier lines kept: ${earlier.length}/300`);
    });

    it("flushLogs on a pipe resolves only once every line logged before it is written (H1)", () => {
        // One turn of ≈ 18 KiB (45 lines of ≈ 400 bytes): a 16 KiB write and a rest of ≈ 2 KiB, below
        // sonic-boom's minLength (4 KiB) when the first write drains.
        const { status, stderr, lines } = runLogging(`
            const log = createLogger("info");
            const pad = "x".repeat(300);
            (async () => {
                for (let i = 0; i < 45; i++) log.info({ i, pad }, "line");
                await flushLogs(log);
                require("node:fs").writeSync(1, "FLUSHED\\n");
                setTimeout(() => process.exit(0), 300);
            })();`);
        assert.equal(status, 0, stderr);
        const mark = lines.indexOf("FLUSHED");
        assert.ok(mark >= 0, "the marker was written");
        assert.deepEqual(
            lines.slice(0, mark).map((l) => (JSON.parse(l) as { i: number }).i),
            Array.from({ length: 45 }, (_, i) => i),
        );
        assert.deepEqual(lines.slice(mark + 1), [], "nothing after the flush resolved");
    });

    it("a process that exits in the turn it logged, with libuv's pool busy, writes those lines in order (H2)", () => {
        const { status, stderr, lines } = runLogging(`
            const log = createLogger("info");
            setTimeout(() => {
                for (let i = 0; i < 4; i++) require("node:crypto").pbkdf2("x", "y", 3000000, 32, "sha256", () => {});
                const requests = requestLogger(log);
                for (let i = 0; i < 100; i++) requests.info({ reqId: "req-" + i, client: "alice", method: "GET", route: "/commands/:name", status: 200, durationMs: 0 });
                log.error({ reqId: "req-100" }, "the line that says why");
                process.exit(1);
            }, 50);`);
        assert.equal(status, 1, stderr);
        assert.deepEqual(
            lines.map((l) => (JSON.parse(l) as { reqId: string }).reqId),
            Array.from({ length: 101 }, (_, i) => `req-${i}`),
        );
    });

    it("a line logged after the destination ended is dropped; the process goes on (attack-42d)", () => {
        const { status, stderr, lines } = runLogging(`
            const log = createLogger("info");
            log.info("before the end");
            setTimeout(() => {
                log[require("pino").symbols.streamSym].end();
                log.info("after the end");
                setTimeout(() => {
                    require("node:fs").writeSync(2, "still running\\n");
                    process.exit(0);
                }, 100);
            }, 50);`);
        assert.equal(status, 0, stderr);
        assert.match(stderr, /still running/);
        assert.deepEqual(
            lines.map((l) => (JSON.parse(l) as { msg: string }).msg),
            ["before the end"],
        );
    });
});
