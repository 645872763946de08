/** The api's client of the runner (POST /run); what the runner answers is validated before use. */
import { HttpError } from "./http";
import { type RunResult, runResultSchema } from "./schemas";

export class RunnerUnavailableError extends Error {}

/**
 * The runner answered 429 (every sandbox busy and its queue full): passed on to the api's caller as
 * 429 with the runner's Retry-After, not as a 502.
 */
export class RunnerBusyError extends HttpError {
    constructor(message: string, retryAfterSeconds: number) {
        super(429, "runner_busy", message, undefined, { "retry-after": String(retryAfterSeconds) });
    }
}

/** Retry-After as whole seconds (1 to 60); anything else the runner sends becomes 1. */
function retryAfterSeconds(header: string | null): number {
    const n = Number(header);
    return Number.isInteger(n) && n >= 1 && n <= 60 ? n : 1;
}

export class RunnerClient {
    constructor(private readonly options: { url: string; token?: string }) {}

    async run(code: string, args: string[], timeoutMs: number): Promise<RunResult> {
        const controller = new AbortController();
        const timer = setTimeout(() => controller.abort(), timeoutMs + 5000);
        try {
            const response = await fetch(`${this.options.url}/run`, {
                method: "POST",
                headers: { "content-type": "application/json", ...(this.options.token ? { "x-runner-token": this.options.token } : {}) },
                body: JSON.stringify({ code, args, timeoutMs }),
                signal: controller.signal,
            });
            const body: unknown = await response.json().catch(() => ({}));
            const message = (body as { error?: { message?: unknown } }).error?.message;
            const detail = typeof message === "string" ? message : "no detail";
            if (response.status === 429) throw new RunnerBusyError(`the runner is busy: ${detail}`, retryAfterSeconds(response.headers.get("retry-after")));
            if (!response.ok) throw new RunnerUnavailableError(`the runner answered ${response.status}: ${detail}`);
            const result = runResultSchema.safeParse(body);
            if (!result.success) {
                const issue = result.error.issues[0];
                throw new RunnerUnavailableError(`the runner answered an unexpected body: ${issue.path.join(".") || "(root)"}: ${issue.message}`);
            }
            return result.data;
        } catch (err) {
            if (err instanceof RunnerUnavailableError || err instanceof RunnerBusyError) throw err;
            throw new RunnerUnavailableError(
                controller.signal.aborted ? "the runner did not answer in time" : `the runner could not be reached: ${(err as Error).message}`,
            );
        } finally {
            clearTimeout(timer);
        }
    }
}
