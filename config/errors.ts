/** ConfigError and the one-line messages naming the key, the value and what is allowed. */
import { z } from "zod";
import { PROJECT, REMOVED_KEYS, type SectionName } from "./schema";

/** A configuration problem; `message` is one line naming the stack, key, value and what is allowed. */
export class ConfigError extends Error {
    constructor(
        readonly stack: string,
        readonly problems: string[],
    ) {
        super(`Invalid configuration for stack "${stack}": ${problems.join("; ")}`);
        this.name = "ConfigError";
    }
}

export type PathPart = string | number;

export function keyName(path: readonly PathPart[]): string {
    const [section, ...rest] = path;
    let key = `${PROJECT}:${String(section)}`;
    for (const part of rest) key += typeof part === "number" ? `[${part}]` : `.${part}`;
    return key;
}

export function show(value: unknown): string {
    return value === undefined ? "(unset)" : JSON.stringify(value);
}

export function valueAt(root: unknown, path: readonly PathPart[]): unknown {
    let v: unknown = root;
    for (const part of path) {
        if (v === null || typeof v !== "object") return undefined;
        v = (v as Record<string | number, unknown>)[part];
    }
    return v;
}

export function problem(path: readonly PathPart[], value: unknown, allowed: string): string {
    return `${keyName(path)} = ${show(value)}: ${allowed}`;
}

/** Keys a strict object schema accepts, for "unknown key" messages. */
function schemaKeysAt(schema: z.ZodType, path: readonly PathPart[]): string[] {
    let s: z.ZodType = schema;
    for (const part of path) {
        while (s instanceof z.ZodOptional || s instanceof z.ZodDefault) s = s.unwrap() as z.ZodType;
        if (s instanceof z.ZodArray && typeof part === "number") s = s.element as z.ZodType;
        else if (s instanceof z.ZodObject && typeof part === "string") s = s.shape[part] as z.ZodType;
        else return [];
    }
    while (s instanceof z.ZodOptional || s instanceof z.ZodDefault) s = s.unwrap() as z.ZodType;
    return s instanceof z.ZodObject ? Object.keys(s.shape) : [];
}

function describeIssue(issue: z.core.$ZodIssue): string {
    switch (issue.code) {
        case "invalid_type":
            return `must be ${issue.expected === "int" ? "an integer" : `a ${issue.expected}`}`;
        case "too_small":
            if (issue.origin === "array") return `must have at least ${issue.minimum} item(s)`;
            if (issue.origin === "string") return "must not be empty";
            return `must be >= ${issue.minimum}`;
        case "too_big":
            if (issue.origin === "array") return `must have at most ${issue.maximum} item(s)`;
            return `must be <= ${issue.maximum}`;
        case "invalid_value":
            return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
        default:
            return issue.message;
    }
}

export function zodProblems(section: SectionName, schema: z.ZodType, raw: unknown, error: z.ZodError): string[] {
    return error.issues.map((issue) => {
        const at = issue.path as PathPart[];
        const path = [section, ...at];
        if (issue.code === "unrecognized_keys") {
            const allowed = schemaKeysAt(schema, at);
            return issue.keys
                .map((k) => {
                    const removed = REMOVED_KEYS[[...path, k].join(".")];
                    return problem(
                        [...path, k],
                        valueAt(raw, [...at, k]),
                        removed ? `removed: ${removed}` : `unknown key; allowed keys: ${allowed.join(", ")}`,
                    );
                })
                .join("; ");
        }
        const value = valueAt(raw, at);
        if (issue.code === "invalid_type" && value === undefined) return problem(path, value, "required: it has no default (set it in the stack file)");
        return problem(path, value, describeIssue(issue));
    });
}
