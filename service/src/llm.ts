/** OpenAI-compatible chat-completions client (plain fetch; the API is one POST). */

export class LlmUnavailableError extends Error {}
export class LlmTimeoutError extends Error {}
export class LlmError extends Error {}

export interface LlmOptions {
    baseUrl: string;
    model: string;
    temperature: number;
    timeoutMs: number;
    apiKey?: string;
}

export const SYSTEM_PROMPT = [
    "You write command implementations for a CLI platform.",
    "Answer with JavaScript only (no Markdown, no prose): a script that defines `function main(args)`.",
    "`args` is an array of strings. Print with console.log / console.error; return an integer exit code (0 on success).",
    "Use only the language itself: no require, import, process, eval, Function, timers, network or filesystem.",
].join("\n");

/** Strips a Markdown code fence if the model added one anyway. */
export function extractCode(content: string): string {
    const fence = /```(?:javascript|js)?\s*\n([\s\S]*?)```/i.exec(content);
    return (fence ? fence[1] : content).trim();
}

export class LlmClient {
    constructor(private readonly options: LlmOptions) {}

    get configured(): boolean {
        return this.options.apiKey !== undefined;
    }

    get model(): string {
        return this.options.model;
    }

    get temperature(): number {
        return this.options.temperature;
    }

    /** Asks the model for an implementation of `description`. */
    async generate(description: string, name: string): Promise<string> {
        if (!this.options.apiKey) throw new LlmUnavailableError("no LLM API key is configured (OPENAI_API_KEY)");
        const controller = new AbortController();
        const timer = setTimeout(() => controller.abort(), this.options.timeoutMs);
        let response: Response;
        try {
            response = await fetch(`${this.options.baseUrl}/chat/completions`, {
                method: "POST",
                headers: { "content-type": "application/json", authorization: `Bearer ${this.options.apiKey}` },
                body: JSON.stringify({
                    model: this.options.model,
                    temperature: this.options.temperature,
                    messages: [
                        { role: "system", content: SYSTEM_PROMPT },
                        { role: "user", content: `Command name: ${name}\nWhat it does: ${description}` },
                    ],
                }),
                signal: controller.signal,
            });
        } catch (err) {
            if (controller.signal.aborted) throw new LlmTimeoutError(`the LLM did not answer within ${this.options.timeoutMs} ms`);
            throw new LlmError(`the LLM could not be reached: ${(err as Error).message}`);
        } finally {
            clearTimeout(timer);
        }
        let body: unknown;
        try {
            body = await response.json();
        } catch {
            throw new LlmError(`the LLM answered ${response.status} with a body that is not JSON`);
        }
        if (!response.ok) {
            const detail = (body as { error?: { message?: string } })?.error?.message ?? "";
            throw new LlmError(`the LLM answered ${response.status}${detail ? `: ${detail.slice(0, 200)}` : ""}`);
        }
        const content = (body as { choices?: { message?: { content?: unknown } }[] })?.choices?.[0]?.message?.content;
        if (typeof content !== "string" || content.trim() === "") throw new LlmError("the LLM answer has no message content");
        return extractCode(content);
    }
}
