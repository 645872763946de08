/**
 * A V8 code cache for the CommonJS modules a process loads (node 20 has no `module.enableCompileCache`,
 * which arrived in node 22.1): each module is compiled with the code V8 produced for it in an
 * earlier run, kept in .build/v8/ (git-ignored), so V8 neither parses nor compiles it again; most
 * of loading @pulumi/pulumi and the provider SDKs is that work.
 *
 * - One file per module, named by the hash of V8's version and flags, the module's path and its
 *   source (after the require hook in register.js compiled it): a changed source, a reinstalled
 *   package or another node never reads a stale entry; V8 checks the data again and rejects a
 *   mismatch (the module then compiles as usual).
 * - The code is cached at exit (`createCachedData` after the run, so it holds every function the
 *   run compiled, not only the top level), for the modules that had none; written then renamed, so
 *   concurrent processes never read half a file.
 * - A missing, unwritable or read-only cache dir only costs the compile. COMPILE_CACHE_DIR moves it,
 *   DISABLE_COMPILE_CACHE=1 turns it off.
 *
 * It replaces Module.prototype._compile with the same steps node's own takes for a CommonJS module
 * (wrap, compile, call with exports/require/module/__filename/__dirname), as v8-compile-cache does.
 */
"use strict";
const crypto = require("node:crypto");
const fs = require("node:fs");
const Module = require("node:module");
const path = require("node:path");
const v8 = require("node:v8");
const vm = require("node:vm");

const CACHE_DIR = process.env.COMPILE_CACHE_DIR || path.join(__dirname, "..", ".build", "v8");
/** V8's own tag for what makes its data unusable: its version, its flags, the CPU's features. */
const KEY = `${v8.cachedDataVersionTag()} ${process.arch}\n`;

const DYNAMIC_IMPORT = /\bimport\s*\(/;

/**
 * Whether a module calls import(). Node 20 gives a vm.Script compiled from cached data no working
 * import() (the callback is lost with the cache; `USE_MAIN_CONTEXT_DEFAULT_LOADER` is experimental
 * and has the same flaw), so such a module compiles node's own way. A regex finds the candidates;
 * sucrase's tokenizer (register.js's compiler) tells a call from the text "import(" in a string or a
 * comment, which is all typescript.js (9 MB, loaded by @pulumi/pulumi) has. Decided once per source
 * (by its hash) and kept in the cache dir; a source the tokenizer cannot read counts as calling it.
 * @param {string} content
 */
function callsImport(content) {
    if (!DYNAMIC_IMPORT.test(content)) return false;
    const marker = path.join(CACHE_DIR, "imports", crypto.createHash("sha256").update(content).digest("hex"));
    try {
        return fs.readFileSync(marker, "utf8") === "1";
    } catch {
        // not decided yet
    }
    let calls = true;
    try {
        const { parse } = require("sucrase/dist/parser");
        const { TokenType } = require("sucrase/dist/parser/tokenizer/types");
        const { tokens } = parse(content, false, false, false);
        calls = tokens.some((t, i) => t.type === TokenType._import && tokens[i + 1]?.type === TokenType.parenL);
    } catch {
        // unreadable: assume it does
    }
    write(marker, calls ? "1" : "0");
    return calls;
}

/** Write-then-rename (concurrent processes never read half a file); a failure only loses the entry. */
function write(file, data) {
    try {
        fs.mkdirSync(path.dirname(file), { recursive: true });
        const tmp = `${file}.${process.pid}.tmp`;
        fs.writeFileSync(tmp, data);
        fs.renameSync(tmp, file);
    } catch {
        // read-only or missing: the next run compiles again
    }
}

/** @type {{ file: string; script: vm.Script }[]} scripts compiled without cached data */
const pending = [];

function install() {
    const compile = Module.prototype._compile;
    Module.prototype._compile = function (content, filename, format) {
        // ES modules (require(esm)) and shebang scripts: node's own way.
        if (format === "module" || content.startsWith("#!")) return compile.call(this, content, filename, format);
        const hash = crypto.createHash("sha256").update(KEY).update(filename).update("\0").update(content).digest("hex");
        const file = path.join(CACHE_DIR, `${hash}.bin`);
        let cachedData;
        try {
            cachedData = fs.readFileSync(file);
        } catch {
            // Not cached yet (an entry exists only for a module that does not call import()).
            if (callsImport(content)) return compile.call(this, content, filename, format);
        }
        let script;
        try {
            script = new vm.Script(Module.wrap(content), { filename, cachedData });
        } catch {
            // Not CommonJS (ES module syntax in a package without "type", which node detects) or a
            // syntax error: node compiles it again and loads it or reports the error its own way.
            return compile.call(this, content, filename, format);
        }
        if (cachedData === undefined || script.cachedDataRejected) pending.push({ file, script });
        const wrapper = script.runInThisContext({ displayErrors: true });
        return wrapper.call(this.exports, this.exports, makeRequire(this), this, filename, path.dirname(filename));
    };
}

/** @param {Module} mod */
function makeRequire(mod) {
    const require = (id) => mod.require(id);
    require.resolve = (request, options) => Module._resolveFilename(request, mod, false, options);
    require.resolve.paths = (request) => Module._resolveLookupPaths(request, mod);
    require.main = process.mainModule;
    require.extensions = Module._extensions;
    require.cache = Module._cache;
    return require;
}

function save() {
    for (const { file, script } of pending) write(file, script.createCachedData());
}

if (!process.env.DISABLE_COMPILE_CACHE && !v8.startupSnapshot?.isBuildingSnapshot?.()) {
    install();
    process.once("exit", save);
}
