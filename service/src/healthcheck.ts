/**
 * The image's HEALTHCHECK: healthy when the api (PORT) or the runner (RUNNER_PORT) in this
 * container answers GET /health. One script serves both entry points.
 */
import { PORTS } from "./ports";

async function healthy(port: string | undefined, fallback: number): Promise<boolean> {
    try {
        const res = await fetch(`http://127.0.0.1:${port ?? fallback}/health`, { signal: AbortSignal.timeout(2000) });
        return res.ok;
    } catch {
        return false;
    }
}

if (require.main === module) {
    void (async () => {
        const ok = (await healthy(process.env.PORT, PORTS.api)) || (await healthy(process.env.RUNNER_PORT, PORTS.runner));
        process.exit(ok ? 0 : 1);
    })();
}
