/**
 * Generation cache in Redis. A failing Redis never fails a request: look-ups and writes degrade to
 * a miss, are logged and counted (cache_requests_total{result="error"}).
 */
import { createHash } from "node:crypto";
import type Redis from "ioredis";
import type { Logger } from "./logger";
import type { ApiMetrics } from "./metrics";

export interface CachedGeneration {
    code: string;
}

export function cacheKey(description: string, model: string, temperature: number): string {
    const digest = createHash("sha256")
        .update(JSON.stringify([description, model, temperature]))
        .digest("hex");
    return `cli-platform:generation:v1:${digest}`;
}

export class GenerationCache {
    constructor(
        private readonly redis: Redis,
        private readonly ttlSeconds: number,
        private readonly log: Logger,
        private readonly metrics: ApiMetrics,
    ) {}

    async get(key: string): Promise<CachedGeneration | undefined> {
        try {
            const raw = await this.redis.get(key);
            this.metrics.cacheRequests.inc({ result: raw === null ? "miss" : "hit" });
            return raw === null ? undefined : (JSON.parse(raw) as CachedGeneration);
        } catch (err) {
            this.metrics.cacheRequests.inc({ result: "error" });
            this.log.warn({ err: (err as Error).message }, "generation cache unavailable; continuing without it");
            return undefined;
        }
    }

    async set(key: string, value: CachedGeneration): Promise<void> {
        try {
            await this.redis.set(key, JSON.stringify(value), "EX", this.ttlSeconds);
        } catch (err) {
            this.metrics.cacheRequests.inc({ result: "error" });
            this.log.warn({ err: (err as Error).message }, "could not write the generation cache");
        }
    }
}
