/**
 * The api's request and response schemas, declared once: the routes validate requests and
 * serialize responses with them (fastify-type-provider-zod), the OpenAPI document is generated
 * from them, and the CLI validates what it receives against them.
 */
import { z } from "zod";
import { withFastCheck } from "./fastCheck";
import { commandSummarySchema, commandVersionSchema, runRecordSchema } from "./db";
import type { SandboxResult } from "./runner/limits";

/** The runner's answer to POST /run: one sandbox execution (the api validates it before use). */
export const runResultSchema = z.object({
    exitCode: z.int(),
    stdout: z.string(),
    stderr: z.string(),
    durationMs: z.number().nonnegative(),
    /** Why the sandbox was killed, if it was. */
    killed: z.enum(["timeout", "memory"]).optional(),
    truncated: z.boolean(),
}) satisfies z.ZodType<SandboxResult>;
export type RunResult = z.infer<typeof runResultSchema>;

export const NAME_PATTERN = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;
export const MAX_NAME_LENGTH = 63;
export const MAX_DESCRIPTION_LENGTH = 2000;

/**
 * A string PostgreSQL can store: its text type (and jsonb) reject U+0000, so a NUL must be a 400
 * here, not a database error after the LLM was paid for.
 */
export function pgText(schema: z.ZodString = z.string()) {
    return schema.refine((s) => !s.includes("\u0000"), "must not contain a NUL character (\\u0000)");
}

export const MAX_ARGS = 64;
export const MAX_ARG_LENGTH = 4096;

/** A command's arguments (the api's run route and the runner's /run). */
export function argsSchema() {
    return z
        .array(pgText(z.string().max(MAX_ARG_LENGTH, `each argument must be at most ${MAX_ARG_LENGTH} characters`)))
        .max(MAX_ARGS, `at most ${MAX_ARGS} arguments`);
}

export const nameSchema = z
    .string()
    .max(MAX_NAME_LENGTH, `must be at most ${MAX_NAME_LENGTH} characters`)
    .regex(NAME_PATTERN, "must be a slug: lowercase letters and digits in dash-separated words, starting with a letter");

/** Every error answer: `{"error": {"code", "message", "details"?}}`. */
export const errorSchema = z.object({
    error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }),
});

export const healthSchema = z.object({ status: z.literal("ok"), version: z.string() });

/** Ready (PostgreSQL answers); `degraded` names what is down but not needed to serve (Redis). */
export const readySchema = z.object({
    status: z.enum(["ready", "degraded"]),
    failing: z.array(z.string()),
    degraded: z.array(z.string()),
    checks: z.record(z.string(), z.string()),
});
export const notReadySchema = z.object({
    status: z.enum(["not ready", "shutting down"]),
    failing: z.array(z.string()),
    degraded: z.array(z.string()).optional(),
    checks: z.record(z.string(), z.string()).optional(),
});

/** The path of every /commands/:name route; the valid case skips zod (the cached read is the hottest path). */
export const commandParamsSchema = withFastCheck(
    z.object({ name: nameSchema }),
    (value) => isCommandName((value as { name?: unknown }).name) && Object.keys(value as object).length === 1,
);

/** Whether `name` is a command name nameSchema accepts as it is (without zod: the hot paths' check). */
export function isCommandName(name: unknown): name is string {
    return typeof name === "string" && name.length <= MAX_NAME_LENGTH && NAME_PATTERN.test(name);
}

export const evolveBodySchema = z.strictObject({
    description: pgText(z.string().trim().min(1, "must not be empty").max(MAX_DESCRIPTION_LENGTH, `must be at most ${MAX_DESCRIPTION_LENGTH} characters`)),
    name: nameSchema.optional(),
});
export const evolveResponseSchema = commandVersionSchema.extend({
    /** The generation came from the Redis cache (no LLM call). */
    cached: z.boolean(),
    /** A new version was stored (false: the code already was the latest version). */
    created: z.boolean(),
});

export const commandListSchema = z.object({ commands: z.array(commandSummarySchema) });
export const commandSchema = z.object({ name: z.string(), versions: z.array(commandVersionSchema) });

export const MAX_RUNS_LIMIT = 100;
/** Versions are PostgreSQL `integer`s: a larger number is a 400 here, never a database error (a 500). */
export const MAX_VERSION = 2_147_483_647;
const versionNumber = () => z.int().positive().max(MAX_VERSION, `must be at most ${MAX_VERSION}`);
export const DEFAULT_RUNS_LIMIT = 20;

export const runBodySchema = z.strictObject({
    args: argsSchema().default([]),
    /** Run this version instead of the latest. */
    version: versionNumber().optional(),
});
export const runResponseSchema = z.object({ name: z.string(), version: z.int().positive(), ...runResultSchema.shape });

export const runsQuerySchema = z.strictObject({
    limit: z.coerce.number().int().min(1).max(MAX_RUNS_LIMIT, `must be at most ${MAX_RUNS_LIMIT}`).default(DEFAULT_RUNS_LIMIT),
});
export const runsResponseSchema = z.object({ name: z.string(), runs: z.array(runRecordSchema) });

export const rollbackBodySchema = z.strictObject({ version: versionNumber() });
export const rollbackResponseSchema = commandVersionSchema.extend({
    /** A new version was stored (false: that version already is the latest). */
    created: z.boolean(),
});

/** JSON text of `value` encoded through `schema` (for bodies that are cached as text). */
export function serialize<T extends z.ZodType>(schema: T, value: z.output<T>): string {
    return JSON.stringify(z.encode(schema, value));
}
