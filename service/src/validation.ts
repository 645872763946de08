/**
 * Validation of generated command code with a real JavaScript parser (acorn).
 *
 * Every command must be a script that defines `function main(args)`. Strict mode additionally
 * rejects module loading, the process, eval and the Function constructor, child processes,
 * filesystem and network APIs, and the usual sandbox escapes through `constructor`, `__proto__`
 * and `globalThis`. This is a lint that turns away obviously hostile or sloppy code early with a
 * clear reason; it is not the security boundary. The boundary is the runner's engine (QuickJS in
 * WebAssembly, every limit enforced by the host: see runner/engine.ts), which assumes any code.
 */
import * as acorn from "acorn";
import * as walk from "acorn-walk";

export interface ValidationReport {
    enabled: boolean;
    strictMode: boolean;
    valid: boolean;
    /** One entry per problem: a reason code and a human message with the line. */
    problems: { reason: string; message: string }[];
}

/** Globals that give access to the host, modules, code generation, the filesystem or the network. */
export const FORBIDDEN_IDENTIFIERS = new Set([
    "require",
    "module",
    "exports",
    "process",
    "globalThis",
    "global",
    "window",
    "self",
    "eval",
    "Function",
    "AsyncFunction",
    "GeneratorFunction",
    "Reflect",
    "Proxy",
    "WebAssembly",
    "fetch",
    "XMLHttpRequest",
    "WebSocket",
    "Buffer",
    "SharedArrayBuffer",
    "Atomics",
    "importScripts",
    "Deno",
    "Bun",
    "__dirname",
    "__filename",
    "child_process",
    "fs",
    "net",
    "http",
    "https",
    "dgram",
    "worker_threads",
    "setTimeout",
    "setInterval",
    "setImmediate",
    "queueMicrotask",
]);

/** Property names that lead from any object to its constructor chain or prototype. */
export const FORBIDDEN_PROPERTIES = new Set([
    "constructor",
    "__proto__",
    "prototype",
    "__defineGetter__",
    "__defineSetter__",
    "__lookupGetter__",
    "__lookupSetter__",
    "caller",
    "callee",
]);

export const MAX_CODE_LENGTH = 32 * 1024;

function locate(code: string, pos: number): number {
    return code.slice(0, pos).split("\n").length;
}

/** The static value of a computed key, when it can be known without running the code. */
function staticKey(node: acorn.Node): string | undefined {
    const n = node as acorn.Node & {
        type: string;
        value?: unknown;
        quasis?: { value: { cooked: string } }[];
        expressions?: unknown[];
        left?: acorn.Node;
        right?: acorn.Node;
        operator?: string;
    };
    if (n.type === "Literal") return String(n.value);
    if (n.type === "TemplateLiteral" && n.expressions!.length === 0) return n.quasis![0].value.cooked;
    // String.raw`constructor` is the raw text; any other tag's result is unknown.
    if (n.type === "TaggedTemplateExpression") {
        const { tag, quasi } = n as unknown as acorn.TaggedTemplateExpression;
        const isStringRaw =
            tag.type === "MemberExpression" &&
            !tag.computed &&
            tag.object.type === "Identifier" &&
            tag.object.name === "String" &&
            tag.property.type === "Identifier" &&
            tag.property.name === "raw";
        if (isStringRaw && quasi.expressions.length === 0) return quasi.quasis[0].value.raw;
    }
    if (n.type === "BinaryExpression" && n.operator === "+") {
        const l = staticKey(n.left!);
        const r = staticKey(n.right!);
        return l !== undefined && r !== undefined ? l + r : undefined;
    }
    return undefined;
}

export function validateCode(code: string, options: { enabled: boolean; strictMode: boolean }): ValidationReport {
    const report: ValidationReport = { enabled: options.enabled, strictMode: options.strictMode, valid: true, problems: [] };
    const fail = (reason: string, message: string) => {
        report.valid = false;
        report.problems.push({ reason, message });
    };
    // PostgreSQL's text cannot hold U+0000: code with one could never be stored, so this holds even
    // with validation disabled (a storage limit, not a policy).
    if (code.includes("\u0000")) {
        fail("nul_character", `line ${locate(code, code.indexOf("\u0000"))}: contains a NUL character (\\u0000)`);
        return report;
    }
    if (!options.enabled) return report;
    if (code.length > MAX_CODE_LENGTH) {
        fail("too_long", `code is ${code.length} characters; at most ${MAX_CODE_LENGTH}`);
        return report;
    }

    let ast: acorn.Program;
    try {
        ast = acorn.parse(code, { ecmaVersion: 2022, sourceType: "script", allowReturnOutsideFunction: false });
    } catch (err) {
        fail("syntax", `does not parse: ${(err as Error).message}`);
        return report;
    }

    const definesMain = ast.body.some(
        (s) =>
            (s.type === "FunctionDeclaration" && s.id?.name === "main") ||
            (s.type === "VariableDeclaration" &&
                s.declarations.some((d) => d.id.type === "Identifier" && d.id.name === "main" && d.init && /Function/.test(d.init.type))),
    );
    if (!definesMain) fail("no_main", "must define a top-level function main(args)");
    if (!options.strictMode) return report;

    walk.full(ast, (node) => {
        const line = locate(code, node.start);
        switch (node.type) {
            case "ImportExpression":
            case "ImportDeclaration":
                fail("import", `line ${line}: import is not allowed`);
                break;
            case "MetaProperty":
                fail("import", `line ${line}: ${(node as acorn.MetaProperty).meta.name}.${(node as acorn.MetaProperty).property.name} is not allowed`);
                break;
            case "WithStatement":
                fail("with", `line ${line}: with statements are not allowed`);
                break;
            case "Identifier": {
                const name = (node as acorn.Identifier).name;
                if (FORBIDDEN_IDENTIFIERS.has(name)) fail(`forbidden_identifier`, `line ${line}: ${name} is not allowed`);
                break;
            }
            case "MemberExpression": {
                const m = node as acorn.MemberExpression;
                const key = m.computed ? staticKey(m.property) : m.property.type === "Identifier" ? m.property.name : undefined;
                if (key !== undefined && FORBIDDEN_PROPERTIES.has(key)) fail("forbidden_property", `line ${line}: access to .${key} is not allowed`);
                if (
                    m.computed &&
                    key === undefined &&
                    m.property.type !== "Identifier" &&
                    m.property.type !== "MemberExpression" &&
                    m.property.type !== "UpdateExpression"
                ) {
                    // e.g. obj[`con${x}`]: a computed string we cannot see through.
                    if (
                        m.property.type === "TemplateLiteral" ||
                        m.property.type === "TaggedTemplateExpression" ||
                        m.property.type === "BinaryExpression" ||
                        m.property.type === "CallExpression"
                    ) {
                        fail("dynamic_property", `line ${line}: computed property names built from strings are not allowed`);
                    }
                }
                break;
            }
            case "Property": {
                const p = node as acorn.Property;
                if (!p.computed && p.key.type === "Identifier" && p.key.name === "__proto__")
                    fail("forbidden_property", `line ${line}: __proto__ is not allowed`);
                break;
            }
            case "ObjectPattern":
                // const {constructor: c} = main; const {["con" + "structor"]: c} = main
                for (const p of (node as acorn.ObjectPattern).properties) {
                    if (p.type !== "Property") continue;
                    const key = p.computed ? staticKey(p.key) : p.key.type === "Identifier" ? p.key.name : staticKey(p.key);
                    if (key !== undefined && FORBIDDEN_PROPERTIES.has(key)) fail("forbidden_property", `line ${line}: destructuring .${key} is not allowed`);
                    else if (p.computed && key === undefined) fail("dynamic_property", `line ${line}: computed keys in destructuring patterns are not allowed`);
                }
                break;
            case "Literal": {
                // Object.getOwnPropertyDescriptor(main, 'constructor'), Reflect.get(x, '__proto__'), ...
                const value = (node as acorn.Literal).value;
                if (typeof value === "string" && FORBIDDEN_PROPERTIES.has(value))
                    fail("forbidden_property", `line ${line}: the string "${value}" is not allowed`);
                break;
            }
            case "TemplateElement": {
                const t = node as acorn.TemplateElement;
                for (const text of [t.value.cooked, t.value.raw])
                    if (text !== null && text !== undefined && FORBIDDEN_PROPERTIES.has(text))
                        fail("forbidden_property", `line ${line}: the string "${text}" is not allowed`);
                break;
            }
            default:
                break;
        }
    });
    // One entry per (reason, message) is enough.
    report.problems = report.problems.filter((p, i, all) => all.findIndex((q) => q.message === p.message) === i);
    return report;
}
