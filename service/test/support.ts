/**
 * Real servers for the service tests: PostgreSQL (initdb + pg_ctl in a temp dir, as the postgres
 * user when we are root) and Redis (redis-server) on free local ports, and a fake
 * OpenAI-compatible LLM. Everything started here is stopped by `stopAll()`.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";

/** Resolves once `url` answers 2xx; throws after `tries` × 100 ms. */
export async function waitForUrl(url: string, tries = 300): Promise<void> {
    for (let i = 0; i < tries; i++) {
        const ok = await fetch(url).then(
            (r) => r.ok,
            () => false,
        );
        if (ok) return;
        await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${url} did not come up`);
}

const CLOCK_TICKS = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }));

/** CPU time (user + system, every thread) a process has used, from /proc/<pid>/stat (the benchmarks' per-CPU-second figures). */
export function cpuSeconds(pid: number): number {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS; // utime, stime (fields 14 and 15)
}

export async function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const srv = net.createServer();
        srv.once("error", reject);
        srv.listen(0, "127.0.0.1", () => {
            const port = (srv.address() as net.AddressInfo).port;
            srv.close(() => resolve(port));
        });
    });
}

function pgBinDir(): string {
    const base = "/usr/lib/postgresql";
    const versions = fs.existsSync(base) ? fs.readdirSync(base).sort((a, b) => Number(b) - Number(a)) : [];
    for (const v of versions) if (fs.existsSync(path.join(base, v, "bin", "pg_ctl"))) return path.join(base, v, "bin");
    throw new Error("PostgreSQL server binaries not found under /usr/lib/postgresql (apt-get install postgresql)");
}

const isRoot = process.getuid?.() === 0;

function asPostgres(cmd: string, args: string[]): void {
    if (isRoot) execFileSync("runuser", ["-u", "postgres", "--", cmd, ...args], { stdio: "pipe" });
    else execFileSync(cmd, args, { stdio: "pipe" });
}

export class PostgresServer {
    private constructor(
        readonly dir: string,
        readonly port: number,
    ) {}

    get url(): string {
        return `postgres://postgres@127.0.0.1:${this.port}/cli_platform`;
    }

    static async start(): Promise<PostgresServer> {
        const bin = pgBinDir();
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cli-pg-"));
        if (isRoot) execFileSync("chown", ["postgres:postgres", dir]);
        const port = await freePort();
        asPostgres(path.join(bin, "initdb"), ["-D", path.join(dir, "data"), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"]);
        const server = new PostgresServer(dir, port);
        server.startAgain();
        asPostgres(path.join(bin, "createdb"), ["-h", "127.0.0.1", "-p", String(port), "-U", "postgres", "cli_platform"]);
        running.add(server);
        return server;
    }

    /** Starts (again) the cluster in this server's directory. */
    startAgain(): void {
        asPostgres(path.join(pgBinDir(), "pg_ctl"), [
            "-D",
            path.join(this.dir, "data"),
            "-l",
            path.join(this.dir, "log"),
            "-w",
            "-o",
            `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100`,
            "start",
        ]);
    }

    stop(): void {
        asPostgres(path.join(pgBinDir(), "pg_ctl"), ["-D", path.join(this.dir, "data"), "-m", "immediate", "-w", "stop"]);
    }

    destroy(): void {
        try {
            this.stop();
        } catch {
            /* already stopped */
        }
        fs.rmSync(this.dir, { recursive: true, force: true });
        running.delete(this);
    }
}

export class RedisServer {
    private process?: ChildProcess;
    private constructor(readonly port: number) {}

    get url(): string {
        return `redis://127.0.0.1:${this.port}`;
    }

    static async start(): Promise<RedisServer> {
        const server = new RedisServer(await freePort());
        await server.startAgain();
        running.add(server);
        return server;
    }

    async startAgain(): Promise<void> {
        this.process = spawn("redis-server", ["--port", String(this.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
        const until = Date.now() + 10_000;
        while (Date.now() < until) {
            if (await canConnect(this.port)) return;
            await new Promise((r) => setTimeout(r, 50));
        }
        throw new Error("redis-server did not start (apt-get install redis-server)");
    }

    async stop(): Promise<void> {
        const p = this.process;
        if (!p || p.exitCode !== null) return;
        await new Promise<void>((resolve) => {
            p.once("exit", () => resolve());
            p.kill("SIGKILL");
        });
    }

    destroy(): Promise<void> {
        running.delete(this);
        return this.stop();
    }
}

function canConnect(port: number): Promise<boolean> {
    return new Promise((resolve) => {
        const s = net.connect(port, "127.0.0.1");
        s.once("connect", () => {
            s.destroy();
            resolve(true);
        });
        s.once("error", () => resolve(false));
    });
}

const running = new Set<{ destroy(): unknown }>();

export async function stopAll(): Promise<void> {
    for (const s of [...running]) await s.destroy();
}

/** Command implementations the fake LLM hands out, keyed by a word in the description. */
export const FAKE_CODE: Record<string, string> = {
    greet: "function main(args) {\n  console.log('hello ' + (args[0] || 'world'));\n  return 0;\n}",
    add: "function main(args) {\n  const sum = args.map(Number).reduce((a, b) => a + b, 0);\n  console.log(String(sum));\n  return 0;\n}",
    fail: "function main() {\n  console.error('nope');\n  return 3;\n}",
    spin: "function main() {\n  while (true) {}\n}",
    hog: "function main() {\n  const a = [];\n  while (true) a.push(new Array(1e6).fill(7));\n}",
    evil: "const fs = require('fs');\nfunction main() {\n  return fs.readFileSync('/etc/passwd', 'utf8');\n}",
    escape: "function main() {\n  return this.constructor.constructor('return process')().env;\n}",
    fenced: "```javascript\nfunction main() {\n  console.log('fenced');\n  return 0;\n}\n```",
};

export interface FakeLlm {
    url: string;
    calls: { model: string; temperature: number; messages: { role: string; content: string }[]; authorization?: string }[];
    /** "ok" answers from FAKE_CODE; "slow" waits delayMs first; "error" answers 500. */
    mode: "ok" | "slow" | "error";
    delayMs: number;
    close(): Promise<void>;
}

export async function startFakeLlm(): Promise<FakeLlm> {
    const llm: FakeLlm = {
        url: "",
        calls: [],
        mode: "ok",
        delayMs: 0,
        close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
    const server = http.createServer((req, res) => {
        let raw = "";
        req.on("data", (c) => (raw += c));
        req.on("end", () => {
            const body = JSON.parse(raw) as FakeLlm["calls"][number];
            llm.calls.push({ ...body, authorization: req.headers.authorization });
            const answer = () => {
                if (llm.mode === "error") {
                    res.writeHead(500, { "content-type": "application/json" });
                    res.end(JSON.stringify({ error: { message: "upstream exploded" } }));
                    return;
                }
                const user = body.messages.find((m) => m.role === "user")?.content ?? "";
                const what = (user.split("What it does:")[1] ?? user).toLowerCase();
                const word = Object.keys(FAKE_CODE).find((w) => what.includes(w)) ?? "greet";
                res.writeHead(200, { "content-type": "application/json" });
                res.end(
                    JSON.stringify({
                        id: "chatcmpl-fake",
                        object: "chat.completion",
                        choices: [{ index: 0, message: { role: "assistant", content: FAKE_CODE[word] }, finish_reason: "stop" }],
                    }),
                );
            };
            if (llm.mode === "slow") setTimeout(answer, llm.delayMs);
            else answer();
        });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
    llm.url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/v1`;
    server.unref();
    return llm;
}
