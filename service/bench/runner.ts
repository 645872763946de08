/**
 * The runner's benchmark (part of `npm run bench`; `BENCH_ONLY=runner npm run bench` runs only it):
 * a small command through POST /run of one runner process, compiled with tsc and run with node as in
 * the image, side by side in the same run with the previous runner (a worker thread and a vm context
 * per run, bench/legacy-runner.ts) and, with BENCH_BASELINE=<another checkout's service/ directory>,
 * that checkout's runner (a before/after comparison). Each runner is its own process; the load runs
 * here. The runners take turns in BENCH_ROUNDS rounds (default 3) of BENCH_SECONDS (default 5) per
 * row, and each figure is the median over the rounds (the machine is shared: a neighbour's burst hits
 * every runner alike).
 * Rows: one sandbox at 1 connection (p50/p99 from a timed sequential loop, 0.01 ms resolution); one
 * sandbox at 4 connections (saturated: the most one sandbox does; autocannon, 1 ms resolution); the
 * default 2 sandboxes at 4 connections. Every row also gives runs per CPU-second of the runner
 * process (all its threads, /proc/<pid>/stat): what one core would do, whatever the neighbours take.
 * Target: p50 <= 5 ms and >= 200 runs/s with one sandbox on one core.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import * as path from "node:path";
import autocannon from "autocannon";
import { cpuSeconds, freePort, waitForUrl } from "../test/support";

const TOKEN = "bench-runner-token-0123456789";
const COMMAND = "function main(args) {\n  const name = args[0] || 'world';\n  console.log('hello ' + name);\n  return 0;\n}";
const BODY = JSON.stringify({ code: COMMAND, args: ["bench"], timeoutMs: 5000 });
const TS_NODE = path.join(__dirname, "..", "node_modules", ".bin", "ts-node");
const TSC = path.join(__dirname, "..", "node_modules", ".bin", "tsc");
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

interface Figures {
    rps: number;
    p50: number;
    p99: number;
    perCpuSecond: number;
}

interface Target {
    name: string;
    url: string;
    pid: number;
}

const post = (url: string) => fetch(`${url}/run`, { method: "POST", headers: { "content-type": "application/json", "x-runner-token": TOKEN }, body: BODY });

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** One round against one runner: a sequential loop at 1 connection, autocannon above. */
async function measure(t: Target, connections: number, seconds: number): Promise<Figures> {
    const cpuBefore = cpuSeconds(t.pid);
    if (connections > 1) {
        const r = await autocannon({
            url: `${t.url}/run`,
            method: "POST",
            connections,
            headers: { "content-type": "application/json", "x-runner-token": TOKEN },
            body: BODY,
            duration: seconds,
        });
        if (r.non2xx > 0 || r.errors > 0) throw new Error(`${t.name}: ${r.non2xx} non-2xx answers and ${r.errors} errors`);
        return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, perCpuSecond: r.requests.total / (cpuSeconds(t.pid) - cpuBefore) };
    }
    const times: number[] = [];
    const start = performance.now();
    while (performance.now() < start + seconds * 1000) {
        const t0 = performance.now();
        const res = await post(t.url);
        await res.arrayBuffer();
        if (res.status !== 200) throw new Error(`${t.name}: answered ${res.status}`);
        times.push(performance.now() - t0);
    }
    const elapsed = (performance.now() - start) / 1000;
    times.sort((a, b) => a - b);
    return {
        rps: times.length / elapsed,
        p50: percentile(times, 50),
        p99: percentile(times, 99),
        perCpuSecond: times.length / (cpuSeconds(t.pid) - cpuBefore),
    };
}

/** Starts a compiled runner (`<serviceDir>/dist/runner/server.js`, built here) with `sandboxes` workers. */
async function startRunner(serviceDir: string, sandboxes: number, children: ChildProcess[]): Promise<{ url: string; pid: number }> {
    const port = await freePort();
    const child = spawn(process.execPath, [path.join(serviceDir, "dist", "runner", "server.js")], {
        stdio: ["ignore", "ignore", "inherit"],
        env: {
            PATH: process.env.PATH,
            CONFIG_PATH: "/dev/null",
            LOG_LEVEL: "warn",
            RUNNER_TOKEN: TOKEN,
            RUNNER_PORT: String(port),
            METRICS_PORT: String(await freePort()),
            RUNNER_CONCURRENCY: String(sandboxes),
            RUNNER_QUEUE_SIZE: "64",
        },
    });
    children.push(child);
    return { url: `http://127.0.0.1:${port}`, pid: child.pid! };
}

/** Builds and starts the runners, checks each answers the command correctly, measures in rounds, prints a Markdown table. */
export async function benchRunner(seconds: number): Promise<void> {
    const here = path.join(__dirname, "..");
    const baseline = process.env.BENCH_BASELINE ? path.resolve(process.env.BENCH_BASELINE) : undefined;
    for (const dir of baseline ? [here, baseline] : [here]) execFileSync(TSC, ["-p", path.join(dir, "tsconfig.json")], { stdio: "inherit" });
    const children: ChildProcess[] = [];
    const rows: { runner: string; sandboxes: number; connections: number; figures: Figures }[] = [];
    try {
        for (const [sandboxes, connections] of [
            [1, 1],
            [1, 4],
            [2, 4],
        ]) {
            const targets: Target[] = [{ name: "this runner (QuickJS/wasm)", ...(await startRunner(here, sandboxes, children)) }];
            if (baseline) targets.push({ name: `baseline ${baseline}`, ...(await startRunner(baseline, sandboxes, children)) });
            const legacyPort = await freePort();
            const legacy = spawn(TS_NODE, ["--transpile-only", path.join(__dirname, "legacy-runner.ts"), String(legacyPort)], {
                stdio: ["ignore", "ignore", "inherit"],
            });
            children.push(legacy);
            targets.push({ name: "previous runner (worker thread + vm per run)", url: `http://127.0.0.1:${legacyPort}`, pid: legacy.pid! });
            for (const t of targets) {
                await waitForUrl(`${t.url}/health`, 600);
                const result = (await (await post(t.url)).json()) as { exitCode?: number; stdout?: string };
                if (result.exitCode !== 0 || result.stdout !== "hello bench\n") throw new Error(`${t.name} answered ${JSON.stringify(result)}`);
                await measure(t, connections, 2); // warm-up
            }
            const rounds = new Map<Target, Figures[]>(targets.map((t) => [t, []]));
            for (let round = 0; round < ROUNDS; round++) for (const t of targets) rounds.get(t)!.push(await measure(t, connections, seconds));
            for (const t of targets) {
                const all = rounds.get(t)!;
                const figures = {
                    rps: median(all.map((f) => f.rps)),
                    p50: median(all.map((f) => f.p50)),
                    p99: median(all.map((f) => f.p99)),
                    perCpuSecond: median(all.map((f) => f.perCpuSecond)),
                };
                rows.push({ runner: t.name, sandboxes, connections, figures });
            }
            for (const c of children.splice(0)) c.kill("SIGTERM");
        }
        console.log(`\nPOST /run of a small command, ${ROUNDS} rounds of ${seconds} s per row, medians\n`);
        console.log("| runner | sandboxes | connections | runs/s | p50 ms | p99 ms | runs per CPU-second |");
        console.log("|---|---:|---:|---:|---:|---:|---:|");
        const ms = (v: number, c: number) => (c === 1 ? v.toFixed(2) : String(v));
        for (const { runner, sandboxes, connections, figures: f } of rows)
            console.log(
                `| ${runner} | ${sandboxes} | ${connections} | ${Math.round(f.rps)} | ${ms(f.p50, connections)} | ${ms(f.p99, connections)} | ${Math.round(f.perCpuSecond)} |`,
            );
        const one = rows[0].figures;
        const saturated = rows.find((r) => r.sandboxes === 1 && r.connections === 4 && r.runner === rows[0].runner)!.figures;
        const met = one.p50 <= 5 && saturated.rps >= 200 && one.perCpuSecond >= 200;
        console.log(
            `\nTarget (one sandbox: p50 <= 5 ms, >= 200 runs/s, >= 200 runs per CPU-second): ${met ? "met" : "NOT met"} ` +
                `(p50 ${one.p50.toFixed(2)} ms at 1 connection; ${Math.round(saturated.rps)} runs/s saturated; ${Math.round(one.perCpuSecond)} runs per CPU-second)`,
        );
    } finally {
        for (const c of children) c.kill("SIGTERM");
    }
}
