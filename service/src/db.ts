/**
 * PostgreSQL access: the schema migrations (applied at startup under an advisory lock, so replicas
 * starting together never race) and the command repository.
 */
import type { Pool, PoolClient } from "pg";
import { z } from "zod";
import type { ValidationReport } from "./validation";

/** Migrations in order; each runs once, in its own transaction. Never edit one that shipped. */
export const MIGRATIONS: { version: number; name: string; sql: string }[] = [
    {
        version: 1,
        name: "commands",
        sql: `
            CREATE TABLE commands (
                name        text PRIMARY KEY,
                created_at  timestamptz NOT NULL DEFAULT now()
            );
            CREATE TABLE command_versions (
                name         text NOT NULL REFERENCES commands (name) ON DELETE CASCADE,
                version      integer NOT NULL CHECK (version > 0),
                description  text NOT NULL,
                code         text NOT NULL,
                model        text NOT NULL,
                validation   jsonb NOT NULL,
                created_at   timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (name, version)
            );`,
    },
    {
        version: 2,
        name: "audit",
        sql: `
            ALTER TABLE command_versions ADD COLUMN created_by text NOT NULL DEFAULT 'unknown';
            ALTER TABLE command_versions ALTER COLUMN created_by DROP DEFAULT;
            ALTER TABLE command_versions ADD COLUMN rolled_back_from integer;
            ALTER TABLE command_versions ADD FOREIGN KEY (name, rolled_back_from) REFERENCES command_versions (name, version);
            CREATE TABLE runs (
                id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                name         text NOT NULL,
                version      integer NOT NULL,
                client       text NOT NULL,
                exit_code    integer NOT NULL,
                duration_ms  double precision NOT NULL CHECK (duration_ms >= 0),
                killed       text,
                started_at   timestamptz NOT NULL,
                FOREIGN KEY (name, version) REFERENCES command_versions (name, version) ON DELETE CASCADE
            );
            CREATE INDEX runs_newest_first ON runs (name, started_at DESC, id DESC);`,
    },
];

/** Arbitrary but fixed: the advisory lock every replica takes to migrate. */
export const MIGRATION_LOCK_ID = 7_318_204_551;

export class DatabaseUnavailableError extends Error {}

/**
 * The stored records, declared once: the repository selects columns under these field names (the
 * SELECT lists below), the routes serialize them from these schemas and the CLI validates them.
 * Timestamps arrive as ISO-8601 strings (the pool's timestamptz parser).
 */
export const validationReportSchema = z.object({
    enabled: z.boolean(),
    strictMode: z.boolean(),
    valid: z.boolean(),
    problems: z.array(z.object({ reason: z.string(), message: z.string() })),
}) satisfies z.ZodType<ValidationReport>;

export const commandVersionSchema = z.object({
    name: z.string(),
    version: z.int().positive(),
    description: z.string(),
    code: z.string(),
    model: z.string(),
    validation: validationReportSchema,
    /** The client that stored it (`unknown` for versions stored before clients had names). */
    createdBy: z.string(),
    /** Set when this version was stored by a rollback: the version it copies. */
    rolledBackFrom: z.int().positive().nullable(),
    createdAt: z.string(),
});
export type CommandVersion = z.infer<typeof commandVersionSchema>;

export const commandSummarySchema = z.object({
    name: z.string(),
    latestVersion: z.int().positive(),
    description: z.string(),
    updatedAt: z.string(),
});
export type CommandSummary = z.infer<typeof commandSummarySchema>;

/** One recorded run (no output is stored). */
export const runRecordSchema = z.object({
    version: z.int().positive(),
    client: z.string(),
    exitCode: z.int(),
    durationMs: z.number().nonnegative(),
    killed: z.string().nullable(),
    startedAt: z.string(),
});
export type RunRecord = z.infer<typeof runRecordSchema>;

/** command_versions columns under CommandVersion's field names. */
const VERSION_COLUMNS = `name, version, description, code, model, validation, created_by AS "createdBy", rolled_back_from AS "rolledBackFrom", created_at AS "createdAt"`;
/** runs columns under RunRecord's field names. */
const RUN_COLUMNS = `version, client, exit_code AS "exitCode", duration_ms AS "durationMs", killed, started_at AS "startedAt"`;

const TIMESTAMPTZ_OID = 1184;

export function createPool(url: string): Pool {
    // Loaded here, not at the top: the CLI imports this module's schemas and never opens a pool
    // (pg costs its exec probe ~0.1 s of CPU per call).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { Pool, types } = require("pg") as typeof import("pg");
    const pool = new Pool({
        connectionString: url,
        max: 10,
        connectionTimeoutMillis: 2000,
        idleTimeoutMillis: 30000,
        statement_timeout: 5000,
        query_timeout: 6000,
        // timestamptz as ISO-8601 text, the form every API response carries.
        types: {
            getTypeParser: ((oid: number, format?: "text" | "binary") =>
                oid === TIMESTAMPTZ_OID && format !== "binary"
                    ? (value: string) => new Date(value).toISOString()
                    : types.getTypeParser(oid, format)) as typeof types.getTypeParser,
        },
    });
    // An idle client's error (server restart) must not crash the process; the pool replaces it.
    pool.on("error", () => undefined);
    return pool;
}

/** Applies pending migrations under a session advisory lock. Returns the versions it applied. */
export async function migrate(pool: Pool, migrations = MIGRATIONS): Promise<number[]> {
    const client = await pool.connect();
    try {
        await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK_ID]);
        try {
            await client.query(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
            );
            const done = new Set((await client.query<{ version: number }>("SELECT version FROM schema_migrations")).rows.map((r) => r.version));
            const applied: number[] = [];
            for (const m of migrations) {
                if (done.has(m.version)) continue;
                await inTransaction(client, async () => {
                    await client.query(m.sql);
                    await client.query("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", [m.version, m.name]);
                });
                applied.push(m.version);
            }
            return applied;
        } finally {
            await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK_ID]);
        }
    } finally {
        client.release();
    }
}

async function inTransaction<T>(client: PoolClient, fn: () => Promise<T>): Promise<T> {
    await client.query("BEGIN");
    try {
        const result = await fn();
        await client.query("COMMIT");
        return result;
    } catch (err) {
        await client.query("ROLLBACK");
        throw err;
    }
}

/** Network-level failures of PostgreSQL become DatabaseUnavailableError (a 503, not a 500). */
function isUnavailable(err: unknown): boolean {
    const e = err as { code?: string; message?: string };
    return (
        ["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "ENOTFOUND", "EPIPE", "57P01", "57P02", "57P03", "53300", "08000", "08003", "08006"].includes(
            e.code ?? "",
        ) || /timeout|terminat|Connection|connect/i.test(e.message ?? "")
    );
}

export class CommandRepository {
    constructor(private readonly pool: Pool) {}

    private async run<T>(fn: () => Promise<T>): Promise<T> {
        try {
            return await fn();
        } catch (err) {
            if (isUnavailable(err)) throw new DatabaseUnavailableError(`PostgreSQL is unavailable: ${(err as Error).message}`);
            throw err;
        }
    }

    async ping(): Promise<void> {
        await this.run(() => this.pool.query("SELECT 1"));
    }

    list(): Promise<CommandSummary[]> {
        return this.run(async () => {
            const { rows } = await this.pool.query<CommandSummary>(
                `SELECT DISTINCT ON (name) name, version AS "latestVersion", description, created_at AS "updatedAt"
                   FROM command_versions ORDER BY name, version DESC`,
            );
            return rows;
        });
    }

    versions(name: string): Promise<CommandVersion[]> {
        return this.run(async () => {
            const { rows } = await this.pool.query<CommandVersion>(`SELECT ${VERSION_COLUMNS} FROM command_versions WHERE name = $1 ORDER BY version`, [name]);
            return rows;
        });
    }

    latest(name: string): Promise<CommandVersion | undefined> {
        return this.run(async () => {
            const { rows } = await this.pool.query<CommandVersion>(
                `SELECT ${VERSION_COLUMNS} FROM command_versions WHERE name = $1 ORDER BY version DESC LIMIT 1`,
                [name],
            );
            return rows[0];
        });
    }

    /** Version `version` of `name`, if both exist. */
    version(name: string, version: number): Promise<CommandVersion | undefined> {
        return this.run(async () => {
            const { rows } = await this.pool.query<CommandVersion>(`SELECT ${VERSION_COLUMNS} FROM command_versions WHERE name = $1 AND version = $2`, [
                name,
                version,
            ]);
            return rows[0];
        });
    }

    /** Stores `code` as the next version of `name` (serialised per command by a row lock). */
    addVersion(v: Omit<CommandVersion, "version" | "createdAt" | "rolledBackFrom">): Promise<CommandVersion> {
        return this.inCommandLock(v.name, true, async (client) => {
            const { rows } = await client.query<CommandVersion>(
                `INSERT INTO command_versions (name, version, description, code, model, validation, created_by, created_at)
                 SELECT $1, COALESCE(MAX(version), 0) + 1, $2, $3, $4, $5, $6, clock_timestamp() FROM command_versions WHERE name = $1
                 RETURNING ${VERSION_COLUMNS}`,
                [v.name, v.description, v.code, v.model, JSON.stringify(v.validation), v.createdBy],
            );
            return rows[0];
        });
    }

    /**
     * Makes version `version` of `name` the one that runs by default: stores a copy of it as the next
     * version (with rolledBackFrom), so history only grows. When it already is the latest version,
     * nothing is stored. Serialised with addVersion by the same row lock, so versions stay dense.
     */
    rollback(
        name: string,
        version: number,
        createdBy: string,
    ): Promise<{ outcome: "no_command" } | { outcome: "no_version" } | { outcome: "stored" | "already_latest"; version: CommandVersion }> {
        return this.inCommandLock(name, false, async (client) => {
            const { rows: latest } = await client.query<{ max: number | null }>("SELECT MAX(version) AS max FROM command_versions WHERE name = $1", [name]);
            if (latest[0].max === null) return { outcome: "no_command" as const };
            const { rows: source } = await client.query<CommandVersion>(`SELECT ${VERSION_COLUMNS} FROM command_versions WHERE name = $1 AND version = $2`, [
                name,
                version,
            ]);
            if (!source[0]) return { outcome: "no_version" as const };
            if (version === latest[0].max) return { outcome: "already_latest" as const, version: source[0] };
            const { rows } = await client.query<CommandVersion>(
                `INSERT INTO command_versions (name, version, description, code, model, validation, created_by, rolled_back_from, created_at)
                 SELECT name, $3, description, code, model, validation, $4, version, clock_timestamp() FROM command_versions WHERE name = $1 AND version = $2
                 RETURNING ${VERSION_COLUMNS}`,
                [name, version, latest[0].max + 1, createdBy],
            );
            return { outcome: "stored" as const, version: rows[0] };
        });
    }

    /** Stores finished runs (one statement for the whole batch). */
    recordRuns(runs: (RunRecord & { name: string })[]): Promise<void> {
        return this.run(async () => {
            await this.pool.query(
                `INSERT INTO runs (name, version, client, exit_code, duration_ms, killed, started_at)
                 SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::int[], $5::float8[], $6::text[], $7::timestamptz[])`,
                [
                    runs.map((r) => r.name),
                    runs.map((r) => r.version),
                    runs.map((r) => r.client),
                    runs.map((r) => r.exitCode),
                    runs.map((r) => r.durationMs),
                    runs.map((r) => r.killed),
                    runs.map((r) => r.startedAt),
                ],
            );
        });
    }

    /** The newest `limit` runs of `name`, newest first. */
    runs(name: string, limit: number): Promise<RunRecord[]> {
        return this.run(async () => {
            const { rows } = await this.pool.query<RunRecord>(`SELECT ${RUN_COLUMNS} FROM runs WHERE name = $1 ORDER BY started_at DESC, id DESC LIMIT $2`, [
                name,
                limit,
            ]);
            return rows;
        });
    }

    /**
     * Runs `fn` in a transaction holding the row lock (versions take clock_timestamp(), the time
     * under the lock, so a higher version never has an earlier createdAt) of command `name` (created first when `create`),
     * so the versions of one command are written one at a time.
     */
    private inCommandLock<T>(name: string, create: boolean, fn: (client: PoolClient) => Promise<T>): Promise<T> {
        return this.run(async () => {
            const client = await this.pool.connect();
            try {
                return await inTransaction(client, async () => {
                    if (create) await client.query("INSERT INTO commands (name) VALUES ($1) ON CONFLICT (name) DO NOTHING", [name]);
                    await client.query("SELECT name FROM commands WHERE name = $1 FOR UPDATE", [name]);
                    return fn(client);
                });
            } finally {
                client.release();
            }
        });
    }
}
