/**
 * The end-to-end check's pieces, offline: the check script against a stand-in platform (real HTTP,
 * the real `cli-platform` CLI), its failure messages, the fake LLM against the service's own LLM
 * client and validator, the leftover finder against a recorded state, and the manifests.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import { spawn } from "node:child_process";
import * as http from "node:http";
import * as net from "node:net";
import * as os from "node:os";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import * as vm from "node:vm";
import * as YAML from "yaml";
import { Deployment } from "kubernetes-models/apps/v1";
import { Namespace, Service } from "kubernetes-models/v1";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1";
import { createApiMetrics, createRunnerMetrics } from "../service/src/metrics";
import { LlmClient } from "../service/src/llm";
import { validateCode } from "../service/src/validation";
import {
    COMMAND_RUNS,
    DEFAULT_ARGS,
    DEFAULT_DESCRIPTION,
    DEFAULT_EXPECT,
    DEFAULT_OPTIONS,
    GENERATION_ATTEMPTS,
    GENERATION_SUCCESS,
    parseArgs,
    runChecks,
    type CheckOptions,
    type Mode,
} from "../tools/e2e/check";
import { metricSum, prometheusValue } from "../tools/e2e/probes";
import { boundVolumes, CLUSTER_SCOPED_KINDS, createdObjects, leftovers, type Kubectl } from "../tools/e2e/leftovers";
import { ROOT } from "./harness";

const E2E = path.join(ROOT, "tools", "e2e");
// eslint-disable-next-line @typescript-eslint/no-require-imports
const fakeLlm = require("../tools/e2e/fake-llm/server.js") as { createServer: () => http.Server; CODE: string };
const TOKEN = "e2e-token-0123456789abcdef";
const GATEWAY_HOST = "cli.localtest.me";
/** The real CLI, from source (compiled by the same require hook as the program). */
const CLI = [process.execPath, "-r", path.join(ROOT, "tools", "register.js"), path.join(ROOT, "service", "src", "cli.ts")];

async function listen(server: http.Server): Promise<string> {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Runs a command's code the way the runner's contract says (main(args), console output, exit code). Test-only: our own code. */
function execute(code: string, args: string[]): { exitCode: number; stdout: string } {
    let stdout = "";
    const exitCode = vm.runInNewContext(`${code}\nmain(args)`, { args, console: { log: (...a: unknown[]) => (stdout += `${a.join(" ")}\n`) } }) as number;
    return { exitCode, stdout };
}

interface Platform {
    /** The api, straight (like a port-forward to svc/cli-api). */
    url: string;
    /** The api behind a "Gateway" that routes only the host GATEWAY_HOST (404 otherwise). */
    gatewayUrl: string;
    metricsUrl: string;
    prometheusUrl: string;
    /** Requests the api saw: method, path, Host header, authorization, whether through the gateway. */
    seen: { method: string; path: string; host?: string; auth?: string; gateway: boolean }[];
    behave: { ready: 200 | 503 | "degraded"; evolveStatus?: number; runStdout?: string; scrapeAfter: number; unavailable: number };
    close(): Promise<void>;
}

/** A stand-in for the api (routes, auth and bodies as service/README.md), its /metrics and Prometheus. The LLM is the fake LLM. */
async function startPlatform(llmUrl: string): Promise<Platform> {
    const llm = new LlmClient({ baseUrl: llmUrl, model: "gpt-4", temperature: 0.7, timeoutMs: 5000, apiKey: "sk-e2e" });
    const commands = new Map<string, string>();
    const counters = { attempts: 0, success: 0, runs: 0 };
    let prometheusQueries = 0;
    const p = {
        seen: [],
        behave: { ready: 200, scrapeAfter: 0, unavailable: 0 },
    } as unknown as Platform;
    const send = (res: http.ServerResponse, status: number, body: unknown) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(body));
    };
    const handler = (gateway: boolean) => (req: http.IncomingMessage, res: http.ServerResponse) => {
        let raw = "";
        req.on("data", (c: Buffer) => (raw += c.toString()));
        req.on("end", () => {
            void (async () => {
                const url = new URL(req.url!, "http://x");
                p.seen.push({ method: req.method!, path: url.pathname, host: req.headers.host, auth: req.headers.authorization, gateway });
                if (gateway && req.headers.host !== GATEWAY_HOST) return send(res, 404, { error: { code: "not_found", message: "no route for this host" } });
                if (p.behave.unavailable > 0) {
                    // A load balancer with no healthy target yet: an HTML error page.
                    p.behave.unavailable--;
                    res.writeHead(503, { "content-type": "text/html" });
                    return res.end("<html><body>503 Service Temporarily Unavailable</body></html>");
                }
                if (url.pathname === "/health") return send(res, 200, { status: "ok", version: "0.1.0" });
                if (url.pathname === "/ready")
                    return p.behave.ready === 200
                        ? send(res, 200, { status: "ready", failing: [], degraded: [], checks: { postgres: "ok", redis: "ok" } })
                        : p.behave.ready === "degraded"
                          ? send(res, 200, { status: "degraded", failing: [], degraded: ["redis"], checks: { postgres: "ok", redis: "timeout" } })
                          : send(res, 503, { status: "not ready", failing: ["postgres"], degraded: [] });
                if (req.headers.authorization !== `Bearer ${TOKEN}`)
                    return send(res, 401, { error: { code: "unauthorized", message: "missing or invalid bearer token" } });
                if (req.method === "GET" && url.pathname === "/commands") return send(res, 200, { commands: [] });
                if (req.method === "POST" && url.pathname === "/evolve") {
                    if (p.behave.evolveStatus)
                        return send(res, p.behave.evolveStatus, { error: { code: "llm_unavailable", message: "no LLM API key is configured" } });
                    const body = JSON.parse(raw) as { description: string; name: string };
                    counters.attempts++;
                    const code = await llm.generate(body.description, body.name);
                    const report = validateCode(code, { enabled: true, strictMode: true });
                    if (!report.valid) return send(res, 422, { error: { code: "validation_failed", message: report.problems.join("; ") } });
                    counters.success++;
                    commands.set(body.name, code);
                    return send(res, 201, { name: body.name, version: 1, code, model: "gpt-4", cached: false, created: true });
                }
                const run = /^\/commands\/([a-z0-9-]+)\/run$/.exec(url.pathname);
                if (req.method === "POST" && run) {
                    const code = commands.get(run[1]);
                    if (!code) return send(res, 404, { error: { code: "not_found", message: `no command named "${run[1]}"` } });
                    counters.runs++;
                    const result = execute(code, (JSON.parse(raw) as { args: string[] }).args);
                    return send(res, 200, {
                        name: run[1],
                        version: 1,
                        exitCode: result.exitCode,
                        stdout: p.behave.runStdout ?? result.stdout,
                        stderr: "",
                        durationMs: 3,
                    });
                }
                send(res, 404, { error: { code: "not_found", message: "no such route" } });
            })();
        });
    };
    const metrics = http.createServer((_req, res) => {
        res.writeHead(200, { "content-type": "text/plain; version=0.0.4" });
        res.end(
            [
                `# HELP ${GENERATION_ATTEMPTS} Code generation attempts`,
                `# TYPE ${GENERATION_ATTEMPTS} counter`,
                `${GENERATION_ATTEMPTS} ${counters.attempts}`,
                `${GENERATION_SUCCESS} ${counters.success}`,
                `${COMMAND_RUNS}{outcome="ok"} ${counters.runs}`,
                "",
            ].join("\n"),
        );
    });
    const prometheus = http.createServer((req, res) => {
        const query = new URL(req.url!, "http://x").searchParams.get("query");
        prometheusQueries++;
        const result = prometheusQueries > p.behave.scrapeAfter ? [{ metric: {}, value: [1700000000, String(counters.attempts)] }] : [];
        assert.equal(query, `sum(${GENERATION_ATTEMPTS}{namespace="cli-platform"})`);
        send(res, 200, { status: "success", data: { resultType: "vector", result } });
    });
    const api = http.createServer(handler(false));
    const gatewayServer = http.createServer(handler(true));
    p.url = await listen(api);
    p.gatewayUrl = await listen(gatewayServer);
    p.metricsUrl = `${await listen(metrics)}/metrics`;
    p.prometheusUrl = await listen(prometheus);
    p.close = async () => {
        for (const s of [api, gatewayServer, metrics, prometheus]) {
            s.closeAllConnections();
            await new Promise((r) => s.close(r));
        }
    };
    return p;
}

describe("end-to-end check (tools/e2e)", () => {
    let llmServer: http.Server;
    let llmUrl: string;
    let platform: Platform;
    before(async () => {
        llmServer = fakeLlm.createServer();
        llmUrl = `${await listen(llmServer)}/v1`;
    });
    after(() => new Promise((r) => llmServer.close(r)));
    beforeEach(async () => {
        platform = await startPlatform(llmUrl);
    });
    afterEach(() => platform.close());

    const options = (over: Partial<CheckOptions> = {}): CheckOptions => ({
        ...DEFAULT_OPTIONS,
        apiUrl: platform.url,
        token: TOKEN,
        cli: CLI,
        metricsUrl: platform.metricsUrl,
        prometheusUrl: platform.prometheusUrl,
        readyTimeoutMs: 1500,
        prometheusTimeoutMs: 1500,
        pollMs: 100,
        ...over,
    });
    /** For a check that is meant to time out: the wait it reports ("within 1 s"), not the suite's. */
    const expiring = { readyTimeoutMs: 500, prometheusTimeoutMs: 500 };
    const failure = async (mode: Mode, o: CheckOptions) => {
        try {
            await runChecks(mode, o);
        } catch (err) {
            return (err as Error).message;
        }
        assert.fail("the check passed, but it should have failed");
    };

    it("e2e: health, ready, the CLI with the token, 401 without, evolve through the fake LLM, run, /metrics, Prometheus", async () => {
        platform.behave.scrapeAfter = 2; // Prometheus has not scraped the counter on the first two polls
        const lines: string[] = [];
        const results = await runChecks("e2e", options(), (l) => lines.push(l));
        assert.deepEqual(
            results.map((r) => r.step),
            ["health", "ready", "cli status", "cli list", "auth", "evolve", "run", "metrics", "prometheus"],
        );
        assert.equal(results.find((r) => r.step === "run")!.detail.includes('"e2e-ok hello world"'), true, results.find((r) => r.step === "run")!.detail);
        assert.equal(
            results.find((r) => r.step === "metrics")!.detail,
            "code_generation_attempts_total 1, code_generation_success_total 1, command_runs_total 1",
        );
        assert.equal(results.find((r) => r.step === "prometheus")!.detail, 'sum(code_generation_attempts_total{namespace="cli-platform"}) = 1');
        assert.equal(lines.length, 9);
        const evolve = platform.seen.find((s) => s.path === "/evolve")!;
        assert.equal(evolve.auth, `Bearer ${TOKEN}`);
    });

    it("sends the Gateway's host name when told to, and points the CLI at the direct URL", async () => {
        await runChecks("smoke", options({ apiUrl: platform.gatewayUrl, host: GATEWAY_HOST, cliUrl: platform.url }));
        const through = platform.seen.filter((x) => x.gateway);
        assert.deepEqual(
            through.map((x) => [x.path, x.host]),
            [
                ["/health", GATEWAY_HOST],
                ["/ready", GATEWAY_HOST],
                ["/commands", GATEWAY_HOST],
            ],
        );
        assert.deepEqual(
            platform.seen.filter((x) => !x.gateway).map((x) => x.path),
            ["/ready", "/commands"],
            "the CLI's status and list",
        );
        const err = await failure("smoke", options({ apiUrl: platform.gatewayUrl, host: "cli.example.org", cliUrl: platform.url, ...expiring }));
        assert.match(err, /^health: GET \/health answering 200 \{"status":"ok"\} did not happen within 1 s \(last: 404 \{"error":\{"code":"not_found"/);
    });

    it("waits while the front door answers HTML errors (a load balancer without a healthy target yet)", async () => {
        platform.behave.unavailable = 3;
        const results = await runChecks("smoke", options());
        assert.equal(results[0].detail, "200, version 0.1.0");
        assert.deepEqual(
            platform.seen.slice(0, 4).map((x) => x.path),
            ["/health", "/health", "/health", "/health"],
        );
    });

    it("smoke stops after the token checks: no evolve, no run", async () => {
        const results = await runChecks("smoke", options({ metricsUrl: undefined, prometheusUrl: undefined }));
        assert.deepEqual(
            results.map((r) => r.step),
            ["health", "ready", "cli status", "cli list", "auth"],
        );
        assert.equal(platform.seen.filter((s) => s.method === "POST").length, 0);
    });

    it("fails with a message naming the step and what was wrong", async () => {
        // Each failure on a stand-in platform of its own, all at once.
        const failOn = async (behave: Partial<Platform["behave"]>, mode: Mode, over: Partial<CheckOptions> = {}) => {
            const p = await startPlatform(llmUrl);
            Object.assign(p.behave, behave);
            try {
                return await failure(mode, options({ apiUrl: p.url, metricsUrl: p.metricsUrl, prometheusUrl: p.prometheusUrl, ...over }));
            } finally {
                await p.close();
            }
        };
        const [notReady, degraded, wrongToken, evolve503, wrongOutput, notScraped, unreachable] = await Promise.all([
            failOn({ ready: 503 }, "smoke", expiring),
            // Degraded (Redis not answering) is 200 from /ready, but a fresh deploy in that state is broken.
            failOn({ ready: "degraded" }, "smoke", expiring),
            failOn({}, "smoke", { token: "wrong-token-0123456789" }),
            failOn({ evolveStatus: 503 }, "e2e"),
            failOn({ runStdout: "something else\n" }, "e2e"),
            failOn({ scrapeAfter: 1000 }, "e2e", expiring),
            failOn({}, "smoke", { apiUrl: "http://127.0.0.1:9", ...expiring }),
        ]);
        assert.match(
            notReady,
            /^ready: GET \/ready answering 200 \{"status":"ready"\} did not happen within 1 s \(last: 503 \{"status":"not ready","failing":\["postgres"\],"degraded":\[\]\}\)$/,
        );
        assert.match(degraded, /^ready: GET \/ready answering 200 \{"status":"ready"\} did not happen within 1 s \(last: 200 \{"status":"degraded",/);
        assert.match(wrongToken, /^cli list: cli-platform list with the stack's token exited 1: cli-platform: 401: missing or invalid bearer token$/);
        assert.equal(evolve503, "evolve: POST /evolve answered 503 llm_unavailable: no LLM API key is configured");
        assert.equal(wrongOutput, 'run: stdout "something else\\n" does not contain "e2e-ok hello world"');
        assert.equal(
            notScraped,
            'prometheus: Prometheus answering sum(code_generation_attempts_total{namespace="cli-platform"}) >= 1 did not happen within 1 s',
        );
        assert.match(
            unreachable,
            /^health: GET \/health answering 200 \{"status":"ok"\} did not happen within 1 s \(last: http:\/\/127\.0\.0\.1:9 cannot be reached: connect ECONNREFUSED/,
        );
    });

    it("reads counters from the exposition format and Prometheus answers", () => {
        const text = [
            "# HELP command_runs_total Command runs by outcome",
            "# TYPE command_runs_total counter",
            'command_runs_total{outcome="ok"} 3',
            'command_runs_total{outcome="error",note="a \\"quoted\\" } brace"} 2',
            "command_runs_total_created 1.7e9",
            "code_generation_attempts_total 0",
        ].join("\n");
        assert.equal(metricSum(text, "command_runs_total"), 5);
        assert.equal(metricSum(text, "command_runs_total", { outcome: "error" }), 2);
        assert.equal(metricSum(text, "code_generation_attempts_total"), 0);
        assert.equal(metricSum(text, "code_generation_success_total"), undefined);
        assert.equal(prometheusValue({ status: "success", data: { resultType: "vector", result: [{ metric: {}, value: [1, "7"] }] } }), 7);
        assert.equal(prometheusValue({ status: "success", data: { resultType: "vector", result: [] } }), undefined);
        assert.throws(() => prometheusValue({ status: "error", error: "parse error" }), /^Error: Prometheus answered status "error": parse error$/);
    });

    it("the counters it reads are ones the service registers", async () => {
        const names = new Set<string>();
        for (const registry of [createApiMetrics(false).registry, createRunnerMetrics(false).registry]) {
            for (const m of await registry.getMetricsAsJSON()) names.add(m.name);
        }
        for (const m of ["code_generation_attempts_total", "code_generation_success_total", "command_runs_total"]) assert.ok(names.has(m), m);
    });

    it("arguments: clear errors, the token only from the environment", () => {
        const env = { CLI_PLATFORM_TOKEN: TOKEN };
        const ok = parseArgs(
            [
                "e2e",
                "--api-url",
                "http://127.0.0.1:1",
                "--host",
                "cli.localtest.me",
                "--cli-url",
                "http://127.0.0.1:2",
                "--metrics-url",
                "http://127.0.0.1:3/metrics",
                "--prometheus-url",
                "http://127.0.0.1:4",
            ],
            env,
            "/repo",
        );
        assert.equal(ok.mode, "e2e");
        assert.deepEqual([ok.options.host, ok.options.token, ok.options.cli[1]], ["cli.localtest.me", TOKEN, "/repo/service/dist/cli.js"]);
        const message = (argv: string[], e: NodeJS.ProcessEnv = env) => {
            try {
                parseArgs(argv, e, "/repo");
            } catch (x) {
                return (x as Error).message;
            }
            assert.fail("parsed");
        };
        assert.match(message(["deploy"]), /^first argument must be "smoke" or "e2e", got "deploy"/);
        assert.equal(
            message(["smoke", "--api-url", "https://cli.example.com"], {}),
            "CLI_PLATFORM_TOKEN is not set (the stack's apiToken: pulumi stack output apiToken --show-secrets)",
        );
        assert.equal(message(["smoke", "--api-url", "ftp://x"]), '--api-url = "ftp://x": must be an http(s) URL');
        assert.equal(
            message(["smoke", "--api-url", "http://127.0.0.1:1", "--host", "cli.localtest.me"]),
            "--host needs --cli-url: the CLI cannot send a Host header, give it a URL that reaches the api directly",
        );
        assert.equal(message(["e2e", "--api-url", "http://127.0.0.1:1"]), "e2e needs --metrics-url and --prometheus-url");
        assert.match(message(["smoke", "--token", "x"]), /^unknown option "--token"/);
        assert.equal(
            message(["smoke", "--api-url", "http://127.0.0.1:1", "--ready-timeout", "soon"]),
            '--ready-timeout = "soon": must be a whole number of seconds >= 1',
        );
    });

    describe("tools/e2e/e2e.sh (stand-ins for kubectl and pulumi; port-forwards are real TCP proxies to the stand-in platform)", () => {
        interface ScriptRun {
            code: number | null;
            stdout: string;
            stderr: string;
            calls: string[][];
        }
        const ENVOY = "envoy-gateway-system envoy-cli-platform-gateway-1a2b3c 443 80\n";

        async function e2eScript(args: string[], fake: { gateways: string; apiUrl: string }): Promise<ScriptRun> {
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "e2e-sh-"));
            const bin = path.join(dir, "bin");
            fs.mkdirSync(bin);
            const log = path.join(dir, "calls.log");
            const record = `require("fs").appendFileSync(${JSON.stringify(log)}, JSON.stringify(process.argv.slice(1)) + "\\n");`;
            fs.writeFileSync(
                path.join(bin, "kubectl"),
                `#!/usr/bin/env node
process.argv[1] = "kubectl"; ${record}
const net = require("node:net");
let a = process.argv.slice(2);
if (a[0] === "--context") a = a.slice(2);
let ns;
if (a[0] === "-n") { ns = a[1]; a = a.slice(2); }
if (a[0] === "port-forward") {
    const svc = a[3].replace(/^svc\\//, ""); const [local, remote] = a[4].split(":");
    const target = JSON.parse(process.env.FAKE_TARGETS)[ns + "/" + svc + ":" + remote];
    if (!target) { console.error('error: services "' + svc + '" not found'); process.exit(1); }
    const u = new URL(target);
    net.createServer((c) => { const t = net.connect(Number(u.port), u.hostname); c.pipe(t).pipe(c); t.on("error", () => c.destroy()); c.on("error", () => t.destroy()); })
        .listen(Number(local), "127.0.0.1", () => console.log("Forwarding from 127.0.0.1:" + local + " -> " + remote));
} else if (a[0] === "get" && a[1] === "svc") process.stdout.write(process.env.FAKE_GATEWAYS);
else { console.error("fake kubectl: unexpected " + a.join(" ")); process.exit(1); }
`,
                { mode: 0o755 },
            );
            fs.writeFileSync(
                path.join(bin, "pulumi"),
                `#!/usr/bin/env node
process.argv[1] = "pulumi"; ${record}
const a = process.argv.slice(2).join(" ");
if (a === "stack output apiToken --show-secrets --stack local") console.log(${JSON.stringify(TOKEN)});
else if (a === "stack output apiUrl --stack local") console.log(process.env.FAKE_API_URL);
else { console.error("fake pulumi: unexpected " + a); process.exit(1); }
`,
                { mode: 0o755 },
            );
            const env: NodeJS.ProcessEnv = {
                ...process.env,
                PATH: `${bin}:${process.env.PATH}`,
                CLI_PLATFORM_CLI: CLI.join(" "),
                FAKE_GATEWAYS: fake.gateways,
                FAKE_API_URL: fake.apiUrl,
                FAKE_TARGETS: JSON.stringify({
                    "cli-platform/cli-api:80": platform.url,
                    "cli-platform/cli-api:8080": platform.metricsUrl,
                    "monitoring/kube-prometheus-stack-prometheus:9090": platform.prometheusUrl,
                    "envoy-gateway-system/envoy-cli-platform-gateway-1a2b3c:80": platform.gatewayUrl,
                }),
            };
            delete env.CLI_PLATFORM_TOKEN;
            delete env.GITHUB_ACTIONS;
            try {
                const child = spawn("bash", [path.join(E2E, "e2e.sh"), ...args], { cwd: os.tmpdir(), env });
                let stdout = "";
                let stderr = "";
                child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
                child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
                const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
                const calls = fs.existsSync(log)
                    ? fs
                          .readFileSync(log, "utf8")
                          .split("\n")
                          .filter(Boolean)
                          .map((l) => JSON.parse(l) as string[])
                    : [];
                return { code, stdout, stderr, calls };
            } finally {
                fs.rmSync(dir, { recursive: true, force: true });
            }
        }
        const canConnect = (port: number) =>
            new Promise<boolean>((resolve) => {
                const c = net.connect(port, "127.0.0.1", () => (c.destroy(), resolve(true)));
                c.on("error", () => resolve(false));
            });

        it("through the Gateway: finds Envoy's Service, takes token and host from the stack, passes every check, and stops its port-forwards", async () => {
            const r = await e2eScript(["--context", "kind-cli-platform", "--stack", "local"], { gateways: ENVOY, apiUrl: "http://cli.localtest.me" });
            assert.equal(r.code, 0, r.stdout + r.stderr);
            assert.match(r.stdout, /e2e: through the Gateway \(envoy-gateway-system\/envoy-cli-platform-gateway-1a2b3c:80, Host: cli\.localtest\.me\)/);
            assert.match(r.stdout, /^e2e: all 9 checks passed$/m);
            const name = /ok {4}evolve: 201 (e2e-[a-z0-9]+) /.exec(r.stdout)![1];
            assert.deepEqual(
                platform.seen.filter((x) => x.gateway).map((x) => [x.path, x.host]),
                [
                    ["/health", GATEWAY_HOST],
                    ["/ready", GATEWAY_HOST],
                    ["/commands", GATEWAY_HOST],
                    ["/evolve", GATEWAY_HOST],
                    [`/commands/${name}/run`, GATEWAY_HOST],
                ],
            );
            const kubectl = r.calls.filter((c) => c[0] === "kubectl");
            assert.ok(
                kubectl.every((c) => c[1] === "--context" && c[2] === "kind-cli-platform"),
                JSON.stringify(kubectl),
            );
            const forwards = kubectl.filter((c) => c.includes("port-forward")).map((c) => [c[4], c[9].split(":")[1]]);
            assert.deepEqual(forwards.map((f) => f.join(" ")).sort(), ["cli-platform 80", "cli-platform 8080", "envoy-gateway-system 80", "monitoring 9090"]);
            for (const c of kubectl.filter((k) => k.includes("port-forward"))) {
                assert.deepEqual(c.slice(5, 8), ["port-forward", "--address", "127.0.0.1"]);
                assert.equal(await canConnect(Number(c[9].split(":")[0])), false, `port-forward ${c.join(" ")} still listens`);
            }
        });

        it("--via service: straight to cli-api, no Gateway needed", async () => {
            const r = await e2eScript(["--stack", "local", "--via", "service"], { gateways: "", apiUrl: "not used" });
            assert.equal(r.code, 0, r.stdout + r.stderr);
            assert.match(r.stdout, /e2e: straight to cli-platform\/svc\/cli-api \(no Gateway\)/);
            assert.equal(platform.seen.filter((x) => x.gateway).length, 0);
            assert.ok(r.calls.filter((c) => c[0] === "kubectl").every((c) => c[1] !== "--context"));
        });

        it("clear errors: no Gateway in the cluster, an apiUrl that is not a URL, a bad --via", async () => {
            // Four independent runs (each its own stand-ins and ports), at once.
            const [none, two, text, via] = await Promise.all([
                e2eScript(["--stack", "local"], { gateways: "", apiUrl: "http://cli.localtest.me" }),
                e2eScript(["--stack", "local"], { gateways: ENVOY + "other envoy-other 80\n", apiUrl: "http://cli.localtest.me" }),
                e2eScript(["--stack", "local"], { gateways: ENVOY, apiUrl: "http://localhost:8000 (kubectl port-forward ...)" }),
                e2eScript(["--via", "ingress"], { gateways: "", apiUrl: "" }),
            ]);
            assert.equal(none.code, 1);
            assert.match(
                none.stderr,
                /e2e: no Envoy Gateway data-plane Service \(label gateway\.envoyproxy\.io\/owning-gateway-name\) in the cluster; use --via service/,
            );
            assert.equal(two.code, 1);
            assert.match(two.stderr, /more than one Gateway data-plane Service/);
            assert.equal(text.code, 2);
            assert.match(text.stderr, /e2e: the stack's apiUrl "http:\/\/localhost:8000 \(kubectl port-forward \.\.\.\)" is not a URL; pass --host/);
            assert.equal(via.code, 2);
            assert.equal(via.stderr, 'e2e: --via must be gateway or service, got "ingress"\n');
        });
    });

    describe("fake LLM (tools/e2e/fake-llm)", () => {
        it("answers the service's own LLM client with code the strict validator accepts and that prints what the check expects", async () => {
            const code = await new LlmClient({ baseUrl: llmUrl, model: "gpt-4", temperature: 0.7, timeoutMs: 5000, apiKey: "sk-e2e" }).generate(
                DEFAULT_DESCRIPTION,
                "e2e-x",
            );
            assert.equal(code, fakeLlm.CODE);
            assert.deepEqual(validateCode(code, { enabled: true, strictMode: true }).problems, []);
            assert.deepEqual(execute(code, DEFAULT_ARGS), { exitCode: 0, stdout: `${DEFAULT_EXPECT}\n` });
        });

        it("rejects requests a real endpoint would reject: no key, no messages, not JSON", async () => {
            const post = (body: string, headers: Record<string, string>) =>
                fetch(`${llmUrl}/chat/completions`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body }).then(async (r) => [
                    r.status,
                    ((await r.json()) as { error: { message: string } }).error.message,
                ]);
            assert.deepEqual(await post(JSON.stringify({ model: "m", messages: [{ role: "user", content: "x" }] }), {}), [400, "missing bearer token"]);
            assert.deepEqual(await post(JSON.stringify({ model: "m", messages: [] }), { authorization: "Bearer k" }), [
                400,
                "messages must include a user message",
            ]);
            assert.deepEqual(await post("{", { authorization: "Bearer k" }), [400, "body is not JSON"]);
            const health = (await (await fetch(llmUrl.replace(/\/v1$/, "/healthz"))).json()) as { status: string };
            assert.equal(health.status, "ok");
        });

        it("manifests: valid objects, restricted pods on the service image, and exactly one extra path: api egress to the fake LLM's port", () => {
            const kustomization = YAML.parse(fs.readFileSync(path.join(E2E, "fake-llm", "kustomization.yaml"), "utf8")) as {
                resources: string[];
                configMapGenerator: { name: string; namespace: string; files: string[] }[];
            };
            for (const f of [...kustomization.resources, ...kustomization.configMapGenerator.flatMap((g) => g.files)])
                assert.ok(fs.existsSync(path.join(E2E, "fake-llm", f)), f);
            const docs = YAML.parseAllDocuments(fs.readFileSync(path.join(E2E, "fake-llm", "fake-llm.yaml"), "utf8")).map((d) => d.toJS() as { kind: string });
            assert.deepEqual(
                docs.map((d) => d.kind),
                ["Namespace", "Deployment", "Service", "NetworkPolicy"],
            );
            const ns = new Namespace(docs[0] as never);
            const deploy = new Deployment(docs[1] as never);
            const svc = new Service(docs[2] as never);
            const policy = new NetworkPolicy(docs[3] as never);
            for (const o of [ns, deploy, svc, policy]) o.validate();
            assert.equal(ns.metadata!.labels!["pod-security.kubernetes.io/enforce"], "restricted");
            const pod = deploy.spec!.template.spec!;
            const c = pod.containers[0];
            assert.equal(c.image, "cli-platform-service:e2e");
            assert.deepEqual(c.command, ["node", "/opt/fake-llm/server.js"]);
            assert.equal(pod.volumes![0].configMap!.name, kustomization.configMapGenerator[0].name);
            assert.deepEqual(
                [c.securityContext!.allowPrivilegeEscalation, c.securityContext!.readOnlyRootFilesystem, c.securityContext!.capabilities!.drop],
                [false, true, ["ALL"]],
            );
            assert.equal(pod.securityContext!.runAsNonRoot, true);
            assert.equal(svc.spec!.ports![0].port, 8080);
            assert.equal(policy.metadata!.namespace, "cli-platform");
            assert.deepEqual(policy.spec!.podSelector.matchLabels, { "app.kubernetes.io/name": "cli-api" });
            assert.deepEqual(policy.spec!.policyTypes, ["Egress"]);
            assert.deepEqual(policy.spec!.egress, [
                {
                    to: [
                        {
                            namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "cli-platform-e2e" } },
                            podSelector: { matchLabels: { "app.kubernetes.io/name": "fake-llm" } },
                        },
                    ],
                    ports: [{ protocol: "TCP", port: 8080 }],
                },
            ]);
        });

        it("kind config: the context Pulumi.local.yaml deploys into, a node image pinned by digest", () => {
            const kind = YAML.parse(fs.readFileSync(path.join(E2E, "kind-config.yaml"), "utf8")) as {
                kind: string;
                apiVersion: string;
                name: string;
                nodes: { image: string }[];
            };
            const local = YAML.parse(fs.readFileSync(path.join(ROOT, "Pulumi.local.yaml"), "utf8")) as {
                config: Record<string, { context?: string } | undefined>;
            };
            const context = local.config["cli-platform:kubernetes"]?.context ?? "kind-cli-platform";
            assert.equal([kind.kind, kind.apiVersion].join(" "), "Cluster kind.x-k8s.io/v1alpha4");
            assert.equal(`kind-${kind.name}`, context);
            for (const n of kind.nodes) assert.match(n.image, /^kindest\/node:v1\.35\.\d+@sha256:[0-9a-f]{64}$/);
        });
    });

    describe("leftovers after pulumi destroy", () => {
        const state = {
            version: 3,
            deployment: {
                resources: [
                    { type: "pulumi:pulumi:Stack", custom: false },
                    { type: "pulumi:providers:kubernetes", custom: true, outputs: { context: "kind-cli-platform" } },
                    {
                        type: "kubernetes:core/v1:Namespace",
                        custom: true,
                        outputs: { apiVersion: "v1", kind: "Namespace", metadata: { name: "cli-platform" } },
                    },
                    {
                        type: "kubernetes:apps/v1:Deployment",
                        custom: true,
                        outputs: { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "cli-api", namespace: "cli-platform" } },
                    },
                    {
                        type: "kubernetes:monitoring.coreos.com/v1:ServiceMonitor",
                        custom: true,
                        outputs: { apiVersion: "monitoring.coreos.com/v1", kind: "ServiceMonitor", metadata: { name: "cli-api", namespace: "monitoring" } },
                    },
                    {
                        type: "kubernetes:helm.sh/v3:Release",
                        custom: true,
                        outputs: { name: "kube-prometheus-stack", namespace: "monitoring", status: { name: "kube-prometheus-stack", namespace: "monitoring" } },
                    },
                    {
                        type: "kubernetes:helm.sh/v3:Release",
                        custom: true,
                        outputs: { name: "ingress-nginx", namespace: "ingress-nginx", status: { name: "ingress-nginx", namespace: "ingress-nginx" } },
                    },
                    {
                        type: "kubernetes:helm.sh/v3:Release",
                        custom: true,
                        outputs: { name: "metrics", status: { name: "metrics", namespace: "kube-system" } },
                    },
                    { type: "random:index/randomPassword:RandomPassword", custom: true, outputs: { result: "[secret]" } },
                ],
            },
        };

        it("lists the stack's Kubernetes objects, Helm releases and namespaces from the exported state", () => {
            const created = createdObjects(state);
            assert.deepEqual(created.objects, [
                { apiVersion: "v1", kind: "Namespace", name: "cli-platform" },
                { apiVersion: "apps/v1", kind: "Deployment", name: "cli-api", namespace: "cli-platform" },
                { apiVersion: "monitoring.coreos.com/v1", kind: "ServiceMonitor", name: "cli-api", namespace: "monitoring" },
            ]);
            assert.deepEqual(created.releases, [
                { name: "kube-prometheus-stack", namespace: "monitoring" },
                { name: "ingress-nginx", namespace: "ingress-nginx" },
                { name: "metrics", namespace: "kube-system" },
            ]);
            assert.deepEqual(created.namespaces, ["cli-platform", "ingress-nginx", "kube-system", "monitoring"]);
            assert.throws(() => createdObjects({ version: 3 }), /not a `pulumi stack export` document/);
        });

        it("reports what the cluster still has: objects, release records, chart-made cluster objects and namespaces, bound volumes; a removed CRD counts as gone", () => {
            const created = createdObjects(state);
            const pvs = [
                { metadata: { name: "pvc-1" }, spec: { claimRef: { namespace: "monitoring", name: "prometheus-db" } } },
                { metadata: { name: "pvc-2" }, spec: { claimRef: { namespace: "other", name: "data" } } },
            ];
            /** A cluster holding `present` (plus kube-system, and a volume of another namespace). */
            const cluster =
                (present: Set<string>): Kubectl =>
                (args, stdin) => {
                    const found = (key: string, line: string) => ({ status: 0, stdout: present.has(key) ? `${line}\n` : "", stderr: "" });
                    if (args[1] === "-f") {
                        const o = JSON.parse(stdin!) as { kind: string; metadata: { name: string; namespace?: string } };
                        if (o.kind === "ServiceMonitor")
                            return {
                                status: 1,
                                stdout: "",
                                stderr: 'error: resource mapping not found for name: "cli-api": no matches for kind "ServiceMonitor" in version "monitoring.coreos.com/v1"',
                            };
                        return found(`${o.kind} ${o.metadata.namespace ?? ""}/${o.metadata.name}`, `${o.kind.toLowerCase()}/${o.metadata.name}`);
                    }
                    if (args[1] === "secrets") return found(`release ${args[3]} ${args[5]}`, "secret/sh.helm.release.v1.x.v1");
                    if (args[1] === "namespace") return found(`Namespace /${args[2]}`, `namespace/${args[2]}`);
                    if (args[1] === "pv") return { status: 0, stdout: JSON.stringify({ items: present.has("pv") ? pvs : [pvs[1]] }), stderr: "" };
                    assert.equal(args[1], CLUSTER_SCOPED_KINDS);
                    return found(`cluster-scoped ${args[3]}`, "clusterrole.rbac.authorization.k8s.io/kube-prometheus-stack-operator");
                };
            const everything = new Set([
                "Namespace /cli-platform",
                "Deployment cli-platform/cli-api",
                "release monitoring owner=helm,name=kube-prometheus-stack",
                "cluster-scoped app.kubernetes.io/instance=kube-prometheus-stack",
                "Namespace /ingress-nginx",
                "pv",
            ]);
            assert.deepEqual(leftovers(created, cluster(everything)), [
                "Namespace cli-platform",
                "Deployment cli-platform/cli-api",
                "Helm release monitoring/kube-prometheus-stack",
                "clusterrole.rbac.authorization.k8s.io/kube-prometheus-stack-operator (Helm release kube-prometheus-stack)",
                "Namespace ingress-nginx (Helm release namespace: ingress-nginx)",
                "PersistentVolume pvc-1 (claim monitoring/prometheus-db)",
            ]);
            assert.deepEqual(leftovers(created, cluster(new Set())), []);
            const broken: Kubectl = () => ({ status: 1, stdout: "", stderr: "error: You must be logged in to the server (Unauthorized)" });
            assert.throws(
                () => leftovers(created, broken),
                /^Error: kubectl get Namespace cli-platform: error: You must be logged in to the server \(Unauthorized\)$/,
            );
            assert.deepEqual(boundVolumes({ items: [] }, ["cli-platform"]), []);
        });
    });
});
