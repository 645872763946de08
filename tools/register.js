/**
 * Runs this repository's TypeScript with plain node: a require hook (`node -r ./tools/register.js`)
 * that compiles each .ts file with sucrase (types stripped, imports to CommonJS, line numbers kept
 * so stack traces point at the source) and caches the JavaScript in .build/ts/ (git-ignored), keyed
 * by the source's hash and the compiler's version and options: an unchanged file is read back, and
 * sucrase itself is only loaded when a file changed. No type-checking here: `npm run build` (tsc,
 * strict, isolatedModules) does that. Used by `npm run render`, the infra tests and `pulumi up`
 * (Pulumi.yaml's `main` is tools/pulumi-program.js, which loads this hook first). Written in
 * JavaScript because it is what makes TypeScript loadable.
 *
 * The program imports a few modules of the service package (service/src/contract.ts, ...). A package
 * both package.json files pin to the same version (zod) is then loaded once, from the root's
 * node_modules, instead of a second copy from service/node_modules (a second zod is ~50 ms of
 * every render and two zod instances). A differing pin keeps the service's own copy.
 */
"use strict";
require("./compile-cache"); // first: every module loaded after it, sucrase's output included, compiles from V8's cache
const crypto = require("node:crypto");
const fs = require("node:fs");
const Module = require("node:module");
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

const ROOT = path.join(__dirname, "..");
const SERVICE_SRC = path.join(ROOT, "service", "src") + path.sep;
/** @param {string} dir @returns {Record<string, string>} */
const dependencies = (dir) => JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")).dependencies ?? {};
const rootDeps = dependencies(ROOT);
const serviceDeps = dependencies(path.join(ROOT, "service"));
const SHARED = new Set(Object.keys(serviceDeps).filter((name) => rootDeps[name] === serviceDeps[name]));
const rootRequire = Module.createRequire(path.join(ROOT, "package.json"));
const resolveFilename = Module._resolveFilename;
/** Resolves `zod` (or `zod/...`) imported from service/src/ like the root's own imports, when the pins agree. */
Module._resolveFilename = function (request, parent, ...rest) {
    if (parent?.filename?.startsWith(SERVICE_SRC) && SHARED.has(packageName(request))) return rootRequire.resolve(request);
    return resolveFilename.call(this, request, parent, ...rest);
};

/** `@scope/name/sub` -> `@scope/name`, `name/sub` -> `name`; relative and absolute paths -> "". */
function packageName(request) {
    if (request.startsWith(".") || path.isAbsolute(request)) return "";
    const parts = request.split("/");
    return request.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
}
