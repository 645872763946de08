import * as assert from "node:assert/strict";
import { validateCode } from "../src/validation";

const STRICT = { enabled: true, strictMode: true };
const reasons = (code: string, opts = STRICT) => validateCode(code, opts).problems.map((p) => p.reason);

describe("validation (acorn)", () => {
    it("accepts a plain command", () => {
        const r = validateCode("function main(args) {\n  const n = args.length;\n  console.log(`got ${n}`);\n  return args[0] ? 0 : 1;\n}", STRICT);
        assert.deepEqual(r, { enabled: true, strictMode: true, valid: true, problems: [] });
        assert.ok(validateCode("const main = (args) => args.length;", STRICT).valid);
    });

    it("rejects code that does not parse, naming the position", () => {
        const r = validateCode("function main( {", STRICT);
        assert.equal(r.valid, false);
        assert.equal(r.problems[0].reason, "syntax");
        assert.match(r.problems[0].message, /^does not parse: .*\(1:\d+\)/);
    });

    it("requires a top-level main", () => {
        assert.deepEqual(reasons("function helper() { return 1 }"), ["no_main"]);
        assert.deepEqual(reasons("function helper() { return 1 }", { enabled: true, strictMode: false }), ["no_main"]);
    });

    const rejected: [string, string, string][] = [
        ["require", "function main() { return require('fs') }", "forbidden_identifier"],
        ["dynamic import", "function main() { return import('fs') }", "import"],
        ["process", "function main() { return process.env }", "forbidden_identifier"],
        ["eval", "function main() { return eval('1') }", "forbidden_identifier"],
        ["Function", "function main() { return new Function('return 1')() }", "forbidden_identifier"],
        ["globalThis", "function main() { return globalThis }", "forbidden_identifier"],
        ["child processes", "function main() { return child_process.exec('ls') }", "forbidden_identifier"],
        ["filesystem", "function main() { return fs.readFileSync('/etc/passwd') }", "forbidden_identifier"],
        ["network", "function main() { return fetch('http://example.com') }", "forbidden_identifier"],
        ["timers", "function main() { setTimeout(() => 1, 10) }", "forbidden_identifier"],
        ["constructor escape", "function main() { return this.constructor.constructor('return process')() }", "forbidden_property"],
        ["computed constructor", "function main() { return ({})['constructor'] }", "forbidden_property"],
        ["concatenated constructor", "function main() { return ({})['con' + 'structor'] }", "forbidden_property"],
        ["template-built key", "function main(a) { return ({})[`con${a[0]}`] }", "dynamic_property"],
        ["__proto__", "function main() { return ({}).__proto__ }", "forbidden_property"],
        ["__proto__ literal", "function main() { return { __proto__: null } }", "forbidden_property"],
        ["with", "function main(a) { with (a) { return length } }", "with"],
        ["Reflect", "function main() { return Reflect.ownKeys({}) }", "forbidden_identifier"],
        ["a destructured constructor", "function main() { const { constructor: c } = main; return c }", "forbidden_property"],
        ["a destructured computed key", "function main(a) { const { [a[0]]: c } = main; return c }", "dynamic_property"],
        ["a String.raw key", "function main() { return main[String.raw`constructor`] }", "forbidden_property"],
        ["a tagged-template key", "function main(a) { return main[a.tag`x`] }", "dynamic_property"],
        ["the name as a string", "function main() { return Object.getOwnPropertyDescriptor(main, 'constructor') }", "forbidden_property"],
        ["the name as a template", "function main() { return Object.getOwnPropertyDescriptor(main, `prototype`) }", "forbidden_property"],
    ];
    for (const [title, code, reason] of rejected) {
        it(`strict mode rejects ${title}`, () => {
            const r = validateCode(code, STRICT);
            assert.equal(r.valid, false);
            assert.ok(
                r.problems.some((p) => p.reason === reason),
                JSON.stringify(r.problems),
            );
            assert.ok(
                r.problems.every((p) => /^(line \d+: |does not parse)/.test(p.message)),
                JSON.stringify(r.problems),
            );
        });
    }

    it("strict mode still accepts ordinary destructuring and templates", () => {
        assert.deepEqual(reasons("function main(a) { const { length } = a; const [first = 'x'] = a; return `${first}:${length}` }"), []);
    });

    it("non-strict mode only parses and checks for main", () => {
        assert.ok(validateCode("function main() { return process.env }", { enabled: true, strictMode: false }).valid);
    });

    it("disabled validation accepts anything and says so", () => {
        assert.deepEqual(validateCode("not even javascript", { enabled: false, strictMode: true }), {
            enabled: false,
            strictMode: true,
            valid: true,
            problems: [],
        });
    });

    it("rejects a NUL character (PostgreSQL cannot store it), even with validation disabled", () => {
        const code = "function main() {\n  return '\u0000';\n}";
        for (const opts of [STRICT, { enabled: false, strictMode: false }]) {
            assert.deepEqual(validateCode(code, opts).problems, [{ reason: "nul_character", message: "line 2: contains a NUL character (\\u0000)" }]);
        }
    });

    it("rejects oversized code", () => {
        assert.deepEqual(reasons(`function main() {}\n//${"x".repeat(40000)}`), ["too_long"]);
    });
});
