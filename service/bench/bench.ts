/**
 * `npm run bench`: autocannon against GET /health and a cached GET /commands/:name of the real api
 * process (real PostgreSQL and Redis, started here), side by side with a bare node:http server in
 * the same run. Each server runs in its own process, as in production; autocannon runs here.
 * Prints requests/s, p99 latency and the ratio to bare node:http serving the same bytes (each
 * target is compared with a bare server answering a body of the same size, so the ratio measures
 * the service's overhead, not the load generator's cost of parsing a larger body).
 * Target on 2 cores: cached reads reach at least half of bare node:http throughput with p99 under
 * 20 ms at 50 connections.
 */
import { type ChildProcess, spawn } from "node:child_process";
import * as os from "node:os";
import * as path from "node:path";
import autocannon from "autocannon";
import { freePort, PostgresServer, RedisServer, startFakeLlm, stopAll } from "../test/support";
import { benchRunner } from "./runner";

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const DURATION = Number(process.env.BENCH_SECONDS ?? 10);
const TOKEN = "bench-token-0123456789abcdef";

const BARE_SERVER = `
const body = process.argv[2];
require("node:http").createServer((req, res) => {
  res.writeHead(200, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(body) });
  res.end(body);
}).listen(Number(process.argv[1]), "127.0.0.1");`;

interface Figures {
    name: string;
    rps: number;
    p99: number;
}

async function waitFor(url: string): Promise<void> {
    for (let i = 0; i < 200; i++) {
        if (
            await fetch(url).then(
                (r) => r.ok,
                () => false,
            )
        )
            return;
        await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${url} did not come up`);
}

async function measure(name: string, url: string, headers: Record<string, string> = {}): Promise<Figures> {
    await autocannon({ url, connections: CONNECTIONS, duration: 2, headers }); // warm-up
    const r = await autocannon({ url, connections: CONNECTIONS, duration: DURATION, headers });
    if (r.non2xx > 0 || r.errors > 0) throw new Error(`${name}: ${r.non2xx} non-2xx answers and ${r.errors} errors`);
    return { name, rps: r.requests.average, p99: r.latency.p99 };
}

async function main(): Promise<void> {
    const children: ChildProcess[] = [];
    try {
        const [pg, redis, llm] = await Promise.all([PostgresServer.start(), RedisServer.start(), startFakeLlm()]);
        const apiPort = await freePort();
        children.push(
            spawn(path.join(__dirname, "..", "node_modules", ".bin", "ts-node"), ["--transpile-only", path.join(__dirname, "..", "src", "server.ts")], {
                stdio: ["ignore", "ignore", "inherit"],
                env: {
                    PATH: process.env.PATH,
                    CONFIG_PATH: "/dev/null",
                    LOG_LEVEL: "warn",
                    POSTGRES_URL: pg.url,
                    REDIS_URL: redis.url,
                    OPENAI_API_KEY: "sk-bench",
                    OPENAI_BASE_URL: llm.url,
                    API_TOKENS: TOKEN,
                    PORT: String(apiPort),
                    METRICS_PORT: String(await freePort()),
                },
            }),
        );
        const api = `http://127.0.0.1:${apiPort}`;
        await waitFor(`${api}/health`);
        const auth = { authorization: `Bearer ${TOKEN}` };
        const created = await fetch(`${api}/evolve`, {
            method: "POST",
            headers: { ...auth, "content-type": "application/json" },
            body: JSON.stringify({ description: "greet someone", name: "greet" }),
        });
        if (created.status !== 201) throw new Error(`could not create the benchmark command: ${created.status} ${await created.text()}`);

        // A bare node:http server per target, answering exactly that target's body.
        const bare = async (body: string) => {
            const port = await freePort();
            children.push(spawn(process.execPath, ["-e", BARE_SERVER, String(port), body], { stdio: "ignore" }));
            await waitFor(`http://127.0.0.1:${port}/`);
            return `http://127.0.0.1:${port}/`;
        };
        const targets = [
            { name: "GET /health", url: `${api}/health`, headers: {} },
            { name: "GET /commands/:name (cached)", url: `${api}/commands/greet`, headers: auth },
        ];
        const rows: { target: Figures; bare: Figures }[] = [];
        for (const t of targets) {
            const body = await (await fetch(t.url, { headers: t.headers })).text();
            const bareFigures = await measure(`bare node:http, same ${Buffer.byteLength(body)}-byte body`, await bare(body));
            rows.push({ target: await measure(t.name, t.url, t.headers), bare: bareFigures });
        }
        console.log(`\n${CONNECTIONS} connections, ${DURATION} s per target, ${os.cpus().length} cores, node ${process.version}\n`);
        console.log("| target | requests/s | p99 ms | bare node:http, same body: requests/s | ratio |");
        console.log("|---|---:|---:|---:|---:|");
        for (const r of rows)
            console.log(
                `| ${r.target.name} | ${Math.round(r.target.rps)} | ${r.target.p99} | ${Math.round(r.bare.rps)} | ${(r.target.rps / r.bare.rps).toFixed(2)} |`,
            );
        const read = rows[1];
        const met = read.target.rps / read.bare.rps >= 0.5 && read.target.p99 < 20;
        console.log(`\nTarget (cached reads >= 0.5x bare node:http, p99 < 20 ms): ${met ? "met" : "NOT met"}`);
        await llm.close();
    } finally {
        for (const c of children) c.kill("SIGTERM");
        await stopAll();
    }
}

// BENCH_ONLY=api|runner runs one part; by default both.
const only = process.env.BENCH_ONLY;
(async () => {
    if (only !== "runner") await main();
    if (only !== "api") await benchRunner(DURATION);
})().catch((err: unknown) => {
    console.error(`bench: ${(err as Error).message}`);
    process.exit(1);
});
