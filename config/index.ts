/**
 * The stack's configuration, read once, validated, defaulted and typed.
 *
 * `schema.ts` (sections and types), `defaults.ts` (per-environment DEFAULTS), `rules.ts`
 * (cross-field rules), `parse.ts` (the pure `parseConfig`), `errors.ts` (one-line messages) and
 * `pulumi.ts` (`loadConfig`, the only module that calls `new pulumi.Config()`).
 *
 * Bad input fails here, before any resource is declared, with one line naming the stack, the key,
 * the bad value and what is allowed.
 */
export * from "./schema";
export { DEFAULTS, NODE_GROUP_DEFAULTS } from "./defaults";
export { ConfigError } from "./errors";
export { KNOWN_KEYS, parseConfig, type RawConfig } from "./parse";
export { loadConfig } from "./pulumi";
