#!/usr/bin/env node
/**
 * The `cli-platform` command: talks to the API at CLI_PLATFORM_URL with CLI_PLATFORM_TOKEN.
 * `status` is the container's exec probe (exit 0 when the API is ready). Errors are one line on
 * stderr and a non-zero exit code.
 */
import { Command, CommanderError } from "commander";
import type { z } from "zod";
import {
    commandListSchema,
    commandSchema,
    errorSchema,
    evolveResponseSchema,
    MAX_RUNS_LIMIT,
    notReadySchema,
    readySchema,
    rollbackResponseSchema,
    runResponseSchema,
    runsResponseSchema,
} from "./schemas";
import { PORTS } from "./ports";

export class CliError extends Error {
    constructor(
        message: string,
        readonly exitCode = 1,
    ) {
        super(message);
    }
}

interface Io {
    out: (s: string) => void;
    err: (s: string) => void;
    env: NodeJS.ProcessEnv;
    fetch: typeof fetch;
}

interface Settings {
    url: string;
    token?: string;
    timeoutMs: number;
}

function settings(env: NodeJS.ProcessEnv, timeout: string): Settings {
    const url = (env.CLI_PLATFORM_URL ?? `http://127.0.0.1:${PORTS.api}`).replace(/\/+$/, "");
    try {
        new URL(url);
    } catch {
        throw new CliError(`CLI_PLATFORM_URL is not a URL: "${url}"`, 2);
    }
    const timeoutMs = Number(timeout);
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new CliError(`--timeout must be a positive number of milliseconds, got "${timeout}"`, 2);
    return { url, token: env.CLI_PLATFORM_TOKEN, timeoutMs };
}

/**
 * One request to the api. `expect` maps each status the caller accepts to the schema its body must
 * match; a body that does not match is an error naming the field. Any other status is a failure
 * carrying the api's error message.
 */
async function call<E extends Record<number, z.ZodType>>(
    io: Io,
    s: Settings,
    method: string,
    path: string,
    expect: E,
    body?: unknown,
    auth = true,
): Promise<{ [K in keyof E]: { status: K; body: z.output<E[K]> } }[keyof E]> {
    if (auth && !s.token) throw new CliError("CLI_PLATFORM_TOKEN is not set");
    let response: Response;
    try {
        response = await io.fetch(`${s.url}${path}`, {
            method,
            headers: { ...(body === undefined ? {} : { "content-type": "application/json" }), ...(auth ? { authorization: `Bearer ${s.token}` } : {}) },
            body: body === undefined ? undefined : JSON.stringify(body),
            signal: AbortSignal.timeout(s.timeoutMs),
        });
    } catch (err) {
        const e = err as Error;
        throw new CliError(
            e.name === "TimeoutError"
                ? `${s.url} did not answer within ${s.timeoutMs} ms`
                : `cannot reach ${s.url}: ${(e.cause as Error | undefined)?.message ?? e.message}`,
        );
    }
    const json: unknown = await response.json().catch(() => undefined);
    const schema = expect[response.status];
    if (schema === undefined) {
        const error = errorSchema.safeParse(json);
        throw new CliError(`${response.status}: ${error.success ? error.data.error.message : "request failed"}`);
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new CliError(`unexpected answer from ${method} ${path} (${response.status}): ${issue.path.join(".") || "(root)"}: ${issue.message}`);
    }
    return { status: response.status, body: parsed.data } as { [K in keyof E]: { status: K; body: z.output<E[K]> } }[keyof E];
}

export function buildProgram(io: Io): Command {
    const program = new Command("cli-platform")
        .description("Client of the Self-Evolving CLI Platform (CLI_PLATFORM_URL, CLI_PLATFORM_TOKEN)")
        .option("--timeout <ms>", "request timeout in milliseconds", "10000")
        .option("--json", "print raw JSON responses")
        .exitOverride()
        .configureOutput({ writeOut: io.out, writeErr: io.err, outputError: () => undefined })
        .showHelpAfterError(false);
    const ctx = () => ({ s: settings(io.env, program.opts<{ timeout: string }>().timeout), json: Boolean(program.opts<{ json?: boolean }>().json) });
    const print = (asJson: boolean, value: unknown, text: string) => io.out(asJson ? `${JSON.stringify(value, null, 2)}\n` : text);

    program
        .command("status")
        .description("exit 0 when the API is ready (PostgreSQL answers; Redis down is reported, not fatal); the container's probe")
        .action(async () => {
            const { s, json } = ctx();
            const r = await call(io, s, "GET", "/ready", { 200: readySchema, 503: notReadySchema }, undefined, false);
            if (r.status === 503) throw new CliError(`not ready: ${r.body.failing.join(", ") || r.body.status}`);
            print(json, r.body, r.body.degraded.length > 0 ? `ready (degraded: ${r.body.degraded.join(", ")})\n` : "ready\n");
        });

    program
        .command("evolve")
        .description("generate a new command (or a new version of one) from a description")
        .argument("<description...>", "what the command should do")
        .option("-n, --name <name>", "command name (default: derived from the description)")
        .action(async (words: string[], opts: { name?: string }) => {
            const { s, json } = ctx();
            const { body } = await call(
                io,
                s,
                "POST",
                "/evolve",
                { 200: evolveResponseSchema, 201: evolveResponseSchema },
                {
                    description: words.join(" "),
                    ...(opts.name ? { name: opts.name } : {}),
                },
            );
            print(json, body, `${body.name} v${body.version}${body.cached ? " (from cache)" : ""}${body.created ? "" : " (unchanged)"}\n`);
        });

    program
        .command("list")
        .description("list commands and their latest versions")
        .action(async () => {
            const { s, json } = ctx();
            const { body } = await call(io, s, "GET", "/commands", { 200: commandListSchema });
            print(json, body, body.commands.map((c) => `${c.name}\tv${c.latestVersion}\t${c.description}\n`).join("") || "no commands yet\n");
        });

    program
        .command("show")
        .description("show every version of a command")
        .argument("<name>")
        .action(async (name: string) => {
            const { s, json } = ctx();
            const { body } = await call(io, s, "GET", `/commands/${encodeURIComponent(name)}`, { 200: commandSchema });
            print(
                json,
                body,
                body.versions
                    .map(
                        (v) =>
                            `# ${name} v${v.version} (${v.createdAt}, by ${v.createdBy}${v.rolledBackFrom === null ? "" : `, rollback to v${v.rolledBackFrom}`}): ${v.description}\n${v.code}\n`,
                    )
                    .join("\n"),
            );
        });

    program
        .command("run")
        .description("run the latest version of a command (or --version N); exits with its exit code")
        .argument("<name>")
        .argument("[args...]")
        .option("--version <n>", "run this version instead of the latest")
        .allowUnknownOption()
        .action(async (name: string, args: string[], opts: { version?: string }) => {
            const { s, json } = ctx();
            const version = opts.version === undefined ? undefined : positiveInt("--version", opts.version);
            const { body } = await call(io, s, "POST", `/commands/${encodeURIComponent(name)}/run`, { 200: runResponseSchema }, { args, version });
            if (json) io.out(`${JSON.stringify(body, null, 2)}\n`);
            else {
                if (body.stdout) io.out(body.stdout);
                if (body.stderr) io.err(body.stderr);
            }
            const code = body.exitCode;
            if (code !== 0) throw new CliError("", code > 0 && code < 256 ? code : 1);
        });

    program
        .command("runs")
        .description("list the recent runs of a command, newest first")
        .argument("<name>")
        .option("--limit <n>", `how many (at most ${MAX_RUNS_LIMIT})`, "20")
        .action(async (name: string, opts: { limit: string }) => {
            const { s, json } = ctx();
            const limit = positiveInt("--limit", opts.limit);
            const { body } = await call(io, s, "GET", `/commands/${encodeURIComponent(name)}/runs?limit=${limit}`, { 200: runsResponseSchema });
            print(
                json,
                body,
                body.runs
                    .map(
                        (r) =>
                            `${r.startedAt}\tv${r.version}\t${r.client}\texit ${r.exitCode}${r.killed ? ` (killed: ${r.killed})` : ""}\t${Math.round(r.durationMs)} ms\n`,
                    )
                    .join("") || "no runs yet\n",
            );
        });

    program
        .command("rollback")
        .description("make an earlier version the one that runs by default (stored as a new version copied from it)")
        .argument("<name>")
        .argument("<version>")
        .action(async (name: string, version: string) => {
            const { s, json } = ctx();
            const { body } = await call(
                io,
                s,
                "POST",
                `/commands/${encodeURIComponent(name)}/rollback`,
                { 200: rollbackResponseSchema, 201: rollbackResponseSchema },
                { version: positiveInt("version", version) },
            );
            print(
                json,
                body,
                body.created ? `${body.name} v${body.version} (copy of v${body.rolledBackFrom})\n` : `${body.name} v${body.version} already is the latest\n`,
            );
        });

    return program;
}

function positiveInt(what: string, value: string): number {
    const n = Number(value);
    if (!/^[0-9]+$/.test(value) || !Number.isSafeInteger(n) || n < 1) throw new CliError(`${what} must be a positive integer, got "${value}"`, 2);
    return n;
}

/** Runs the CLI; returns the exit code instead of exiting (tests call this). */
export async function runCli(argv: string[], io: Io): Promise<number> {
    const program = buildProgram(io);
    try {
        await program.parseAsync(argv, { from: "user" });
        return 0;
    } catch (err) {
        if (err instanceof CommanderError) {
            if (err.code === "commander.helpDisplayed" || err.code === "commander.version" || err.exitCode === 0) return 0;
            io.err(`cli-platform: ${err.message.replace(/^error: /, "").split("\n")[0]}\n`);
            return 2;
        }
        if (err instanceof CliError) {
            if (err.message) io.err(`cli-platform: ${err.message}\n`);
            return err.exitCode;
        }
        io.err(`cli-platform: ${(err as Error).message}\n`);
        return 1;
    }
}

if (require.main === module) {
    runCli(process.argv.slice(2), {
        out: (s) => process.stdout.write(s),
        err: (s) => process.stderr.write(s),
        env: process.env,
        fetch,
    }).then((code) => process.exit(code));
}
