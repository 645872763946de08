/**
 * Runs this repository's TypeScript with plain node: a require hook (`node -r ./tools/register.js`)
 * that compiles each .ts file with sucrase (types stripped, imports to CommonJS, line numbers kept
 * so stack traces point at the source) and caches the JavaScript in .build/ts/ (git-ignored), keyed
 * by the source's hash and the compiler's version and options: an unchanged file is read back, and
 * sucrase itself is only loaded when a file changed. No type-checking here: `npm run build` (tsc,
 * strict, isolatedModules) does that. Used by `npm run render`, the infra tests and `pulumi up`
 * (Pulumi.yaml's `main` is tools/pulumi-program.js, which loads this hook first). Written in
 * JavaScript because it is what makes TypeScript loadable.
 */
"use strict";
const crypto = require("node:crypto");
const fs = require("node:fs");
const path = require("node:path");
const { addHook } = require("pirates");

const CACHE_DIR = path.join(__dirname, "..", ".build", "ts");
/** sucrase options; `disableESTransforms` keeps modern syntax as written (node >= 20 runs it). */
const OPTIONS = { transforms: ["typescript", "imports"], disableESTransforms: true };
const CACHE_KEY = `sucrase ${require("sucrase/package.json").version} ${JSON.stringify(OPTIONS)}\n`;

let sucrase; // loaded on the first cache miss only

/** @param {string} code @param {string} filename @returns {string} */
function compile(code, filename) {
    const hash = crypto.createHash("sha256").update(CACHE_KEY).update(code).digest("hex");
    const cached = path.join(CACHE_DIR, `${hash}.js`);
    try {
        return fs.readFileSync(cached, "utf8");
    } catch {
        // not compiled yet
    }
    sucrase ??= require("sucrase");
    const js = sucrase.transform(code, { ...OPTIONS, filePath: filename }).code;
    try {
        // Write-then-rename: concurrent processes (mocha workers, parallel renders) never read half a file.
        fs.mkdirSync(CACHE_DIR, { recursive: true });
        const tmp = `${cached}.${process.pid}.tmp`;
        fs.writeFileSync(tmp, js);
        fs.renameSync(tmp, cached);
    } catch {
        // A read-only checkout still runs; it just compiles every time.
    }
    return js;
}

addHook(compile, { exts: [".ts"], ignoreNodeModules: true });
