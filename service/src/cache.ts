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

/** Key of a command's serialised version list (GET /commands/:name). v2: bodies carry createdBy and rolledBackFrom (migration 2), so bodies cached by older replicas are never served. */
export function commandKey(name: string): string {
    return `cli-platform:command:v2:${name}`;
}

/** Seconds a replica keeps a command list in memory before asking Redis again (bounded staleness across replicas). */
export const LOCAL_TTL_MS = 1000;
const LOCAL_MAX_ENTRIES = 1000;

export class GenerationCache {
    /** Per-replica micro-cache of GET /commands/:name bodies (their bytes, sent as they are), in front of Redis. */
    private readonly local = new Map<string, { body: Buffer; expires: number }>();

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
        await this.write(() => this.redis.set(key, JSON.stringify(value), "EX", this.ttlSeconds));
    }

    /** The body of GET /commands/:name this replica holds (fetched less than LOCAL_TTL_MS ago), if any; synchronous. */
    heldCommand(name: string): Buffer | undefined {
        const local = this.local.get(name);
        return local && local.expires > Date.now() ? local.body : undefined;
    }

    /** The cached response body of GET /commands/:name, if any: this replica's, else Redis's. */
    async getCommand(name: string): Promise<Buffer | undefined> {
        const held = this.heldCommand(name);
        if (held !== undefined) return held;
        let body: Buffer | undefined;
        try {
            body = (await this.redis.getBuffer(commandKey(name))) ?? undefined;
        } catch {
            return undefined;
        }
        if (body !== undefined) this.remember(name, body);
        return body;
    }

    async setCommand(name: string, body: string): Promise<void> {
        this.remember(name, Buffer.from(body));
        await this.write(() => this.redis.set(commandKey(name), body, "EX", this.ttlSeconds));
    }

    /** Called when a version is stored: this replica forgets at once, the others within LOCAL_TTL_MS. */
    async invalidateCommand(name: string): Promise<void> {
        this.local.delete(name);
        await this.write(() => this.redis.del(commandKey(name)));
    }

    private remember(name: string, body: Buffer): void {
        if (this.local.size >= LOCAL_MAX_ENTRIES) this.local.delete(this.local.keys().next().value!);
        this.local.set(name, { body, expires: Date.now() + LOCAL_TTL_MS });
    }

    private async write(op: () => Promise<unknown>): Promise<void> {
        try {
            await op();
        } catch (err) {
            this.metrics.cacheRequests.inc({ result: "error" });
            this.log.warn({ err: (err as Error).message }, "could not write the cache");
        }
    }
}
