/**
 * `npm run bench`: autocannon against the real api process (real PostgreSQL and Redis, started
 * here) at the production log level (`LOG_LEVEL=info`, one JSON line per authenticated request),
 * side by side with a bare node:http server in the same run. Targets: GET /health, a cached
 * GET /commands/:name and a cached POST /evolve (generation answered from Redis, validated, found to
 * be the latest version). Each server runs in its own process, as in production (the api compiled
 * with tsc and run with node, its stdout a pipe read by another process, as a container runtime
 * reads it); autocannon runs here.
 * Prints requests/s, p99 latency and the ratio to bare node:http serving the same bytes (each target
 * is compared with a bare server answering a body of the same size, so the ratio measures the
 * service's overhead, not the load generator's cost of parsing a larger body). The servers take
 * turns in interleaved rounds (the machine is shared: a neighbour's burst hits all of them alike) and
 * each figure is the median over the rounds, the ratio the median of per-round ratios (with their
 * spread, min-max). Each round runs every server twice, unpinned (the scheduler places the load
 * generator and the server anywhere) and pinned (this process, so autocannon, on CPU 0 and the server
 * under test on CPU 1, with `taskset`, alike for the bare server and the api): pinned, the two no longer
 * share a core with each other, so the ratio measures the server rather than how autocannon and the
 * server split two cores (the neighbours' load still lands on both). At the end the api is SIGTERMed
 * and the request lines it wrote are counted: one per authenticated request answered.
 *
 * BENCH_BASELINE=<another checkout's service/ directory> measures that checkout's api too, in the
 * same run against the same bare servers (a before/after comparison that the shared machine's noise
 * cannot fake). BENCH_LOG_LEVEL (default info), BENCH_CONNECTIONS (50), BENCH_ROUNDS (5),
 * BENCH_PIN (both: unpinned and pinned rounds; on; off),
 * BENCH_SECONDS (5 per round), BENCH_TARGET=<part of a target's name> (only the api targets it names),
 * BENCH_PROFILE=<dir> (this checkout's api writes a V8 CPU profile there when it exits),
 * BENCH_NODE_ARGS="<flags>" (extra node flags for this checkout's api: with BENCH_BASELINE=. an A/B of a
 * flag in one run). Per round it also reads the api's event-loop delay and GC pauses from its metrics
 * port, and prints the bare server's p99 beside the api's: what the machine allows at this load.
 * Target on 2 cores: cached reads reach at least 0.6x bare node:http with p99 at most 10 ms at 50
 * connections.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import autocannon from "autocannon";
import { cpuSeconds, freePort, PostgresServer, RedisServer, startFakeLlm, stopAll, waitForUrl } from "../test/support";
import { benchRunner } from "./runner";

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const DURATION = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const TARGET_RATIO = 0.6;
const TARGET_P99_MS = 10;

type Mode = "unpinned" | "pinned";
const ALL_CPUS = `0-${os.cpus().length - 1}`;

/** Whether `taskset` (util-linux) runs here, and the machine has two cores to pin to. */
function canPin(): boolean {
    if (os.cpus().length < 2) return false;
    try {
        execFileSync("taskset", ["-p", String(process.pid)], { stdio: "ignore" });
        return true;
    } catch {
        return false;
    }
}

/** The measuring modes BENCH_PIN asks for (default both), without "pinned" where it cannot be done. */
function modes(): Mode[] {
    const pin = process.env.BENCH_PIN ?? "both";
    if (!["both", "on", "off"].includes(pin)) throw new Error(`BENCH_PIN=${pin}: expected both, on or off`);
    if (pin !== "off" && !canPin()) {
        console.log("BENCH_PIN: taskset is not available or the machine has one core: unpinned rounds only");
        return ["unpinned"];
    }
    return pin === "both" ? ["unpinned", "pinned"] : pin === "on" ? ["pinned"] : ["unpinned"];
}

/** Sets the CPUs of every thread of `pid` (taskset -a). */
function setCpus(pid: number, cpus: string): void {
    execFileSync("taskset", ["-a", "-p", "-c", cpus, String(pid)], { stdio: "ignore" });
}
const LOG_LEVEL = process.env.BENCH_LOG_LEVEL ?? "info";
const TOKEN = "bench-token-0123456789abcdef";
const AUTH = { authorization: `Bearer ${TOKEN}` };
const EVOLVE_BODY = JSON.stringify({ description: "greet someone", name: "greet" });

const BARE_SERVER = `
const body = process.argv[2];
require("node:http").createServer((req, res) => {
  res.writeHead(200, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(body) });
  res.end(body);
}).listen(Number(process.argv[1]), "127.0.0.1");`;

interface Run {
    rps: number;
    p99: number;
    /** Requests answered. */
    answered: number;
    /** Requests sent (those in flight when autocannon stops may be answered too). */
    sent: number;
    /** Requests answered per CPU-second the server process (all its threads) used meanwhile. */
    perCpuSecond: number;
    /** The api's own view of the round (its metrics port): event-loop delay and GC pauses. */
    runtime?: RuntimeStats;
}

interface RuntimeStats {
    /** Event-loop delay over the round (perf_hooks.monitorEventLoopDelay, reset at each scrape), ms. */
    loopP99Ms: number;
    loopMaxMs: number;
    /** GC pauses during the round: how many, and their total in ms. */
    gcPauses: number;
    gcMs: number;
}

/** The api's default metrics: event-loop delay since the last scrape, GC pause totals since start. */
async function scrape(metricsUrl: string): Promise<{ loopP99: number; loopMax: number; gcCount: number; gcSeconds: number }> {
    const text = await (await fetch(metricsUrl)).text();
    const sum = (name: string) =>
        text
            .split("\n")
            .filter((l) => l.startsWith(name))
            .reduce((acc, l) => acc + Number(l.split(" ").pop()), 0);
    return {
        loopP99: sum("nodejs_eventloop_lag_p99_seconds "),
        loopMax: sum("nodejs_eventloop_lag_max_seconds "),
        gcCount: sum("nodejs_gc_duration_seconds_count"),
        gcSeconds: sum("nodejs_gc_duration_seconds_sum"),
    };
}

interface Target {
    name: string;
    path: string;
    method: "GET" | "POST";
    headers: Record<string, string>;
    body?: string;
    /** Whether the api writes a request line for it at info (health and ready log at debug). */
    logged: boolean;
}

const TARGETS: Target[] = [
    { name: "GET /health", path: "/health", method: "GET", headers: {}, logged: false },
    { name: "GET /commands/:name (cached)", path: "/commands/greet", method: "GET", headers: AUTH, logged: true },
    {
        name: "POST /evolve (cached generation)",
        path: "/evolve",
        method: "POST",
        headers: { ...AUTH, "content-type": "application/json" },
        body: EVOLVE_BODY,
        logged: true,
    },
];

async function load(
    name: string,
    server: { url: string; pid: number; metricsUrl?: string },
    t: Pick<Target, "method" | "headers" | "body">,
    duration: number,
): Promise<Run> {
    const before = server.metricsUrl ? await scrape(server.metricsUrl) : undefined; // also resets the event-loop histogram
    const cpuBefore = cpuSeconds(server.pid);
    const r = await autocannon({ url: server.url, connections: CONNECTIONS, method: t.method, headers: t.headers, body: t.body, duration });
    const cpu = cpuSeconds(server.pid) - cpuBefore;
    const after = server.metricsUrl ? await scrape(server.metricsUrl) : undefined;
    if (r.non2xx > 0 || r.errors > 0) throw new Error(`${name}: ${r.non2xx} non-2xx answers and ${r.errors} errors`);
    const runtime =
        before && after
            ? {
                  loopP99Ms: after.loopP99 * 1000,
                  loopMaxMs: after.loopMax * 1000,
                  gcPauses: after.gcCount - before.gcCount,
                  gcMs: (after.gcSeconds - before.gcSeconds) * 1000,
              }
            : undefined;
    return { rps: r.requests.average, p99: r.latency.p99, answered: r.requests.total, sent: r.requests.sent, perCpuSecond: r.requests.total / cpu, runtime };
}

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];

interface Api {
    label: string;
    url: string;
    metricsUrl: string;
    child: ChildProcess;
    logFile: string;
    /** Reads the api's stdout (a pipe) into logFile. */
    sink: ChildProcess;
    /** Authenticated requests answered / sent: each answered one has written a request line. */
    logged: { answered: number; sent: number };
}

/** Compiles `serviceDir`'s src with tsc and starts its api with node, stdout a pipe into `cat > api.log`. */
async function startApi(label: string, serviceDir: string, env: NodeJS.ProcessEnv, children: ChildProcess[], nodeArgs: string[] = []): Promise<Api> {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "cli-bench-api-"));
    const out = path.join(work, "dist");
    execFileSync(path.join(__dirname, "..", "node_modules", ".bin", "tsc"), ["-p", path.join(serviceDir, "tsconfig.json"), "--outDir", out], {
        stdio: "inherit",
    });
    const port = await freePort();
    const metricsPort = await freePort();
    const logFile = path.join(work, "api.log");
    const sink = spawn("sh", ["-c", 'exec cat > "$0"', logFile], { stdio: ["pipe", "ignore", "inherit"] });
    const child = spawn(process.execPath, [...nodeArgs, path.join(out, "server.js")], {
        stdio: ["ignore", sink.stdin, "inherit"],
        env: { ...env, NODE_PATH: path.join(serviceDir, "node_modules"), PORT: String(port), METRICS_PORT: String(metricsPort) },
    });
    sink.stdin!.destroy(); // the api holds the pipe's write end now
    children.push(sink);
    children.push(child);
    const url = `http://127.0.0.1:${port}`;
    await waitForUrl(`${url}/health`);
    return { label, url, metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`, child, logFile, sink, logged: { answered: 0, sent: 0 } };
}

/** SIGTERMs the api, waits for it to exit and for its log pipe to be drained, and counts the request lines it wrote. */
async function stopAndCountLines(api: Api): Promise<number> {
    const exited = new Promise<number | null>((resolve) => api.child.once("exit", (code) => resolve(code)));
    const drained = new Promise((resolve) => api.sink.once("exit", resolve));
    api.child.kill("SIGTERM");
    const code = await exited;
    if (code !== 0) throw new Error(`${api.label}: exited ${code} after SIGTERM`);
    await drained;
    let lines = 0;
    for (const line of fs.readFileSync(api.logFile, "utf8").split("\n"))
        if (line.includes('"msg":"request"') && (JSON.parse(line) as { msg: string }).msg === "request") lines++;
    return lines;
}

async function main(): Promise<void> {
    const children: ChildProcess[] = [];
    const MODES = modes();
    const pinning = MODES.includes("pinned");
    const loadBefore = os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(" ");
    try {
        const [pg, redis, llm] = await Promise.all([PostgresServer.start(), RedisServer.start(), startFakeLlm()]);
        const env: NodeJS.ProcessEnv = {
            PATH: process.env.PATH,
            CONFIG_PATH: "/dev/null",
            LOG_LEVEL,
            POSTGRES_URL: pg.url,
            REDIS_URL: redis.url,
            OPENAI_API_KEY: "sk-bench",
            OPENAI_BASE_URL: llm.url,
            API_TOKENS: TOKEN,
        };
        const profile = process.env.BENCH_PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${path.resolve(process.env.BENCH_PROFILE)}`] : [];
        const extra = (process.env.BENCH_NODE_ARGS ?? "").split(" ").filter(Boolean);
        const apis = [
            await startApi(`this checkout${extra.length ? ` (${extra.join(" ")})` : ""}`, path.join(__dirname, ".."), env, children, [...extra, ...profile]),
        ];
        if (process.env.BENCH_BASELINE)
            apis.push(await startApi(`baseline ${process.env.BENCH_BASELINE}`, path.resolve(process.env.BENCH_BASELINE), env, children));

        const created = await fetch(`${apis[0].url}/evolve`, { method: "POST", headers: TARGETS[2].headers, body: EVOLVE_BODY });
        if (created.status !== 201) throw new Error(`could not create the benchmark command: ${created.status} ${await created.text()}`);
        apis[0].logged.answered++;
        apis[0].logged.sent++;

        // A bare node:http server per target, answering exactly that target's body.
        const bare = async (body: string) => {
            const port = await freePort();
            const child = spawn(process.execPath, ["-e", BARE_SERVER, String(port), body], { stdio: "ignore" });
            children.push(child);
            await waitForUrl(`http://127.0.0.1:${port}/`);
            return { url: `http://127.0.0.1:${port}/`, pid: child.pid! };
        };
        const rows: {
            target: string;
            api: string;
            mode: Mode;
            rps: number;
            p99: number;
            bareRps: number;
            bareP99: number;
            ratio: number;
            ratioMin: number;
            ratioMax: number;
            /** Rounds in which both targets were met (ratio and p99). */
            metRounds: number;
            perCpuSecond: number;
            barePerCpuSecond: number;
            cpuRatio: number;
            runtime: RuntimeStats;
        }[] = [];
        for (const t of TARGETS.filter((x) => x.name.includes(process.env.BENCH_TARGET ?? ""))) {
            const sample = await fetch(`${apis[0].url}${t.path}`, { method: t.method, headers: t.headers, body: t.body });
            if (!sample.ok) throw new Error(`${t.name}: ${sample.status} ${await sample.text()}`);
            if (t.logged) {
                apis[0].logged.answered++;
                apis[0].logged.sent++;
            }
            const body = await sample.text();
            const servers = [
                { label: `bare node:http, same ${Buffer.byteLength(body)}-byte body`, ...(await bare(body)), api: undefined },
                ...apis.map((api) => ({ label: `${t.name} (${api.label})`, url: `${api.url}${t.path}`, pid: api.child.pid!, metricsUrl: api.metricsUrl, api })),
            ];
            // Rounds interleave the servers (in a rotating order) and the modes, so a neighbour's load
            // burst hits all of them alike.
            const runs = new Map(MODES.map((mode) => [mode, servers.map((): Run[] => [])]));
            for (let round = 0; round <= ROUNDS; round++)
                for (const mode of MODES)
                    for (let k = 0; k < servers.length; k++) {
                        const i = (k + round) % servers.length;
                        const server = servers[i];
                        if (mode === "pinned") {
                            setCpus(process.pid, "0");
                            setCpus(server.pid, "1");
                        } else if (pinning) {
                            setCpus(process.pid, ALL_CPUS);
                            setCpus(server.pid, ALL_CPUS);
                        }
                        const run = await load(server.label, server, t, round === 0 ? 2 : DURATION); // round 0 warms up
                        if (server.api && t.logged) {
                            server.api.logged.answered += run.answered;
                            server.api.logged.sent += run.sent;
                        }
                        if (round > 0) runs.get(mode)![i].push(run);
                    }
            if (pinning) for (const server of servers) setCpus(server.pid, ALL_CPUS);
            if (pinning) setCpus(process.pid, ALL_CPUS);
            for (const mode of MODES) {
                const [bareRuns, ...apiRuns] = runs.get(mode)!;
                for (const [i, api] of apis.entries()) {
                    const own = apiRuns[i];
                    const ratios = own.map((r, round) => r.rps / bareRuns[round].rps);
                    rows.push({
                        target: t.name,
                        api: api.label,
                        mode,
                        rps: median(own.map((r) => r.rps)),
                        p99: median(own.map((r) => r.p99)),
                        bareRps: median(bareRuns.map((r) => r.rps)),
                        bareP99: median(bareRuns.map((r) => r.p99)),
                        ratio: median(ratios),
                        ratioMin: Math.min(...ratios),
                        ratioMax: Math.max(...ratios),
                        metRounds: own.filter((r, round) => ratios[round] >= TARGET_RATIO && r.p99 <= TARGET_P99_MS).length,
                        perCpuSecond: median(own.map((r) => r.perCpuSecond)),
                        barePerCpuSecond: median(bareRuns.map((r) => r.perCpuSecond)),
                        cpuRatio: median(own.map((r, round) => r.perCpuSecond / bareRuns[round].perCpuSecond)),
                        runtime: {
                            loopP99Ms: median(own.map((r) => r.runtime!.loopP99Ms)),
                            loopMaxMs: median(own.map((r) => r.runtime!.loopMaxMs)),
                            gcPauses: median(own.map((r) => r.runtime!.gcPauses)),
                            gcMs: median(own.map((r) => r.runtime!.gcMs)),
                        },
                    });
                }
            }
        }
        const load1 = os
            .loadavg()
            .map((l) => l.toFixed(1))
            .join(" ");
        console.log(
            `\n${CONNECTIONS} connections, LOG_LEVEL=${LOG_LEVEL}, ${os.cpus().length} cores, node ${process.version}; load average ${loadBefore} at the start, ${load1} at the end; ` +
                `medians of ${ROUNDS} interleaved ${DURATION} s rounds after a 2 s warm-up; ratio = median of the per-round ratios (min-max over the rounds); ` +
                `pinned = autocannon on CPU 0, the server on CPU 1 (taskset); ` +
                `per CPU-s = requests answered per CPU-second of the server process (steady under a neighbour's load, unlike requests/s); ` +
                `met = rounds with ratio >= ${TARGET_RATIO} and p99 <= ${TARGET_P99_MS} ms\n`,
        );
        console.log(
            "| target | api | cores | requests/s | p99 ms | bare: requests/s | bare: p99 ms | ratio | ratio min-max | met | per CPU-s | bare: per CPU-s | CPU ratio |",
        );
        console.log("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        for (const r of rows)
            console.log(
                `| ${r.target} | ${r.api} | ${r.mode} | ${Math.round(r.rps)} | ${r.p99} | ${Math.round(r.bareRps)} | ${r.bareP99} | ${r.ratio.toFixed(2)} | ` +
                    `${r.ratioMin.toFixed(2)}-${r.ratioMax.toFixed(2)} | ${r.metRounds}/${ROUNDS} | ${Math.round(r.perCpuSecond)} | ${Math.round(r.barePerCpuSecond)} | ${r.cpuRatio.toFixed(2)} |`,
            );
        console.log(
            `\nInside the api during the same rounds (its metrics port; medians per ${DURATION} s round): event-loop delay ` +
                "(monitorEventLoopDelay, 10 ms resolution) and GC pauses\n",
        );
        console.log("| target | api | cores | event-loop delay p99 ms | max ms | GC pauses | GC ms |");
        console.log("|---|---|---|---:|---:|---:|---:|");
        for (const r of rows)
            console.log(
                `| ${r.target} | ${r.api} | ${r.mode} | ${r.runtime.loopP99Ms.toFixed(1)} | ${r.runtime.loopMaxMs.toFixed(1)} | ${r.runtime.gcPauses} | ${r.runtime.gcMs.toFixed(0)} |`,
            );
        console.log("");
        for (const api of apis) {
            const lines = await stopAndCountLines(api);
            const { answered, sent } = api.logged;
            console.log(`${api.label}: ${lines} request lines written after SIGTERM for ${answered} authenticated requests answered (${sent} sent)`);
            if (LOG_LEVEL === "info" && (lines < answered || lines > sent)) throw new Error(`${api.label}: request lines lost or duplicated`);
        }
        for (const read of rows.filter((r) => r.target === TARGETS[1].name && r.api === apis[0].label))
            console.log(
                `\nTarget (cached reads >= ${TARGET_RATIO}x bare node:http, p99 <= ${TARGET_P99_MS} ms, this checkout, ${read.mode}): ` +
                    `${read.ratio >= TARGET_RATIO && read.p99 <= TARGET_P99_MS ? "met" : "NOT met"} on the medians, in ${read.metRounds} of ${ROUNDS} rounds ` +
                    `(requests/s ratio ${read.ratio.toFixed(2)}, ${read.ratioMin.toFixed(2)}-${read.ratioMax.toFixed(2)}; CPU ratio ${read.cpuRatio.toFixed(2)}; p99 ${read.p99} ms)`,
            );
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
    if (only !== "api") await benchRunner(Number(process.env.BENCH_SECONDS ?? 5));
})().catch((err: unknown) => {
    console.error(`bench: ${(err as Error).message}`);
    process.exit(1);
});
