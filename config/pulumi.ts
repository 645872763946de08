/** The Pulumi adapter: the only reader of stack config. Call `loadConfig` once, from index.ts. */
import * as pulumi from "@pulumi/pulumi";
import { parseConfig, SECRET_KEYS } from "./parse";
import { type PlatformConfig, PROJECT } from "./schema";

function decode(key: string, text: string): unknown {
    if (key === "environment") return text;
    try {
        return JSON.parse(text);
    } catch {
        return text;
    }
}

/**
 * Reads the current stack's configuration from Pulumi and validates it. Call once, from index.ts.
 */
export function loadConfig(): PlatformConfig {
    const cfg = new pulumi.Config(PROJECT);
    const values: Record<string, unknown> = {};
    const prefix = `${PROJECT}:`;
    for (const fullKey of Object.keys(pulumi.runtime.allConfig())) {
        if (!fullKey.startsWith(prefix)) continue;
        const key = fullKey.slice(prefix.length);
        if ((SECRET_KEYS as readonly string[]).includes(key)) continue;
        const text = cfg.get(key);
        if (text !== undefined) values[key] = decode(key, text);
    }
    return parseConfig({
        stack: pulumi.getStack(),
        values,
        awsRegion: new pulumi.Config("aws").get("region"),
        secrets: {
            openaiApiKey: cfg.getSecret("openaiApiKey"),
            alertWebhookUrl: cfg.getSecret("alertWebhookUrl"),
        },
    });
}
