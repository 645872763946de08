/**
 * tools/e2e/check.ts against a stand-in platform (real HTTP, the real `cli-platform` CLI): both modes, every failure message, the command line.
 */
import * as assert from "node:assert/strict";
import { createApiMetrics, createRunnerMetrics } from "../../service/src/metrics";
import { DEFAULT_OPTIONS, parseArgs, runChecks, type CheckOptions, type Mode } from "../../tools/e2e/check";
import { metricSum, prometheusValue } from "../../tools/e2e/probes";
import { CLI, GATEWAY_HOST, startPlatform, TOKEN, useStandIns, type Platform } from "./stand-in";

describe("end-to-end check (tools/e2e/check.ts)", () => {
    let llmUrl: string;
    let platform: Platform;
    useStandIns({ llmUrl: (u) => (llmUrl = u), platform: (p) => (platform = p) });

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
});
