import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
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

describe("tools/compile-cache.js (V8's code for each module, kept between runs)", () => {
    let dir: string;
    beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "compile-cache-"))));
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    /** Requires `module` in a fresh node with the hook, the cache in `cacheDir`; prints what it exports. */
    const run = (module: string, cacheDir: string) =>
        execFileSync(
            process.execPath,
            [
                "-r",
                path.join(ROOT, "tools", "register.js"),
                "-e",
                `Promise.resolve(require(${JSON.stringify(module)})).then((v) => console.log(JSON.stringify(v)))`,
            ],
            {
                cwd: ROOT,
                encoding: "utf8",
                env: { ...process.env, COMPILE_CACHE_DIR: cacheDir },
            },
        ).trim();

    it("a module changed since it was cached runs its new code (same path, same length)", () => {
        const cache = path.join(dir, "cache");
        const module = path.join(dir, "m.js");
        fs.writeFileSync(module, "module.exports = { answer: 41, name: require('node:path').basename(__filename) };");
        assert.equal(run(module, cache), '{"answer":41,"name":"m.js"}');
        assert.ok(fs.readdirSync(cache).length > 0, "the first run left the modules' code in the cache");
        assert.equal(run(module, cache), '{"answer":41,"name":"m.js"}');
        fs.writeFileSync(module, "module.exports = { answer: 42, name: require('node:path').basename(__filename) };");
        assert.equal(run(module, cache), '{"answer":42,"name":"m.js"}');
    });

    it("corrupt entries are rejected and rewritten; an unusable cache dir only costs the compile", () => {
        const cache = path.join(dir, "cache");
        const module = path.join(dir, "m.js");
        fs.writeFileSync(module, "module.exports = [1, 2, 3].map((n) => n * 2);");
        assert.equal(run(module, cache), "[2,4,6]");
        const entries = fs.readdirSync(cache);
        for (const e of entries) fs.writeFileSync(path.join(cache, e), "not V8's data");
        assert.equal(run(module, cache), "[2,4,6]");
        assert.ok(
            entries.every((e) => fs.readFileSync(path.join(cache, e), "utf8") !== "not V8's data"),
            "rejected entries are replaced",
        );
        fs.writeFileSync(path.join(dir, "file"), "");
        assert.equal(run(module, path.join(dir, "file", "cache")), "[2,4,6]"); // cannot be created
    });

    it("modules compiled through it keep import() and require(ESM)", () => {
        const cache = path.join(dir, "cache");
        fs.writeFileSync(path.join(dir, "esm.mjs"), "export const kind = 'esm';");
        const module = path.join(dir, "m.js");
        fs.writeFileSync(path.join(dir, "required.js"), "module.exports = { required: require('./esm.mjs').kind };");
        fs.writeFileSync(module, "module.exports = import('./esm.mjs').then((m) => ({ kind: m.kind, ...require('./required.js') }));");
        for (let i = 0; i < 2; i++) assert.equal(run(module, cache), '{"kind":"esm","required":"esm"}');
    });

    it("a module that only mentions import( in a string or a comment is cached; one that calls it is not", () => {
        const cache = path.join(dir, "cache");
        const mentions = path.join(dir, "mentions.js");
        fs.writeFileSync(mentions, "// import(x) is not called here\nmodule.exports = 'import(' + `import(${1})`;");
        assert.equal(run(mentions, cache), '"import(import(1)"');
        const entries = () => fs.readdirSync(cache).filter((f) => f.endsWith(".bin")).length;
        const cached = entries();
        const calls = path.join(dir, "calls.js");
        fs.writeFileSync(calls, "module.exports = import('node:path').then((p) => p.sep);");
        assert.equal(run(calls, cache), '"/"');
        assert.equal(entries(), cached, "no entry for the module that calls import()");
        fs.writeFileSync(path.join(dir, "plain.js"), "module.exports = 1;");
        run(path.join(dir, "plain.js"), cache);
        assert.equal(entries(), cached + 1, "one more entry for a module without import(");
    });
});
