/**
 * What tools/e2e/check.ts uses to look at a running platform: one HTTP request (with a Host header),
 * the api's Prometheus exposition and Prometheus' query answers read as numbers, polling until a
 * deadline, and the real CLI run as a child process. A failing step is a CheckFailed naming it.
 */
import { spawn } from "node:child_process";
import * as http from "node:http";
import * as https from "node:https";

export class CheckFailed extends Error {
    constructor(
        readonly step: string,
        message: string,
    ) {
        super(`${step}: ${message}`);
        this.name = "CheckFailed";
    }
}

export interface HttpResult {
    status: number;
    body: string;
}

/** One HTTP request with an optional Host header (node:http, because fetch may not override Host). */
export function request(
    url: string,
    init: { method?: string; host?: string; headers?: Record<string, string>; body?: unknown; timeoutMs: number },
): Promise<HttpResult> {
    const u = new URL(url);
    const lib = u.protocol === "https:" ? https : http;
    const payload = init.body === undefined ? undefined : JSON.stringify(init.body);
    const headers: Record<string, string> = { accept: "application/json", ...init.headers };
    if (init.host) headers.host = init.host;
    if (payload !== undefined) headers["content-type"] = "application/json";
    return new Promise((resolve, reject) => {
        const req = lib.request(
            u,
            { method: init.method ?? "GET", headers, timeout: init.timeoutMs, ...(init.host && u.protocol === "https:" ? { servername: init.host } : {}) },
            (res) => {
                let body = "";
                res.setEncoding("utf8");
                res.on("data", (c: string) => (body += c));
                res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
                res.on("error", reject);
            },
        );
        req.on("timeout", () => req.destroy(new Error(`no answer within ${init.timeoutMs} ms`)));
        req.on("error", reject);
        req.end(payload);
    });
}

/** The body as a JSON object, or undefined (an HTML error page of a load balancer, say). */
export function jsonObject(body: string): Record<string, unknown> | undefined {
    try {
        const v: unknown = JSON.parse(body);
        if (typeof v === "object" && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
    } catch {
        // not JSON
    }
    return undefined;
}

export function json(step: string, r: HttpResult): Record<string, unknown> {
    const v = jsonObject(r.body);
    if (v) return v;
    throw new CheckFailed(step, `answered ${r.status} with a body that is not a JSON object: ${JSON.stringify(r.body.slice(0, 200))}`);
}

/** `{"error":{"code","message"}}` of the API, as one short phrase. */
export function apiError(r: HttpResult): string {
    try {
        const e = (JSON.parse(r.body) as { error?: { code?: string; message?: string } }).error;
        if (e) return `${r.status} ${e.code ?? ""}: ${e.message ?? ""}`.trim();
    } catch {
        // not JSON
    }
    return `${r.status} ${r.body.slice(0, 200)}`;
}

/**
 * The sum of every sample of `name` in a Prometheus text exposition, or undefined when there is
 * none. `labels` keeps only samples whose labels include those pairs.
 */
export function metricSum(exposition: string, name: string, labels: Record<string, string> = {}): number | undefined {
    let sum: number | undefined;
    for (const line of exposition.split("\n")) {
        if (line.startsWith("#") || line.trim() === "") continue;
        const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
        if (!m || m[1] !== name) continue;
        const got = new Map<string, string>();
        for (const l of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
            got.set(
                l[1],
                l[2].replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c)),
            );
        if (Object.entries(labels).some(([k, v]) => got.get(k) !== v)) continue;
        const value = Number(m[3]);
        if (Number.isNaN(value)) continue;
        sum = (sum ?? 0) + value;
    }
    return sum;
}

/** The scalar of an instant-vector answer of Prometheus' /api/v1/query with one series, or undefined when empty. */
export function prometheusValue(body: unknown): number | undefined {
    const b = body as { status?: string; error?: string; data?: { resultType?: string; result?: { value?: [number, string] }[] } };
    if (b?.status !== "success") throw new Error(`Prometheus answered status ${JSON.stringify(b?.status)}${b?.error ? `: ${b.error}` : ""}`);
    if (b.data?.resultType !== "vector") throw new Error(`expected an instant vector, got ${JSON.stringify(b.data?.resultType)}`);
    const result = b.data.result ?? [];
    if (result.length === 0) return undefined;
    if (result.length > 1) throw new Error(`expected one series, got ${result.length}`);
    return Number(result[0].value?.[1]);
}

/** Calls `attempt` until it returns a value or the deadline passes; the last failure is the error. */
export async function poll<T>(step: string, timeoutMs: number, intervalMs: number, attempt: () => Promise<T | undefined>, waitingFor: string): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let last = "";
    for (;;) {
        try {
            const v = await attempt();
            if (v !== undefined) return v;
            last = "";
        } catch (err) {
            if (err instanceof CheckFailed) throw err;
            last = (err as Error).message;
        }
        if (Date.now() + intervalMs > deadline)
            throw new CheckFailed(step, `${waitingFor} did not happen within ${Math.round(timeoutMs / 1000)} s${last ? ` (last: ${last})` : ""}`);
        await new Promise((r) => setTimeout(r, intervalMs));
    }
}

export function runCli(
    cli: string[],
    args: string[],
    env: Record<string, string>,
    timeoutMs: number,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
        const child = spawn(cli[0], [...cli.slice(1), ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"], timeout: timeoutMs });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
        child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
        child.on("error", reject);
        child.on("close", (code) => resolve({ code, stdout, stderr }));
    });
}
