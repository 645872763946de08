/**
 * Checks the built service image the way Kubernetes runs it (run by tools/image-ci.sh from .ci/run):
 * read-only root, tmpfs /tmp, uid 1000, no capabilities, no-new-privileges, against real
 * PostgreSQL and Redis and a fake LLM on this machine. Prints one line per check and a
 * "N passed, N failed" summary; exits 1 if any check failed. Removes everything it started.
 */
import { execFile, execFileSync, spawnSync } from "node:child_process";
import { promisify } from "node:util";
import { freePort, PostgresServer, RedisServer, startFakeLlm, stopAll } from "./support";

const IMAGE = process.env.IMAGE ?? "cli-platform-service:ci";
/** Uncompressed image size budget on the offline-built base (debootstrap minbase + node). */
export const SIZE_BUDGET_MB = 250;
const TOKEN = "image-check-token-0123456789";
const RUNNER_TOKEN = "image-check-runner-0123456789";
const GRACE_SECONDS = 20;

const results: { name: string; ok: boolean; detail?: string }[] = [];
async function check(name: string, fn: () => Promise<string | void> | string | void): Promise<void> {
    try {
        const detail = await fn();
        results.push({ name, ok: true, detail: detail || undefined });
        console.log(`ok   ${name}${detail ? ` (${detail})` : ""}`);
    } catch (err) {
        results.push({ name, ok: false, detail: (err as Error).message });
        console.log(`FAIL ${name}: ${(err as Error).message}`);
    }
}
function docker(args: string[]): string {
    return execFileSync("docker", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
}
function assert(cond: unknown, message: string): asserts cond {
    if (!cond) throw new Error(message);
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function waitFor(what: string, fn: () => Promise<boolean>, ms = 60_000): Promise<void> {
    const until = Date.now() + ms;
    while (Date.now() < until) {
        if (await fn().catch(() => false)) return;
        await sleep(500);
    }
    throw new Error(`${what}: not within ${ms / 1000} s`);
}

/** Flags that reproduce the pod's securityContext. */
const HARDENED = [
    "--read-only",
    "--tmpfs",
    "/tmp:rw,size=64m",
    "--user",
    "1000:1000",
    "--cap-drop",
    "ALL",
    "--security-opt",
    "no-new-privileges",
    "--network",
    "host",
];

async function main(): Promise<void> {
    const containers: string[] = [];
    try {
        const [pg, redis, llm] = await Promise.all([PostgresServer.start(), RedisServer.start(), startFakeLlm()]);
        const [apiPort, runnerPort, apiMetrics, runnerMetrics, spare] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
        const api = `http://127.0.0.1:${apiPort}`;
        const runner = `http://127.0.0.1:${runnerPort}`;
        const health = ["--health-interval", "2s", "--health-start-period", "2s", "--health-timeout", "3s"];

        /** Starts a container the way the pod runs; `env` becomes -e flags. */
        const run = (env: Record<string, string | number>, extra: string[] = [], command: string[] = []) =>
            docker(["run", "-d", ...HARDENED, ...health, ...extra, ...Object.entries(env).flatMap(([k, v]) => ["-e", `${k}=${v}`]), IMAGE, ...command]);
        const runnerId = run({ RUNNER_PORT: runnerPort, PORT: spare, METRICS_PORT: runnerMetrics, RUNNER_TOKEN }, [], ["node", "dist/runner/server.js"]);
        containers.push(runnerId);
        const apiId = run(
            {
                PORT: apiPort,
                METRICS_PORT: apiMetrics,
                POSTGRES_URL: pg.url,
                REDIS_URL: redis.url,
                OPENAI_API_KEY: "sk-image-check",
                OPENAI_BASE_URL: llm.url,
                API_TOKENS: TOKEN,
                RUNNER_URL: runner,
                RUNNER_TOKEN,
                CLI_PLATFORM_URL: api,
                SHUTDOWN_TIMEOUT: 15,
            },
            ["--stop-timeout", String(GRACE_SECONDS)],
        );
        containers.push(apiId);

        await check("api /health answers", async () => {
            await waitFor("api /health", async () => (await fetch(`${api}/health`)).ok);
        });
        await check("api /ready answers 200 ready (PostgreSQL and Redis reachable)", async () => {
            await waitFor("api /ready", async () => {
                const res = await fetch(`${api}/ready`);
                return res.status === 200 && ((await res.json()) as { status: string }).status === "ready";
            });
        });
        await check("the image's HEALTHCHECK turns healthy (api and runner)", async () => {
            for (const id of [apiId, runnerId])
                await waitFor(`health of ${id.slice(0, 12)}`, async () => docker(["inspect", "-f", "{{.State.Health.Status}}", id]) === "healthy");
        });
        await check("the runner entry point serves and executes a command", async () => {
            const res = await fetch(`${runner}/run`, {
                method: "POST",
                headers: { "content-type": "application/json", "x-runner-token": RUNNER_TOKEN },
                body: JSON.stringify({ code: "function main(a) { console.log('hi ' + a[0]); return 0 }", args: ["image"] }),
            });
            const body = (await res.json()) as { stdout: string; exitCode: number };
            assert(res.status === 200 && body.stdout === "hi image\n" && body.exitCode === 0, `got ${res.status} ${JSON.stringify(body)}`);
        });
        await check("end to end: evolve through the api, run through the runner container", async () => {
            const auth = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" };
            const created = await fetch(`${api}/evolve`, { method: "POST", headers: auth, body: JSON.stringify({ description: "add numbers", name: "add" }) });
            assert(created.status === 201, `evolve answered ${created.status}`);
            const ran = await fetch(`${api}/commands/add/run`, { method: "POST", headers: auth, body: JSON.stringify({ args: ["2", "40"] }) });
            const body = (await ran.json()) as { stdout: string };
            assert(ran.status === 200 && body.stdout === "42\n", `run answered ${ran.status} ${JSON.stringify(body)}`);
        });
        await check("`cli-platform status` in the image exits 0 against the api", () => {
            const r = spawnSync("docker", ["exec", apiId, "cli-platform", "status"], { encoding: "utf8" });
            assert(r.status === 0, `exit ${r.status}: ${r.stderr.trim()}`);
            return r.stdout.trim();
        });
        await check("the container runs as uid 1000 with a read-only root filesystem", () => {
            const r = spawnSync(
                "docker",
                ["exec", apiId, "sh", "-c", "id -u; touch /home/app/x 2>/dev/null && echo writable || echo read-only; touch /tmp/x && echo tmp-ok"],
                { encoding: "utf8" },
            );
            assert(r.stdout.trim() === "1000\nread-only\ntmp-ok", r.stdout + r.stderr);
        });
        await check("the image holds no dev dependencies, tests, .git or secrets", () => {
            const script = [
                "cd /home/app",
                "for d in typescript mocha ts-node autocannon @types/node @types/mocha; do test ! -e node_modules/$d || echo dev:$d; done",
                "test ! -e test || echo test-dir; test ! -e bench || echo bench-dir; test ! -e src || echo src-dir",
                "find / -xdev \\( -name .git -o -name '*.test.ts' -o -name '*.test.js' -o -name .env -o -name '*.pem' -o -name id_rsa \\) -not -path '/proc/*' -not -path '/etc/ssl/*' -not -path '/usr/lib/ssl/*' -not -path '/usr/share/ca-certificates/*' 2>/dev/null | grep -v '^/usr/local/lib/node_modules/npm' | sed 's/^/found:/'",
            ].join("; ");
            const r = spawnSync("docker", ["run", "--rm", "--entrypoint", "sh", IMAGE, "-c", script], { encoding: "utf8" });
            assert(r.stdout.trim() === "", r.stdout.trim());
        });
        await check(`the image is under ${SIZE_BUDGET_MB} MB`, () => {
            const mb = Number(docker(["image", "inspect", IMAGE, "--format", "{{.Size}}"])) / 1e6;
            assert(mb < SIZE_BUDGET_MB, `${mb.toFixed(1)} MB`);
            return `${mb.toFixed(1)} MB`;
        });
        await check(`docker stop (SIGTERM) with a request in flight: the request completes, exit 0 within ${GRACE_SECONDS} s`, async () => {
            llm.mode = "slow";
            llm.delayMs = 3000;
            const inFlight = fetch(`${api}/evolve`, {
                method: "POST",
                headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
                body: JSON.stringify({ description: "greet during shutdown", name: "draining" }),
            });
            await sleep(700);
            const started = Date.now();
            // Async: the fake LLM answering the in-flight request lives in this process's event loop.
            await promisify(execFile)("docker", ["stop", "-t", String(GRACE_SECONDS), apiId]);
            const seconds = (Date.now() - started) / 1000;
            const res = await inFlight.catch((err: Error) => {
                throw new Error(
                    `in-flight request failed (${(err.cause as Error | undefined)?.message ?? err.message}); logs: ${spawnSync("docker", ["logs", "--tail", "8", apiId], { encoding: "utf8" }).stdout.replace(/\n/g, " | ")}`,
                );
            });
            const exitCode = docker(["inspect", "-f", "{{.State.ExitCode}}", apiId]);
            assert(res.status === 201, `in-flight request answered ${res.status}`);
            assert(exitCode === "0", `exit code ${exitCode}`);
            assert(seconds < GRACE_SECONDS, `stop took ${seconds.toFixed(1)} s`);
            return `stopped in ${seconds.toFixed(1)} s`;
        });
        await llm.close();
    } finally {
        for (const id of containers) spawnSync("docker", ["rm", "-f", id], { stdio: "ignore" });
        await stopAll();
    }
    const failed = results.filter((r) => !r.ok).length;
    console.log(`image checks: ${results.length - failed} passed, ${failed} failed`);
    process.exit(failed === 0 ? 0 : 1);
}

main().catch((err: unknown) => {
    console.error(`image-check: ${(err as Error).message}`);
    process.exit(1);
});
