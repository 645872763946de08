#!/usr/bin/env node
/**
 * The `cli-platform` command: talks to the API at CLI_PLATFORM_URL with CLI_PLATFORM_TOKEN.
 * `status` is the container's exec probe (exit 0 when the API is ready). Errors are one line on
 * stderr and a non-zero exit code.
 */
import { Command, CommanderError } from "commander";
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

async function call(
    io: Io,
    s: Settings,
    method: string,
    path: string,
    body?: unknown,
    auth = true,
): Promise<{ status: number; json: Record<string, unknown> }> {
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
    const json = (await response.json().catch(() => ({}))) as Record<string, unknown>;
    return { status: response.status, json };
}

function failure(status: number, json: Record<string, unknown>): CliError {
    const error = json.error as { message?: string } | undefined;
    return new CliError(`${status}: ${error?.message ?? "request failed"}`);
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
            const { status, json: body } = await call(io, s, "GET", "/ready", undefined, false);
            if (status !== 200) throw new CliError(`not ready: ${((body.failing as string[] | undefined) ?? []).join(", ") || String(body.status ?? status)}`);
            const degraded = (body.degraded as string[] | undefined) ?? [];
            print(json, body, degraded.length > 0 ? `ready (degraded: ${degraded.join(", ")})\n` : "ready\n");
        });

    program
        .command("evolve")
        .description("generate a new command (or a new version of one) from a description")
        .argument("<description...>", "what the command should do")
        .option("-n, --name <name>", "command name (default: derived from the description)")
        .action(async (words: string[], opts: { name?: string }) => {
            const { s, json } = ctx();
            const { status, json: body } = await call(io, s, "POST", "/evolve", { description: words.join(" "), ...(opts.name ? { name: opts.name } : {}) });
            if (status !== 200 && status !== 201) throw failure(status, body);
            print(json, body, `${body.name} v${body.version}${body.cached ? " (from cache)" : ""}${body.created ? "" : " (unchanged)"}\n`);
        });

    program
        .command("list")
        .description("list commands and their latest versions")
        .action(async () => {
            const { s, json } = ctx();
            const { status, json: body } = await call(io, s, "GET", "/commands");
            if (status !== 200) throw failure(status, body);
            const commands = body.commands as { name: string; latestVersion: number; description: string }[];
            print(json, body, commands.map((c) => `${c.name}\tv${c.latestVersion}\t${c.description}\n`).join("") || "no commands yet\n");
        });

    program
        .command("show")
        .description("show every version of a command")
        .argument("<name>")
        .action(async (name: string) => {
            const { s, json } = ctx();
            const { status, json: body } = await call(io, s, "GET", `/commands/${encodeURIComponent(name)}`);
            if (status !== 200) throw failure(status, body);
            const versions = body.versions as { version: number; createdAt: string; description: string; code: string }[];
            print(json, body, versions.map((v) => `# ${name} v${v.version} (${v.createdAt}): ${v.description}\n${v.code}\n`).join("\n"));
        });

    program
        .command("run")
        .description("run the latest version of a command; exits with its exit code")
        .argument("<name>")
        .argument("[args...]")
        .allowUnknownOption()
        .action(async (name: string, args: string[]) => {
            const { s, json } = ctx();
            const { status, json: body } = await call(io, s, "POST", `/commands/${encodeURIComponent(name)}/run`, { args });
            if (status !== 200) throw failure(status, body);
            if (json) io.out(`${JSON.stringify(body, null, 2)}\n`);
            else {
                if (body.stdout) io.out(String(body.stdout));
                if (body.stderr) io.err(String(body.stderr));
            }
            const code = Number(body.exitCode);
            if (code !== 0) throw new CliError("", Number.isInteger(code) && code > 0 && code < 256 ? code : 1);
        });

    return program;
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
