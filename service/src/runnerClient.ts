/** The api's client of the runner (POST /run). */
import type { SandboxResult } from "./runner/sandbox";

export class RunnerUnavailableError extends Error {}

export class RunnerClient {
    constructor(private readonly options: { url: string; token?: string }) {}

    async run(code: string, args: string[], timeoutMs: number): Promise<SandboxResult> {
        const controller = new AbortController();
        const timer = setTimeout(() => controller.abort(), timeoutMs + 5000);
        try {
            const response = await fetch(`${this.options.url}/run`, {
                method: "POST",
                headers: { "content-type": "application/json", ...(this.options.token ? { "x-runner-token": this.options.token } : {}) },
                body: JSON.stringify({ code, args, timeoutMs }),
                signal: controller.signal,
            });
            const body = (await response.json().catch(() => ({}))) as SandboxResult & { error?: { message?: string } };
            if (!response.ok) throw new RunnerUnavailableError(`the runner answered ${response.status}: ${body.error?.message ?? "no detail"}`);
            return body;
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
