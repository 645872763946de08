/**
 * Checks a running platform from the outside, through the same doors its users take.
 *
 *   smoke  GET /health, GET /ready, `cli-platform status` and `cli-platform list` with the stack's
 *          token, GET /commands without it (401). deploy.yml runs it after every `pulumi up`; a
 *          failure stops the promotion.
 *   e2e    smoke, then POST /evolve (a new command), POST /commands/:name/run, the api's /metrics
 *          and a Prometheus query for the generation counter (e2e.yml runs it on kind)
 *
 *   node -r ./tools/register.js tools/e2e/check.ts smoke --api-url https://cli.example.com
 *   node -r ./tools/register.js tools/e2e/check.ts e2e --api-url http://127.0.0.1:18080 --host cli.localtest.me \
 *       --cli-url http://127.0.0.1:18000 --metrics-url http://127.0.0.1:18081/metrics --prometheus-url http://127.0.0.1:19090
 *
 * The token comes from CLI_PLATFORM_TOKEN (never from an argument: arguments end up in logs).
 * `tools/e2e/e2e.sh` sets up the port-forwards for a cluster and calls this. Each step prints one
 * line; the first failing step ends the run with exit code 1.
 */
import * as path from "node:path";
import { apiError, CheckFailed, json, jsonObject, metricSum, poll, prometheusValue, request, runCli } from "./probes";

/** What the api's /metrics must show after one evolve and one run (names registered in service/src/metrics.ts). */
export const GENERATION_ATTEMPTS = "code_generation_attempts_total";
export const GENERATION_SUCCESS = "code_generation_success_total";
export const COMMAND_RUNS = "command_runs_total";

export const DEFAULT_DESCRIPTION = 'print "e2e-ok" followed by its arguments, separated by single spaces';
export const DEFAULT_ARGS = ["hello", "world"];
export const DEFAULT_EXPECT = "e2e-ok hello world";

export interface CheckOptions {
    /** Where the API answers (the Gateway, a load balancer, or a port-forward to one). */
    apiUrl: string;
    /** Host header to send to `apiUrl` (the Gateway routes by host name). Default: the URL's host. */
    host?: string;
    /** Bearer token of the API. */
    token: string;
    /** The `cli-platform` command, as argv. */
    cli: string[];
    /** URL the CLI talks to (it cannot override the Host header). Default `apiUrl`; required with `host`. */
    cliUrl?: string;
    /** e2e: the api's metrics endpoint (port 8080, /metrics). */
    metricsUrl?: string;
    /** e2e: Prometheus' HTTP API base URL. */
    prometheusUrl?: string;
    /** e2e: the namespace the api runs in (the Prometheus query filters on it). Default cli-platform. */
    namespace: string;
    description: string;
    args: string[];
    /** Text the command's stdout must contain. */
    expect: string;
    /** How long /ready may take to answer 200 (ms). Default 120000. */
    readyTimeoutMs: number;
    /** How long Prometheus may take to scrape the counter (ms). Default 180000. */
    prometheusTimeoutMs: number;
    /** Time between polls (ms). Default 5000. */
    pollMs: number;
    /** Per-request timeout (ms). Default 30000 (an evolve waits for the LLM). */
    requestTimeoutMs: number;
}

export type Mode = "smoke" | "e2e";

export const DEFAULT_OPTIONS = {
    namespace: "cli-platform",
    description: DEFAULT_DESCRIPTION,
    args: DEFAULT_ARGS,
    expect: DEFAULT_EXPECT,
    readyTimeoutMs: 120_000,
    prometheusTimeoutMs: 180_000,
    pollMs: 5_000,
    requestTimeoutMs: 30_000,
};

export interface StepResult {
    step: string;
    detail: string;
}

/** Runs the checks of `mode` in order; throws CheckFailed at the first failing step. */
export async function runChecks(mode: Mode, o: CheckOptions, log: (line: string) => void = () => undefined): Promise<StepResult[]> {
    const results: StepResult[] = [];
    const ok = (step: string, detail: string) => {
        results.push({ step, detail });
        log(`ok    ${step}: ${detail}`);
    };
    const api = (method: string, p: string, body?: unknown, auth = true) =>
        request(`${o.apiUrl.replace(/\/+$/, "")}${p}`, {
            method,
            host: o.host,
            body,
            headers: auth ? { authorization: `Bearer ${o.token}` } : {},
            timeoutMs: o.requestTimeoutMs,
        });

    // Polled like /ready: right after a deploy, DNS, the load balancer or the certificate may lag.
    const h = await poll(
        "health",
        o.readyTimeoutMs,
        o.pollMs,
        async () => {
            const r = await api("GET", "/health", undefined, false).catch((err: Error) => {
                throw new Error(`${o.apiUrl} cannot be reached: ${err.message}`);
            });
            const body = jsonObject(r.body);
            if (r.status === 200 && body?.status === "ok") return body;
            throw new Error(`${r.status} ${r.body.slice(0, 200)}`);
        },
        'GET /health answering 200 {"status":"ok"}',
    );
    ok("health", `200, version ${String(h.version)}`);

    const ready = await poll(
        "ready",
        o.readyTimeoutMs,
        o.pollMs,
        async () => {
            const r = await api("GET", "/ready", undefined, false);
            const body = jsonObject(r.body);
            if (r.status === 200 && body?.status === "ready") return body;
            throw new Error(`${r.status} ${r.body.slice(0, 200)}`);
        },
        // "degraded" (200 without Redis) is not good enough right after a deploy: the cache should be there.
        'GET /ready answering 200 {"status":"ready"}',
    );
    ok("ready", `200 ${JSON.stringify(ready.checks)}`);

    const cliUrl = o.cliUrl ?? o.apiUrl;
    const status = await runCli(o.cli, ["--timeout", "10000", "status"], { CLI_PLATFORM_URL: cliUrl, CLI_PLATFORM_TOKEN: o.token }, o.requestTimeoutMs).catch(
        (err: Error) => {
            throw new CheckFailed("cli status", `cannot start ${o.cli.join(" ")}: ${err.message}`);
        },
    );
    if (status.code !== 0)
        throw new CheckFailed("cli status", `cli-platform status exited ${status.code}: ${(status.stderr || status.stdout).trim().split("\n")[0]}`);
    ok("cli status", `exit 0 against ${cliUrl}`);

    // The token works (`cli-platform list` is authenticated) and is needed (no token: 401).
    const list = await runCli(o.cli, ["--timeout", "10000", "--json", "list"], { CLI_PLATFORM_URL: cliUrl, CLI_PLATFORM_TOKEN: o.token }, o.requestTimeoutMs);
    if (list.code !== 0)
        throw new CheckFailed(
            "cli list",
            `cli-platform list with the stack's token exited ${list.code}: ${(list.stderr || list.stdout).trim().split("\n")[0]}`,
        );
    ok("cli list", "exit 0 with the stack's token");
    const anonymous = await api("GET", "/commands", undefined, false);
    if (anonymous.status !== 401) throw new CheckFailed("auth", `GET /commands without a token answered ${anonymous.status}, expected 401`);
    ok("auth", "401 without a token");
    if (mode === "smoke") return results;

    const name = `e2e-${Date.now().toString(36)}`;
    const evolved = await api("POST", "/evolve", { description: o.description, name });
    if (evolved.status !== 201 && evolved.status !== 200) throw new CheckFailed("evolve", `POST /evolve answered ${apiError(evolved)}`);
    const e = json("evolve", evolved);
    if (e.name !== name || typeof e.version !== "number")
        throw new CheckFailed("evolve", `expected the command "${name}" with a version, got ${evolved.body.slice(0, 200)}`);
    ok("evolve", `${evolved.status} ${name} v${e.version} (model ${String(e.model)}, cached ${String(e.cached)})`);

    const ran = await api("POST", `/commands/${name}/run`, { args: o.args });
    if (ran.status !== 200) throw new CheckFailed("run", `POST /commands/${name}/run answered ${apiError(ran)}`);
    const r = json("run", ran);
    if (r.exitCode !== 0) throw new CheckFailed("run", `exit code ${JSON.stringify(r.exitCode)}, stderr ${JSON.stringify(r.stderr)}`);
    if (typeof r.stdout !== "string" || !r.stdout.includes(o.expect))
        throw new CheckFailed("run", `stdout ${JSON.stringify(r.stdout)} does not contain ${JSON.stringify(o.expect)}`);
    ok("run", `exit 0, stdout ${JSON.stringify(r.stdout.trim())} in ${String(r.durationMs)} ms`);

    if (!o.metricsUrl) throw new CheckFailed("metrics", "e2e needs --metrics-url (the api's /metrics)");
    const metrics = await request(o.metricsUrl, { timeoutMs: o.requestTimeoutMs }).catch((err: Error) => {
        throw new CheckFailed("metrics", `${o.metricsUrl} cannot be reached: ${err.message}`);
    });
    if (metrics.status !== 200) throw new CheckFailed("metrics", `GET ${o.metricsUrl} answered ${metrics.status}`);
    const counts = [GENERATION_ATTEMPTS, GENERATION_SUCCESS, COMMAND_RUNS].map((m) => [m, metricSum(metrics.body, m)] as const);
    const low = counts.filter(([, v]) => v === undefined || v < 1);
    if (low.length > 0)
        throw new CheckFailed("metrics", `expected >= 1 after one evolve and one run: ${low.map(([m, v]) => `${m} = ${v ?? "absent"}`).join(", ")}`);
    ok("metrics", counts.map(([m, v]) => `${m} ${v}`).join(", "));

    if (!o.prometheusUrl) throw new CheckFailed("prometheus", "e2e needs --prometheus-url");
    const query = `sum(${GENERATION_ATTEMPTS}{namespace="${o.namespace}"})`;
    const scraped = await poll(
        "prometheus",
        o.prometheusTimeoutMs,
        o.pollMs,
        async () => {
            const res = await request(`${o.prometheusUrl!.replace(/\/+$/, "")}/api/v1/query?query=${encodeURIComponent(query)}`, {
                timeoutMs: o.requestTimeoutMs,
            });
            const v = prometheusValue(JSON.parse(res.body));
            return v !== undefined && v >= 1 ? v : undefined;
        },
        `Prometheus answering ${query} >= 1`,
    );
    ok("prometheus", `${query} = ${scraped}`);
    return results;
}

// ---------------------------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------------------------

const USAGE =
    "usage: check.ts smoke|e2e --api-url URL [--host NAME] [--cli-url URL] [--metrics-url URL] [--prometheus-url URL] " +
    "[--namespace NS] [--cli 'node service/dist/cli.js'] [--ready-timeout S] [--prometheus-timeout S] (token: CLI_PLATFORM_TOKEN)";

const FLAGS: Record<string, keyof CheckOptions | "cli" | "ready-timeout" | "prometheus-timeout"> = {
    "--api-url": "apiUrl",
    "--host": "host",
    "--cli-url": "cliUrl",
    "--metrics-url": "metricsUrl",
    "--prometheus-url": "prometheusUrl",
    "--namespace": "namespace",
    "--expect": "expect",
    "--cli": "cli",
    "--ready-timeout": "ready-timeout",
    "--prometheus-timeout": "prometheus-timeout",
};

/** Parses the command line; throws an Error with one line naming the bad argument. */
export function parseArgs(argv: string[], env: NodeJS.ProcessEnv, root: string): { mode: Mode; options: CheckOptions } {
    const [mode, ...rest] = argv;
    if (mode !== "smoke" && mode !== "e2e") throw new Error(`first argument must be "smoke" or "e2e", got ${JSON.stringify(mode ?? "")}; ${USAGE}`);
    const given: Record<string, string> = {};
    for (let i = 0; i < rest.length; i += 2) {
        const key = FLAGS[rest[i]];
        if (!key) throw new Error(`unknown option ${JSON.stringify(rest[i])}; ${USAGE}`);
        const value = rest[i + 1];
        if (value === undefined || value.startsWith("--")) throw new Error(`${rest[i]} needs a value`);
        given[key] = value;
    }
    const url = (flag: string, v: string | undefined) => {
        if (v === undefined) return undefined;
        let u: URL;
        try {
            u = new URL(v);
        } catch {
            throw new Error(`${flag} = ${JSON.stringify(v)}: must be an http(s) URL`);
        }
        if (u.protocol !== "http:" && u.protocol !== "https:") throw new Error(`${flag} = ${JSON.stringify(v)}: must be an http(s) URL`);
        return v;
    };
    const seconds = (flag: string, v: string | undefined, fallback: number) => {
        if (v === undefined) return fallback;
        const n = Number(v);
        if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} = ${JSON.stringify(v)}: must be a whole number of seconds >= 1`);
        return n * 1000;
    };
    const apiUrl = url("--api-url", given.apiUrl);
    if (!apiUrl) throw new Error(`--api-url is required; ${USAGE}`);
    const token = env.CLI_PLATFORM_TOKEN;
    if (!token) throw new Error("CLI_PLATFORM_TOKEN is not set (the stack's apiToken: pulumi stack output apiToken --show-secrets)");
    if (given.host !== undefined && given.cliUrl === undefined) {
        throw new Error("--host needs --cli-url: the CLI cannot send a Host header, give it a URL that reaches the api directly");
    }
    if (mode === "e2e" && (given.metricsUrl === undefined || given.prometheusUrl === undefined))
        throw new Error("e2e needs --metrics-url and --prometheus-url");
    return {
        mode,
        options: {
            ...DEFAULT_OPTIONS,
            apiUrl,
            host: given.host,
            token,
            cli: given.cli ? given.cli.split(" ").filter(Boolean) : [process.execPath, path.join(root, "service", "dist", "cli.js")],
            cliUrl: url("--cli-url", given.cliUrl),
            metricsUrl: url("--metrics-url", given.metricsUrl),
            prometheusUrl: url("--prometheus-url", given.prometheusUrl),
            namespace: given.namespace ?? DEFAULT_OPTIONS.namespace,
            expect: given.expect ?? DEFAULT_OPTIONS.expect,
            readyTimeoutMs: seconds("--ready-timeout", given["ready-timeout"], DEFAULT_OPTIONS.readyTimeoutMs),
            prometheusTimeoutMs: seconds("--prometheus-timeout", given["prometheus-timeout"], DEFAULT_OPTIONS.prometheusTimeoutMs),
        },
    };
}

async function main(): Promise<number> {
    let parsed: ReturnType<typeof parseArgs>;
    try {
        parsed = parseArgs(process.argv.slice(2), process.env, path.resolve(__dirname, "..", ".."));
    } catch (err) {
        process.stderr.write(`check: ${(err as Error).message}\n`);
        return 2;
    }
    try {
        const done = await runChecks(parsed.mode, parsed.options, (line) => process.stdout.write(`${line}\n`));
        process.stdout.write(`${parsed.mode}: all ${done.length} checks passed\n`);
        return 0;
    } catch (err) {
        process.stdout.write(`FAIL  ${(err as Error).message}\n`);
        return 1;
    }
}

if (require.main === module) void main().then((code) => process.exit(code));
