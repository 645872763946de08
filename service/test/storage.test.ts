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
                    repo.addVersion({
                        name: "race",
                        description: `v${i}`,
                        code: `function main(){return ${i}}`,
                        model: "gpt-4",
                        validation: report,
                        createdBy: "ci",
                    }),
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

    it("migrates a database created by the previous schema: old versions read as created_by 'unknown', and everything works on them", async () => {
        const pool = createPool(pg.url);
        try {
            await pool.query("CREATE DATABASE previous_schema");
        } finally {
            await pool.end();
        }
        const old = createPool(pg.url.replace(/\/cli_platform$/, "/previous_schema"));
        try {
            assert.deepEqual(await migrate(old, MIGRATIONS.slice(0, 1)), [1]);
            // Rows as the previous release wrote them.
            await old.query("INSERT INTO commands (name) VALUES ('legacy')");
            await old.query(
                `INSERT INTO command_versions (name, version, description, code, model, validation, created_at) VALUES
                 ('legacy', 1, 'first', 'function main() { return 1 }', 'gpt-4', '{"enabled":true,"strictMode":true,"valid":true,"problems":[]}', '2026-01-02T03:04:05.678Z'),
                 ('legacy', 2, 'second', 'function main() { return 2 }', 'gpt-4', '{"enabled":true,"strictMode":true,"valid":true,"problems":[]}', '2026-01-03T00:00:00Z')`,
            );
            assert.deepEqual(await migrate(old), [2]);
            const repo = new CommandRepository(old);
            const versions = await repo.versions("legacy");
            assert.deepEqual(
                versions.map((v) => [v.version, v.createdBy, v.rolledBackFrom, v.createdAt]),
                [
                    [1, "unknown", null, "2026-01-02T03:04:05.678Z"],
                    [2, "unknown", null, "2026-01-03T00:00:00.000Z"],
                ],
            );
            const rolledBack = await repo.rollback("legacy", 1, "ops");
            assert.equal(rolledBack.outcome, "stored");
            assert.deepEqual(
                rolledBack.outcome === "stored" && [
                    rolledBack.version.version,
                    rolledBack.version.code,
                    rolledBack.version.createdBy,
                    rolledBack.version.rolledBackFrom,
                ],
                [3, "function main() { return 1 }", "ops", 1],
            );
            await repo.recordRuns([
                { name: "legacy", version: 2, client: "ops", exitCode: 2, durationMs: 1.5, killed: null, startedAt: "2026-01-04T00:00:00.000Z" },
            ]);
            assert.deepEqual(await repo.runs("legacy", 10), [
                { version: 2, client: "ops", exitCode: 2, durationMs: 1.5, killed: null, startedAt: "2026-01-04T00:00:00.000Z" },
            ]);
            await assert.rejects(
                old.query("INSERT INTO command_versions (name, version, description, code, model, validation) VALUES ('legacy', 9, 'd', 'c', 'm', '{}')"),
                /null value in column "created_by"/,
                "new rows must say who created them",
            );
        } finally {
            await old.end();
        }
    });

    it("concurrent rollbacks and evolutions of one command keep versions dense and ordered", async () => {
        const pool = createPool(pg.url);
        try {
            await migrate(pool);
            const repo = new CommandRepository(pool);
            const report = { enabled: true, strictMode: true, valid: true, problems: [] };
            const codeOf = (i: number) => `function main() { return ${i} }`;
            for (let i = 1; i <= 3; i++)
                await repo.addVersion({ name: "busy", description: `v${i}`, code: codeOf(i), model: "gpt-4", validation: report, createdBy: "seed" });
            // 12 evolutions and 12 rollbacks (to versions 1, 2, 3 in turn), all at once.
            const results = await Promise.all(
                Array.from({ length: 24 }, (_, i) =>
                    i % 2 === 0
                        ? repo.addVersion({
                              name: "busy",
                              description: `new ${i}`,
                              code: codeOf(100 + i),
                              model: "gpt-4",
                              validation: report,
                              createdBy: "evolver",
                          })
                        : repo.rollback("busy", (((i - 1) / 2) % 3) + 1, "roller"),
                ),
            );
            const versions = await repo.versions("busy");
            assert.deepEqual(
                versions.map((v) => v.version),
                Array.from({ length: 27 }, (_, i) => i + 1),
                "dense: 1..27 with no gap or duplicate",
            );
            assert.equal(results.filter((r) => "outcome" in r && r.outcome !== "stored").length, 0, "no rollback target was the latest version");
            for (const v of versions.filter((x) => x.rolledBackFrom !== null)) {
                assert.ok(v.rolledBackFrom! < v.version, "a rollback copies an older version");
                assert.equal(v.code, codeOf(v.rolledBackFrom!), `v${v.version} is a copy of v${v.rolledBackFrom}`);
                assert.equal(v.createdBy, "roller");
            }
            assert.equal(versions.filter((x) => x.rolledBackFrom !== null).length, 12);
            const created = versions.map((v) => Date.parse(v.createdAt));
            assert.deepEqual(
                created,
                [...created].sort((a, b) => a - b),
                "ordered: a higher version was never stored before a lower one",
            );
        } finally {
            await pool.end();
        }
    });
});
