/**
 * The runner the adversarial suite attacks: a real runner process (src/runner/server.ts, compiled,
 * as deployed) whose environment holds RUNNER_TOKEN and a canary secret, 2 sandboxes and a queue of
 * 2; and what every attack must leave behind (assertContained). Used by the adversarial-*.test.ts files.
 */
import * as assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { freePort } from "./support";

export const TOKEN = "adversarial-runner-token-0123456789";
export const CANARY = "canary-secret-value-9f8e7d6c5b4a";
export const TIMEOUT_MS = 3000;

export interface RunAnswer {
    exitCode: number;
    stdout: string;
    stderr: string;
    durationMs: number;
    killed?: string;
    truncated: boolean;
}

/**
 * Tries to turn a candidate host Function into the host's process: read the secrets, write a file,
 * spawn a process. Prints what it got; in a sound sandbox every attempt throws inside the guest.
 */
export const PAYLOAD = `
function pwn(F, marker) {
  try {
    const proc = F("return process")();
    const req = proc.getBuiltinModule || (proc.mainModule && proc.mainModule.require.bind(proc.mainModule));
    const out = "TOKEN=" + proc.env.RUNNER_TOKEN + " CANARY=" + proc.env.CANARY_SECRET;
    req("fs").writeFileSync(marker, out);
    req("child_process").execSync("id > " + marker + ".id");
    console.log(out);
    return out;
  } catch (e) {
    console.log("blocked: " + (e && e.message));
  }
}
`;

/** Compiled once per test process (the runner is started from dist/, as deployed). */
let compiled = false;

/** Starts a runner for the enclosing describe block (before/after hooks) and returns the ways to talk to it. */
export function attackedRunner() {
    let child: ChildProcess;
    let url: string;
    let dir: string;
    let marker: string;

    const post = async (code: string, args: string[] = [], timeoutMs = TIMEOUT_MS) => {
        const res = await fetch(`${url}/run`, {
            method: "POST",
            headers: { "content-type": "application/json", "x-runner-token": TOKEN },
            body: JSON.stringify({ code, args, timeoutMs }),
        });
        return { status: res.status, retryAfter: res.headers.get("retry-after"), body: (await res.json()) as RunAnswer & { error?: { code: string } } };
    };
    const run = async (code: string, args: string[] = [], timeoutMs = TIMEOUT_MS): Promise<RunAnswer> => {
        const r = await post(code, args, timeoutMs);
        assert.equal(r.status, 200, JSON.stringify(r.body));
        return r.body;
    };
    const health = async () => (await fetch(`${url}/health`)).status;
    /** VmHWM (peak RSS) and VmRSS of the runner process, MiB. */
    const memory = () => {
        const status = fs.readFileSync(`/proc/${child.pid}/status`, "utf8");
        const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(status)![1]);
        return { peak: kb("VmHWM") / 1024, now: kb("VmRSS") / 1024 };
    };

    /** The outcome every attack must leave: a well-typed answer, no secret, no file, the runner alive. */
    const assertContained = async (r: RunAnswer) => {
        assert.ok(Number.isInteger(r.exitCode) && r.exitCode >= 0 && r.exitCode <= 255, `exitCode ${JSON.stringify(r.exitCode)}`);
        assert.equal(typeof r.stdout, "string");
        assert.equal(typeof r.stderr, "string");
        assert.equal(typeof r.truncated, "boolean");
        assert.equal(typeof r.durationMs, "number");
        assert.ok(r.killed === undefined || r.killed === "timeout" || r.killed === "memory", String(r.killed));
        assert.deepEqual(
            Object.keys(r).filter((k) => !["exitCode", "stdout", "stderr", "durationMs", "killed", "truncated"].includes(k)),
            [],
        );
        for (const secret of [TOKEN, CANARY]) assert.ok(!`${r.stdout}${r.stderr}`.includes(secret), "a secret of the runner leaked");
        assert.ok(!/uid=\d+/.test(r.stdout + r.stderr), "a process was spawned");
        assert.deepEqual(fs.readdirSync(dir), [], "the command wrote a file");
        assert.equal(await health(), 200);
    };

    /** Runs an attack while a normal command is in flight; the normal one must complete intact. */
    const attack = async (code: string, timeoutMs = TIMEOUT_MS) => {
        const inFlight = run("function main() { let n = 0; for (let i = 0; i < 2e6; i++) n += i % 7; console.log('in flight', n); return 0 }");
        const r = await run(code, [marker], timeoutMs);
        const normal = await inFlight;
        assert.deepEqual([normal.exitCode, normal.stdout], [0, "in flight 5999995\n"]);
        await assertContained(r);
        return r;
    };

    before(async () => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "runner-attack-"));
        marker = path.join(dir, "pwned");
        const port = await freePort();
        // The runner as deployed (compiled; under ts-node every worker would also carry the TypeScript
        // compiler, and the memory measured here would not be the runner's).
        const root = path.join(__dirname, "..");
        if (!compiled) execFileSync(path.join(root, "node_modules", ".bin", "tsc"), ["-p", path.join(root, "tsconfig.json")], { stdio: "inherit" });
        compiled = true;
        child = spawn(process.execPath, [path.join(root, "dist", "runner", "server.js")], {
            stdio: ["ignore", "ignore", "inherit"],
            env: {
                PATH: process.env.PATH,
                CONFIG_PATH: "/dev/null",
                LOG_LEVEL: "silent",
                RUNNER_TOKEN: TOKEN,
                CANARY_SECRET: CANARY,
                RUNNER_PORT: String(port),
                METRICS_PORT: String(await freePort()),
                RUNNER_CONCURRENCY: "2",
                RUNNER_QUEUE_SIZE: "2",
                RUNNER_QUEUE_WAIT_MS: "300",
            },
        });
        url = `http://127.0.0.1:${port}`;
        for (let i = 0; i < 600; i++) {
            if ((await health().catch(() => 0)) === 200) break;
            await new Promise((resolve) => setTimeout(resolve, 100));
        }
        // Both workers loaded (the first runs on each do not race their start-up).
        await Promise.all([run("function main() {}", [], 30_000), run("function main() {}", [], 30_000)]);
    });

    after(() => {
        child?.kill("SIGKILL");
        if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    return { post, run, health, memory, assertContained, attack };
}
