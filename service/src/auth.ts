/** Who is calling: bearer tokens → client names, compared in constant time. */
import { timingSafeEqual } from "node:crypto";
import type { ApiClient } from "./clients";

/**
 * A matcher from a presented bearer token to its client's name (undefined: no client). Every
 * configured token is compared with `timingSafeEqual`, with no early exit, so the time taken does
 * not say which client (if any) matched. Only a length mismatch skips the byte compare; lengths are
 * not secret (tokens are generated at a fixed length).
 */
export function clientMatcher(clients: readonly ApiClient[]): (presented: string | undefined) => string | undefined {
    const entries = clients.map((c) => ({ name: c.name, token: Buffer.from(c.token) }));
    return (presented) => {
        if (presented === undefined) return undefined;
        const p = Buffer.from(presented);
        let match: string | undefined;
        for (const e of entries) if (e.token.length === p.length && timingSafeEqual(p, e.token)) match = e.name;
        return match;
    };
}
