/**
 * `npm run bench:runner-memory`: the runner's peak memory (VmHWM of the process, /proc/<pid>/status)
 * under the memory-hungry loads its budget (`runnerMemoryBudgetMib()`, service/README.md "Runner
 * memory budget") has to cover, run against the compiled runner with its defaults (2 sandboxes, queue
 * 16). With BENCH_BASELINE=<another checkout's service/ directory> that checkout's runner takes the
 * same loads afterwards (a before/after comparison). Prints VmHWM and VmRSS, MiB, after each load.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { freePort, waitForUrl } from "../test/support";

const TOKEN = "bench-runner-token-0123456789";
const TSC = path.join(__dirname, "..", "node_modules", ".bin", "tsc");

const LOADS: { name: string; code: string; runs: number; atOnce: number }[] = [
    {
        name: "attack-14 F3: 100 engine faults after filling 48 MiB, 4 at a time",
        code: "function main() { const k = []; try { for (let i = 0; i < 48; i++) k.push(new Uint8Array(1 << 20).fill(i + 1)) } catch (e) {} return eval('('.repeat(200000)) }",
        runs: 100,
        atOnce: 4,
    },
    {
        name: "60 runs filling the engine to its limit, 4 at a time",
        code: "function main() { const k = []; for (;;) k.push(new Uint8Array(1 << 20).fill(7)) }",
        runs: 60,
        atOnce: 4,
    },
    {
        name: "120 runs touching 44 MiB, 4 at a time",
        code: "function main() { const k = []; for (let i = 0; i < 44; i++) k.push(new Uint8Array(1 << 20).fill(1)); return 0 }",
        runs: 120,
        atOnce: 4,
    },
    {
        name: "36 runs filling the engine, 18 at a time",
        code: "function main() { const k = []; for (;;) k.push(new Uint8Array(1 << 20).fill(7)) }",
        runs: 36,
        atOnce: 18,
    },
    {
        name: "8 runs of 8 x 256 MiB typed arrays, 4 at a time",
        code: "function main() { const keep = []; for (let i = 0; i < 8; i++) keep.push(new Uint8Array(256 * 1024 * 1024).fill(1)); return keep.length }",
        runs: 8,
        atOnce: 4,
    },
    { name: "2000 small runs, 2 at a time", code: "function main(a) { return 'x' + a.length }", runs: 2000, atOnce: 2 },
];

const mib = (pid: number, key: string) => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))![1]) / 1024;

async function measure(label: string, serviceDir: string): Promise<void> {
    execFileSync(TSC, ["-p", path.join(serviceDir, "tsconfig.json")], { stdio: "inherit" });
    const port = await freePort();
    const child: ChildProcess = spawn(process.execPath, [path.join(serviceDir, "dist", "runner", "server.js")], {
        stdio: ["ignore", "ignore", "inherit"],
        env: {
            PATH: process.env.PATH,
            CONFIG_PATH: "/dev/null",
            LOG_LEVEL: "silent",
            RUNNER_TOKEN: TOKEN,
            RUNNER_PORT: String(port),
            METRICS_PORT: String(await freePort()),
        },
    });
    try {
        const url = `http://127.0.0.1:${port}`;
        await waitForUrl(`${url}/health`, 600);
        /** One run, retried after a 429 (the queue is part of the runner, not of this load). */
        const run = async (code: string): Promise<{ exitCode: number; killed?: string }> => {
            for (;;) {
                const res = await fetch(`${url}/run`, {
                    method: "POST",
                    headers: { "content-type": "application/json", "x-runner-token": TOKEN },
                    body: JSON.stringify({ code, args: [], timeoutMs: 5000 }),
                });
                if (res.status !== 429) return (await res.json()) as { exitCode: number; killed?: string };
                await new Promise((resolve) => setTimeout(resolve, 50));
            }
        };
        for (let i = 0; i < 4; i++) await run("function main() {}");
        const pid = child.pid!;
        const show = (what: string) => console.log(`| ${label} | ${what} | ${mib(pid, "VmHWM").toFixed(0)} | ${mib(pid, "VmRSS").toFixed(0)} |`);
        show("idle, after 4 small runs");
        for (const load of LOADS) {
            for (let i = 0; i < load.runs; i += load.atOnce)
                await Promise.all(Array.from({ length: Math.min(load.atOnce, load.runs - i) }, () => run(load.code)));
            show(load.name);
        }
    } finally {
        child.kill("SIGKILL");
    }
}

(async () => {
    console.log("| runner | after | VmHWM MiB | VmRSS MiB |\n|---|---|---:|---:|");
    await measure("this checkout", path.join(__dirname, ".."));
    if (process.env.BENCH_BASELINE) await measure(`baseline ${process.env.BENCH_BASELINE}`, path.resolve(process.env.BENCH_BASELINE));
})().catch((err: unknown) => {
    console.error(`bench:runner-memory: ${(err as Error).message}`);
    process.exit(1);
});
