/**
 * The runner's benchmark (part of `npm run bench`; `BENCH_ONLY=runner npm run bench` runs only it):
 * a small command through POST /run of one runner process, this runner (QuickJS/wasm, a pool of
 * warm engines) side by side with the previous one (a worker thread and a vm context per run,
 * bench/legacy-runner.ts) in the same run. Each runner is its own process; autocannon runs here.
 * Prints runs/s (autocannon) and p50/p99 latency at 1 connection (a timed sequential loop, 0.1 ms
 * resolution) and at 4 connections against 4 sandboxes (autocannon, 1 ms resolution).
 * Target: p50 <= 5 ms and >= 200 runs/s with one sandbox (one core busy running commands).
 */
import { type ChildProcess, spawn } from "node:child_process";
import * as path from "node:path";
import autocannon from "autocannon";
import { freePort, waitForUrl } from "../test/support";

const TOKEN = "bench-runner-token-0123456789";
const COMMAND = "function main(args) {\n  const name = args[0] || 'world';\n  console.log('hello ' + name);\n  return 0;\n}";
const BODY = JSON.stringify({ code: COMMAND, args: ["bench"], timeoutMs: 5000 });
const TS_NODE = path.join(__dirname, "..", "node_modules", ".bin", "ts-node");

interface Row {
    runner: string;
    connections: number;
    rps: number;
    p50: number;
    p99: number;
}

const post = (url: string) => fetch(`${url}/run`, { method: "POST", headers: { "content-type": "application/json", "x-runner-token": TOKEN }, body: BODY });

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];

async function measure(runner: string, url: string, connections: number, seconds: number): Promise<Row> {
    const options = {
        url: `${url}/run`,
        method: "POST" as const,
        connections,
        headers: { "content-type": "application/json", "x-runner-token": TOKEN },
        body: BODY,
    };
    await autocannon({ ...options, duration: 2 }); // warm-up
    const r = await autocannon({ ...options, duration: seconds });
    if (r.non2xx > 0 || r.errors > 0) throw new Error(`${runner}: ${r.non2xx} non-2xx answers and ${r.errors} errors`);
    if (connections > 1) return { runner, connections, rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99 };
    // One connection: exact latencies from a sequential loop.
    const times: number[] = [];
    const end = performance.now() + seconds * 1000;
    while (performance.now() < end) {
        const t = performance.now();
        const res = await post(url);
        await res.arrayBuffer();
        if (res.status !== 200) throw new Error(`${runner}: answered ${res.status}`);
        times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    return { runner, connections, rps: r.requests.average, p50: percentile(times, 50), p99: percentile(times, 99) };
}

/** Starts both runners, checks each answers the command correctly, measures, prints a Markdown table. */
export async function benchRunner(seconds: number): Promise<void> {
    const children: ChildProcess[] = [];
    try {
        const rows: Row[] = [];
        for (const sandboxes of [1, 4]) {
            const [newPort, oldPort] = [await freePort(), await freePort()];
            children.push(
                spawn(TS_NODE, ["--transpile-only", path.join(__dirname, "..", "src", "runner", "server.ts")], {
                    stdio: ["ignore", "ignore", "inherit"],
                    env: {
                        PATH: process.env.PATH,
                        CONFIG_PATH: "/dev/null",
                        LOG_LEVEL: "warn",
                        RUNNER_TOKEN: TOKEN,
                        RUNNER_PORT: String(newPort),
                        METRICS_PORT: String(await freePort()),
                        RUNNER_CONCURRENCY: String(sandboxes),
                        RUNNER_QUEUE_SIZE: "64",
                    },
                }),
                spawn(TS_NODE, ["--transpile-only", path.join(__dirname, "legacy-runner.ts"), String(oldPort)], { stdio: ["ignore", "ignore", "inherit"] }),
            );
            const targets = [
                { name: `QuickJS/wasm pool (this runner, ${sandboxes} sandbox${sandboxes > 1 ? "es" : ""})`, url: `http://127.0.0.1:${newPort}` },
                { name: "worker thread + vm per run (previous runner)", url: `http://127.0.0.1:${oldPort}` },
            ];
            for (const t of targets) {
                await waitForUrl(`${t.url}/health`, 600);
                const result = (await (await post(t.url)).json()) as { exitCode?: number; stdout?: string };
                if (result.exitCode !== 0 || result.stdout !== "hello bench\n") throw new Error(`${t.name} answered ${JSON.stringify(result)}`);
            }
            for (const t of targets) rows.push(await measure(t.name, t.url, sandboxes, seconds));
            for (const c of children.splice(0)) c.kill("SIGTERM");
        }
        console.log(`\nPOST /run of a small command, ${seconds} s per row\n`);
        console.log("| runner | connections | runs/s | p50 ms | p99 ms |");
        console.log("|---|---:|---:|---:|---:|");
        const ms = (v: number, c: number) => (c === 1 ? v.toFixed(1) : String(v));
        for (const r of rows)
            console.log(`| ${r.runner} | ${r.connections} | ${Math.round(r.rps)} | ${ms(r.p50, r.connections)} | ${ms(r.p99, r.connections)} |`);
        for (let i = 0; i < rows.length; i += 2) {
            const [n, o] = [rows[i], rows[i + 1]];
            const p50 = n.p50 > 0 ? `p50 ${(o.p50 / n.p50).toFixed(1)}x lower` : "p50 under autocannon's 1 ms resolution";
            console.log(`${n.connections} connection(s): ${(n.rps / o.rps).toFixed(1)}x the previous runner's runs/s, ${p50}`);
        }
        const one = rows[0];
        console.log(`Target (one sandbox: p50 <= 5 ms, >= 200 runs/s): ${one.p50 <= 5 && one.rps >= 200 ? "met" : "NOT met"}`);
    } finally {
        for (const c of children) c.kill("SIGTERM");
    }
}
