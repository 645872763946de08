/**
 * The project's stacks and their config files, as the harness reads them: Pulumi.<stack>.yaml in
 * the project root. Free of the Pulumi SDK, so a command checks a stack name before loading it
 * (`npm run render -- nosuch` answers at once).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as YAML from "yaml";

export const ROOT = path.resolve(__dirname, "..");

/** A config value to set (any YAML value) or, with `undefined`, to remove. Keys are `ns:key`. */
export type ConfigOverrides = Record<string, unknown>;

const parsedFiles = new Map<string, unknown>();
/** A YAML file of the project, parsed once per process (the files do not change during a run). */
function readYaml(file: string): unknown {
    if (!parsedFiles.has(file)) parsedFiles.set(file, YAML.parse(fs.readFileSync(file, "utf8")));
    return structuredClone(parsedFiles.get(file));
}

/** Parses Pulumi.yaml for the project name. */
export function projectName(): string {
    return (readYaml(path.join(ROOT, "Pulumi.yaml")) as { name: string }).name;
}

/** Stacks that have a Pulumi.<stack>.yaml. */
export function knownStacks(): string[] {
    return fs
        .readdirSync(ROOT)
        .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
        .filter((s): s is string => s !== undefined)
        .sort();
}

/** Reads Pulumi.<stack>.yaml into the flat string map the Pulumi runtime uses. */
export function readStackConfig(stack: string, overrides: ConfigOverrides = {}): { config: Record<string, string>; secretKeys: string[] } {
    const file = path.join(ROOT, `Pulumi.${stack}.yaml`);
    if (!fs.existsSync(file)) {
        throw new Error(`unknown stack "${stack}": no ${path.basename(file)} (known stacks: ${knownStacks().join(", ")})`);
    }
    const doc = (readYaml(file) ?? {}) as { config?: Record<string, unknown> };
    const raw: Record<string, unknown> = { ...(doc.config ?? {}) };
    for (const [k, v] of Object.entries(overrides)) {
        if (v === undefined) delete raw[k];
        else raw[k] = v;
    }
    const config: Record<string, string> = {};
    const secretKeys: string[] = [];
    for (const [key, value] of Object.entries(raw)) {
        if (value && typeof value === "object" && !Array.isArray(value) && "secure" in value) {
            // Encrypted in the stack file; offline we stand in a recognisable placeholder.
            config[key] = `mock-secret-${key}`;
            secretKeys.push(key);
        } else {
            config[key] = typeof value === "string" ? value : JSON.stringify(value);
        }
    }
    return { config, secretKeys };
}
