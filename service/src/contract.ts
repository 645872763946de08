/**
 * What the service and the infrastructure that deploys it (components/platform/ in the Pulumi
 * program) must agree on, defined once: the schema of config.yaml, where it is mounted, and the
 * ports. The Pulumi program imports this module; it depends on zod only, so the service package
 * stays self-contained.
 */
import { z } from "zod";

/** Where the service reads config.yaml (the ConfigMap is mounted there). */
export const DEFAULT_CONFIG_PATH = "/home/app/config/config.yaml";

export { PORTS } from "./ports";

/** config.yaml, as in the deployment guide (plus a few optional keys of ours). */
export const configFileSchema = z.strictObject({
    version: z.string().default("1.0.0"),
    llm: z
        .strictObject({
            provider: z.enum(["openai"]).default("openai"),
            model: z.string().min(1).default("gpt-4"),
            temperature: z.number().min(0).max(2).default(0.7),
            /** Seconds. */
            timeout: z.number().positive().max(300).default(30),
            base_url: z.url().default("https://api.openai.com/v1"),
        })
        .prefault({}),
    validation: z.strictObject({ enabled: z.boolean().default(true), strict_mode: z.boolean().default(true) }).prefault({}),
    security: z
        .strictObject({
            sandbox_enabled: z.boolean().default(true),
            /** Seconds. */
            max_execution_time: z.number().positive().max(600).default(60),
        })
        .prefault({}),
    redis: z
        .strictObject({
            host: z.string().min(1).default("redis-service"),
            port: z.int().min(1).max(65535).default(6379),
            /** Seconds a generation stays cached. */
            cache_ttl: z.int().min(1).default(3600),
        })
        .prefault({}),
    postgres: z
        .strictObject({
            host: z.string().min(1).default("postgres-service"),
            port: z.int().min(1).max(65535).default(5432),
            database: z.string().min(1).default("cli_platform"),
        })
        .prefault({}),
});

/** config.yaml as its writer spells it (every key with a default may be left out). */
export type ConfigFileInput = z.input<typeof configFileSchema>;
/** config.yaml as the service reads it, defaults applied. */
export type ConfigFile = z.output<typeof configFileSchema>;
