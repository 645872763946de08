/**
 * PostgreSQL access: the schema migrations (applied at startup under an advisory lock, so replicas
 * starting together never race) and the command repository.
 */
import { Pool, type PoolClient, types } from "pg";
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

/** command_versions columns under CommandVersion's field names. */
const VERSION_COLUMNS = `name, version, description, code, model, validation, created_at AS "createdAt"`;

const TIMESTAMPTZ_OID = 1184;

export function createPool(url: string): Pool {
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
export async function migrate(pool: Pool): Promise<number[]> {
    const client = await pool.connect();
    try {
        await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK_ID]);
        try {
            await client.query(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
            );
            const done = new Set((await client.query<{ version: number }>("SELECT version FROM schema_migrations")).rows.map((r) => r.version));
            const applied: number[] = [];
            for (const m of MIGRATIONS) {
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

    /** Stores `code` as the next version of `name` (serialised per command by a row lock). */
    addVersion(v: Omit<CommandVersion, "version" | "createdAt">): Promise<CommandVersion> {
        return this.run(async () => {
            const client = await this.pool.connect();
            try {
                return await inTransaction(client, async () => {
                    await client.query("INSERT INTO commands (name) VALUES ($1) ON CONFLICT (name) DO NOTHING", [v.name]);
                    await client.query("SELECT name FROM commands WHERE name = $1 FOR UPDATE", [v.name]);
                    const { rows } = await client.query<CommandVersion>(
                        `INSERT INTO command_versions (name, version, description, code, model, validation)
                         SELECT $1, COALESCE(MAX(version), 0) + 1, $2, $3, $4, $5 FROM command_versions WHERE name = $1
                         RETURNING ${VERSION_COLUMNS}`,
                        [v.name, v.description, v.code, v.model, JSON.stringify(v.validation)],
                    );
                    return rows[0];
                });
            } finally {
                client.release();
            }
        });
    }
}
