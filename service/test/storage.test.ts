import * as assert from "node:assert/strict";
import { CommandRepository, createPool, migrate, MIGRATIONS } from "../src/db";
import { PostgresServer, stopAll } from "./support";

describe("storage (real PostgreSQL)", function () {
    this.timeout(60_000);
    let pg: PostgresServer;
    before(async () => {
        pg = await PostgresServer.start();
    });
    after(stopAll);

    it("replicas migrating at the same time apply each migration exactly once", async () => {
        const pools = Array.from({ length: 6 }, () => createPool(pg.url));
        try {
            const results = await Promise.all(pools.map((p) => migrate(p)));
            const applied = results.flat();
            assert.deepEqual(
                applied,
                MIGRATIONS.map((m) => m.version),
                `applied: ${JSON.stringify(results)}`,
            );
            const { rows } = await pools[0].query("SELECT version FROM schema_migrations ORDER BY version");
            assert.deepEqual(
                rows.map((r: { version: number }) => r.version),
                MIGRATIONS.map((m) => m.version),
            );
            assert.deepEqual(await migrate(pools[0]), [], "a second run applies nothing");
        } finally {
            await Promise.all(pools.map((p) => p.end()));
        }
    });

    it("concurrent writers of one command get distinct, consecutive versions", async () => {
        const pool = createPool(pg.url);
        try {
            await migrate(pool);
            const repo = new CommandRepository(pool);
            const report = { enabled: true, strictMode: true, valid: true, problems: [] };
            const stored = await Promise.all(
                Array.from({ length: 8 }, (_, i) =>
                    repo.addVersion({ name: "race", description: `v${i}`, code: `function main(){return ${i}}`, model: "gpt-4", validation: report }),
                ),
            );
            assert.deepEqual(
                stored.map((s) => s.version).sort((a, b) => a - b),
                [1, 2, 3, 4, 5, 6, 7, 8],
            );
            assert.equal((await repo.latest("race"))!.version, 8);
        } finally {
            await pool.end();
        }
    });
});
