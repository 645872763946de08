/**
 * The stand-ins the end-to-end check's tests run against, offline: a fake LLM (tools/e2e/fake-llm)
 * and a stand-in platform (real HTTP: the api's routes, its /metrics, a Prometheus query endpoint
 * and a Gateway), with the real `cli-platform` CLI from source.
 */
import * as assert from "node:assert/strict";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import * as vm from "node:vm";
import { LlmClient } from "../../service/src/llm";
import { validateCode } from "../../service/src/validation";
import { COMMAND_RUNS, GENERATION_ATTEMPTS, GENERATION_SUCCESS } from "../../tools/e2e/check";
import { ROOT } from "../harness";

export const E2E = path.join(ROOT, "tools", "e2e");
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const fakeLlm = require("../../tools/e2e/fake-llm/server.js") as { createServer: () => http.Server; CODE: string };
export const TOKEN = "e2e-token-0123456789abcdef";
export const GATEWAY_HOST = "cli.localtest.me";
/** The real CLI, from source (compiled by the same require hook as the program). */
export const CLI = [process.execPath, "-r", path.join(ROOT, "tools", "register.js"), path.join(ROOT, "service", "src", "cli.ts")];

export async function listen(server: http.Server): Promise<string> {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Runs a command's code the way the runner's contract says (main(args), console output, exit code). Test-only: our own code. */
export function execute(code: string, args: string[]): { exitCode: number; stdout: string } {
    let stdout = "";
    const exitCode = vm.runInNewContext(`${code}\nmain(args)`, { args, console: { log: (...a: unknown[]) => (stdout += `${a.join(" ")}\n`) } }) as number;
    return { exitCode, stdout };
}

export interface Platform {
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
export async function startPlatform(llmUrl: string): Promise<Platform> {
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

/**
 * Registers the hooks of a describe block that needs the stand-ins: the fake LLM for the whole
 * block (its URL handed to `set.llmUrl`, when given) and, when `set.platform` is given, a new stand-in platform
 * for every test.
 */
export function useStandIns(set: { llmUrl?: (url: string) => void; platform?: (platform: Platform) => void }): void {
    let llmServer: http.Server;
    let llmUrl = "";
    before(async () => {
        llmServer = fakeLlm.createServer();
        llmUrl = `${await listen(llmServer)}/v1`;
        set.llmUrl?.(llmUrl);
    });
    after(() => new Promise((r) => llmServer.close(r)));
    if (set.platform) {
        let platform: Platform;
        beforeEach(async () => {
            platform = await startPlatform(llmUrl);
            set.platform!(platform);
        });
        afterEach(() => platform.close());
    }
}
