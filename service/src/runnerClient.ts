/** The api's client of the runner (POST /run); what the runner answers is validated before use. */
import { z } from "zod";
import type { SandboxResult } from "./runner/sandbox";

export class RunnerUnavailableError extends Error {}

/** The runner's answer to POST /run: one sandbox execution. */
export const runResultSchema = z.object({
    exitCode: z.int(),
    stdout: z.string(),
    stderr: z.string(),
    durationMs: z.number().nonnegative(),
    /** Why the sandbox was killed, if it was. */
    killed: z.enum(["timeout", "memory"]).optional(),
    truncated: z.boolean(),
}) satisfies z.ZodType<SandboxResult>;
export type RunResult = z.infer<typeof runResultSchema>;

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
            if (!response.ok) {
                const message = (body as { error?: { message?: unknown } }).error?.message;
                throw new RunnerUnavailableError(`the runner answered ${response.status}: ${typeof message === "string" ? message : "no detail"}`);
            }
            const result = runResultSchema.safeParse(body);
            if (!result.success) {
                const issue = result.error.issues[0];
                throw new RunnerUnavailableError(`the runner answered an unexpected body: ${issue.path.join(".") || "(root)"}: ${issue.message}`);
            }
            return result.data;
        } catch (err) {
            if (err instanceof RunnerUnavailableError) throw err;
            throw new RunnerUnavailableError(
                controller.signal.aborted ? "the runner did not answer in time" : `the runner could not be reached: ${(err as Error).message}`,
            );
        } finally {
            clearTimeout(timer);
        }
    }
}
