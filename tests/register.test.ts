import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as path from "node:path";
import { ROOT } from "./harness";

/** Runs `script` in a fresh node with tools/register.js loaded, as `npm run render` and `pulumi up` do. */
function withHook(script: string): unknown {
    const out = execFileSync(process.execPath, ["-r", path.join(ROOT, "tools", "register.js"), "-e", script], { cwd: ROOT, encoding: "utf8" });
    return JSON.parse(out);
}

describe("tools/register.js", () => {
    it("the service modules the program imports share the program's zod (one copy loaded, schemas are its instances)", () => {
        const result = withHook(`
            const { configFileSchema } = require("./service/src/contract.ts");
            const { z } = require("zod");
            const copies = Object.keys(require.cache).filter((f) => f.endsWith("/zod/index.cjs"));
            console.log(JSON.stringify({ copies, instance: configFileSchema instanceof z.ZodType }));
        `);
        assert.deepEqual(result, { copies: [path.join(ROOT, "node_modules", "zod", "index.cjs")], instance: true });
    });

    it("from service/src, a shared pin resolves from the root, anything else from service/node_modules", () => {
        const result = withHook(`
            const fromService = require("node:module").createRequire(require("node:path").join(process.cwd(), "service", "src", "contract.ts"));
            console.log(JSON.stringify({ zod: fromService.resolve("zod"), pino: fromService.resolve("pino") }));
        `);
        assert.deepEqual(result, {
            zod: path.join(ROOT, "node_modules", "zod", "index.cjs"),
            pino: path.join(ROOT, "service", "node_modules", "pino", "pino.js"),
        });
    });
});
