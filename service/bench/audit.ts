/**
 * `npm run bench:audit`: what recording runs in the audit trail costs the run path. Two api
 * processes share one PostgreSQL, Redis and runner: one as deployed (every run queued and written to
 * the `runs` table in batches), one started with a recorder that records nothing. autocannon drives
 * POST /commands/:name/run on each in interleaved rounds (A B, B A, A B, ...), so both see the same
 * machine load; the figure is the ratio of their throughputs. Connections default to the runner's
 * concurrency (4), so the runner never answers 429.
 * Target: the run figure moves < 10 % (ratio >= 0.90).
 */
import { type ChildProcess, spawn } from "node:child_process";
import * as os from "node:os";
import * as path from "node:path";
import autocannon from "autocannon";
import { Pool } from "pg";
import { freePort, PostgresServer, RedisServer, startFakeLlm, stopAll, waitForUrl } from "../test/support";

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 4);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 4);
const TOKEN = "bench-token-0123456789abcdef";
const RUNNER_TOKEN = "bench-runner-token-0123456789";
const TS_NODE = path.join(__dirname, "..", "node_modules", ".bin", "ts-node");
const SRC = path.join(__dirname, "..", "src");

interface Round {
    requests: number;
    seconds: number;
    p99: number[];
}

async function main(): Promise<void> {
    const children: ChildProcess[] = [];
    try {
        const [pg, redis, llm] = await Promise.all([PostgresServer.start(), RedisServer.start(), startFakeLlm()]);
        const base = { PATH: process.env.PATH, CONFIG_PATH: "/dev/null", LOG_LEVEL: "warn", RUNNER_TOKEN };
        const runnerPort = await freePort();
        children.push(
            spawn(TS_NODE, ["--transpile-only", path.join(SRC, "runner", "server.ts")], {
                stdio: ["ignore", "ignore", "inherit"],
                env: { ...base, RUNNER_PORT: String(runnerPort), METRICS_PORT: String(await freePort()), RUNNER_CONCURRENCY: String(CONNECTIONS) },
            }),
        );
        const api = async (recording: boolean) => {
            const port = await freePort();
            const start = recording
                ? `require(${JSON.stringify(path.join(SRC, "server.ts"))}).main()`
                : `require(${JSON.stringify(path.join(SRC, "server.ts"))}).main({ runs: { record() {}, async flush() {} } })`;
            children.push(
                spawn(TS_NODE, ["--transpile-only", "-e", start], {
                    stdio: ["ignore", "ignore", "inherit"],
                    env: {
                        ...base,
                        POSTGRES_URL: pg.url,
                        REDIS_URL: redis.url,
                        OPENAI_API_KEY: "sk-bench",
                        OPENAI_BASE_URL: llm.url,
                        API_TOKENS: `bench=${TOKEN}`,
                        RUNNER_URL: `http://127.0.0.1:${runnerPort}`,
                        PORT: String(port),
                        METRICS_PORT: String(await freePort()),
                    },
                }),
            );
            await waitForUrl(`http://127.0.0.1:${port}/health`);
            return `http://127.0.0.1:${port}`;
        };
        // One after the other: both migrate the same database.
        const recorded = await api(true);
        const unrecorded = await api(false);
        await waitForUrl(`http://127.0.0.1:${runnerPort}/health`);
        const headers = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" };
        const created = await fetch(`${recorded}/evolve`, { method: "POST", headers, body: JSON.stringify({ description: "add numbers", name: "add" }) });
        if (created.status !== 201) throw new Error(`could not create the benchmark command: ${created.status} ${await created.text()}`);

        const body = JSON.stringify({ args: ["1", "2", "3"] });
        const drive = async (url: string, seconds: number) => {
            const r = await autocannon({ url: `${url}/commands/add/run`, method: "POST", headers, body, connections: CONNECTIONS, duration: seconds });
            // Requests still in flight when autocannon stops would meet the next round's at the runner (429): let them finish.
            await new Promise((resolve) => setTimeout(resolve, 1000));
            if (r.non2xx > 0 || r.errors > 0)
                throw new Error(`${url}: ${r.non2xx} non-2xx answers (${JSON.stringify(r.statusCodeStats)}) and ${r.errors} errors`);
            return r;
        };
        await drive(recorded, 2); // warm-up
        await drive(unrecorded, 2);
        const pool = new Pool({ connectionString: pg.url });
        const rowsBefore = Number((await pool.query<{ n: string }>("SELECT count(*) AS n FROM runs")).rows[0].n);

        const figures: Record<"recorded" | "unrecorded", Round> = {
            recorded: { requests: 0, seconds: 0, p99: [] },
            unrecorded: { requests: 0, seconds: 0, p99: [] },
        };
        for (let round = 0; round < ROUNDS; round++) {
            const order: ("recorded" | "unrecorded")[] = round % 2 === 0 ? ["recorded", "unrecorded"] : ["unrecorded", "recorded"];
            for (const which of order) {
                const r = await drive(which === "recorded" ? recorded : unrecorded, SECONDS);
                figures[which].requests += r.requests.total;
                figures[which].seconds += SECONDS;
                figures[which].p99.push(r.latency.p99);
            }
        }
        await new Promise((r) => setTimeout(r, 500)); // the last batch
        const rows = Number((await pool.query<{ n: string }>("SELECT count(*) AS n FROM runs")).rows[0].n) - rowsBefore;
        await pool.end();

        const rps = (f: Round) => f.requests / f.seconds;
        console.log(
            `\nPOST /commands/:name/run, ${CONNECTIONS} connections, ${ROUNDS} interleaved rounds of ${SECONDS} s each, ${os.cpus().length} cores, node ${process.version}\n`,
        );
        console.log("| api | runs/s | p99 ms per round |");
        console.log("|---|---:|---|");
        console.log(`| recording runs (as deployed) | ${rps(figures.recorded).toFixed(1)} | ${figures.recorded.p99.join(", ")} |`);
        console.log(`| recording nothing | ${rps(figures.unrecorded).toFixed(1)} | ${figures.unrecorded.p99.join(", ")} |`);
        const ratio = rps(figures.recorded) / rps(figures.unrecorded);
        console.log(`\nratio recorded / unrecorded: ${ratio.toFixed(3)} (target >= 0.90: ${ratio >= 0.9 ? "met" : "NOT met"})`);
        console.log(`runs recorded during the measured rounds: ${rows} of ${figures.recorded.requests} answered`);
        // autocannon stops counting with up to CONNECTIONS requests in flight per round, which the api still answers and records.
        if (rows < figures.recorded.requests || rows > figures.recorded.requests + CONNECTIONS * ROUNDS)
            throw new Error(`the audit trail has ${rows} rows for ${figures.recorded.requests} runs`);
        await llm.close();
    } finally {
        for (const c of children) c.kill("SIGTERM");
        await stopAll();
    }
}

main().catch((err: unknown) => {
    console.error(`bench:audit: ${(err as Error).message}`);
    process.exit(1);
});
