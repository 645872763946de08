/**
 * `npm run bench:render [-- <stack>]` (default prod): how long `npm run render` takes, against the
 * floor of any Pulumi program here, loading @pulumi/pulumi, measured in the same run. Five rounds;
 * each round runs `node -e 'require("@pulumi/pulumi")'` and then the render script exactly as
 * package.json defines it (without npm's own start-up), so a neighbour's load burst hits both alike.
 * Prints the median wall and CPU time of each, peak RSS, resources/s and the ratios.
 *
 * A third row loads @pulumi/pulumi through tools/compile-cache.js (the V8 code cache the render uses
 * too), and the last lines give each render's ratios to it: how much of the gap is loading code.
 *
 * BENCH_BASELINE=<another checkout of this repository, with node_modules> runs that checkout's
 * render script in the same rounds (before/after figures the shared machine's noise cannot fake).
 * BENCH_ROUNDS (default 5).
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ROOT } from "./harness";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
/** Loaded into every measured process (NODE_OPTIONS): reports its CPU time and peak RSS at exit. */
const PROBE = `process.on("exit", () => {
  const u = process.resourceUsage();
  require("node:fs").writeFileSync(process.env.BENCH_PROBE_OUT, JSON.stringify({ cpuS: (u.userCPUTime + u.systemCPUTime) / 1e6, maxRssMb: u.maxRSS / 1024 }));
});`;

interface Sample {
    wallS: number;
    cpuS: number;
    maxRssMb: number;
    stdout: string;
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), "bench-render-"));
const probe = path.join(work, "probe.js");
fs.writeFileSync(probe, PROBE);

function measure(command: string, args: string[], cwd: string): Sample {
    const out = path.join(work, "probe.json");
    fs.rmSync(out, { force: true });
    const started = process.hrtime.bigint();
    const res = spawnSync(command, args, {
        cwd,
        encoding: "utf8",
        // The checkout's own node_modules/.bin first, as npm run would put it.
        env: {
            ...process.env,
            PATH: `${path.join(cwd, "node_modules", ".bin")}:${process.env.PATH}`,
            NODE_OPTIONS: `--require ${probe}`,
            BENCH_PROBE_OUT: out,
        },
    });
    const wallS = Number(process.hrtime.bigint() - started) / 1e9;
    if (res.status !== 0) throw new Error(`${command} ${args.join(" ")} (in ${cwd}) exited ${res.status}: ${res.stderr}`);
    const { cpuS, maxRssMb } = JSON.parse(fs.readFileSync(out, "utf8")) as { cpuS: number; maxRssMb: number };
    return { wallS, cpuS, maxRssMb, stdout: res.stdout };
}

/** `npm run render -- <stack> --out <dir>` in `root`, with the script text from its package.json. */
function renderCommand(root: string, stack: string): [string, string[]] {
    const script = (JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts.render;
    return ["sh", ["-c", `${script} "$@"`, "render", stack, "--out", path.join(work, "out", path.basename(root))]];
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function main(): void {
    const stack = process.argv[2] ?? "prod";
    const targets: { label: string; root: string }[] = [{ label: "render (this checkout)", root: ROOT }];
    if (process.env.BENCH_BASELINE) targets.push({ label: `render (baseline ${process.env.BENCH_BASELINE})`, root: path.resolve(process.env.BENCH_BASELINE) });

    const floor: Sample[] = [];
    // The same load through the V8 code cache every TypeScript entry point here uses (tools/register.js
    // loads tools/compile-cache.js): how much of the ratio is the cache making the SDK's load cheaper.
    const cachedFloor: Sample[] = [];
    const CACHED_FLOOR = [process.execPath, ["-r", path.join(ROOT, "tools", "compile-cache.js"), "-e", 'require("@pulumi/pulumi")']] as const;
    measure(CACHED_FLOOR[0], [...CACHED_FLOOR[1]], ROOT); // warm-up: fills its cache entries
    const renders: Sample[][] = targets.map(() => []);
    measure(...renderCommand(ROOT, stack), ROOT); // warm-up: fills the compile cache and the page cache
    for (let round = 0; round < ROUNDS; round++) {
        floor.push(measure(process.execPath, ["-e", 'require("@pulumi/pulumi")'], ROOT));
        cachedFloor.push(measure(CACHED_FLOOR[0], [...CACHED_FLOOR[1]], ROOT));
        for (const [i, t] of targets.entries()) renders[i].push(measure(...renderCommand(t.root, stack), t.root));
    }
    const resources = Number(/Stack \S+: (\d+) resources/.exec(renders[0][0].stdout)?.[1]);

    console.log(
        `stack ${stack}, ${resources} resources; medians of ${ROUNDS} rounds (ratios: median of the per-round ratios); ${os.cpus().length} cores, node ${process.version}\n`,
    );
    console.log("| run | wall s | CPU s | peak RSS MB | resources/s | wall ratio to loading @pulumi/pulumi | CPU ratio |");
    console.log("|---|---:|---:|---:|---:|---:|---:|");
    const row = (label: string, samples: Sample[], withRatio: boolean) => {
        const wall = median(samples.map((s) => s.wallS));
        const cpu = median(samples.map((s) => s.cpuS));
        const rss = Math.max(...samples.map((s) => s.maxRssMb));
        const perS = withRatio ? (resources / wall).toFixed(0) : "";
        const wallRatio = median(samples.map((s, round) => s.wallS / floor[round].wallS));
        const cpuRatio = median(samples.map((s, round) => s.cpuS / floor[round].cpuS));
        const ratios = withRatio ? `${wallRatio.toFixed(2)} | ${cpuRatio.toFixed(2)}` : " | ";
        console.log(`| ${label} | ${wall.toFixed(2)} | ${cpu.toFixed(2)} | ${rss.toFixed(0)} | ${perS} | ${ratios} |`);
    };
    row("node -e 'require(\"@pulumi/pulumi\")'", floor, false);
    row("the same through tools/compile-cache.js", cachedFloor, false);
    for (const [i, t] of targets.entries()) row(t.label, renders[i], true);
    const toCached = (samples: Sample[], pick: (s: Sample) => number) => median(samples.map((s, round) => pick(s) / pick(cachedFloor[round]))).toFixed(2);
    console.log("\nAgainst loading @pulumi/pulumi through the compile cache:");
    for (const [i, t] of targets.entries()) {
        console.log(`${t.label}: wall ratio ${toCached(renders[i], (s) => s.wallS)}, CPU ratio ${toCached(renders[i], (s) => s.cpuS)}`);
    }
}

try {
    main();
} finally {
    fs.rmSync(work, { recursive: true, force: true });
}
