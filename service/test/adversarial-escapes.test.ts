/**
 * The runner adversarial suite, part 1: every escape found against the previous (vm-based) runner (issue 14), POSTed to a real runner process; each test asserts outcomes (no file written, no secret visible, a well-typed answer, the runner alive, a run in flight completing).
 */
import * as assert from "node:assert/strict";
import { attackedRunner, PAYLOAD } from "./attacked-runner";

describe("runner adversarial suite: escapes found against the vm-based runner (a real runner process)", function () {
    this.timeout(120_000);
    const { run, memory, attack } = attackedRunner();

    it("a thrown object whose message getter throws an inspect.custom object gets nothing of the host", async () => {
        const r = await attack(`${PAYLOAD}
            function main(a) {
              throw { get message() { throw { [Symbol.for("nodejs.util.inspect.custom")]: (d, o, inspect) => pwn(inspect.constructor, a[0]) }; } };
            }`);
        assert.equal(r.exitCode, 1);
    });

    it("Error.prepareStackTrace set by the command is never called with host call sites", async () => {
        const r = await attack(`${PAYLOAD}
            function main(a) {
              Error.prepareStackTrace = (e, sites) => { for (const s of sites) pwn(s.getFunction().constructor, a[0]); return "x"; };
              throw new Error("go");
            }`);
        assert.equal(r.exitCode, 1);
    });

    it("a dynamic import() rejects inside the guest, with a guest error", async () => {
        const r = await attack(`${PAYLOAD}
            async function main(a) {
              try { await import("fs"); } catch (e) { pwn(e.constructor.constructor, a[0]); console.log("import: " + e.message); }
              return 0;
            }`);
        assert.match(r.stdout, /^blocked: .*\nimport: could not load module 'fs'\n$/);
    });

    it("the constructor chains of args, console and main lead only to the guest's Function", async () => {
        const r = await attack(`${PAYLOAD}
            function main(a) {
              pwn(a.constructor.constructor, a[0]);
              pwn(a[0].constructor.constructor, a[0]);
              pwn(console.log.constructor, a[0]);
              pwn(main.constructor, a[0]);
              pwn((async () => {}).constructor, a[0]);
              return 0;
            }`);
        assert.equal(r.stdout.split("\n").filter((l) => l.startsWith("blocked: ")).length, 5, r.stdout);
    });

    it("replacing JSON.stringify / JSON.parse cannot crash the runner or forge the answer", async () => {
        const r = await attack(`
            function main() {
              JSON.stringify = () => '{"exitCode":"0; rm -rf /","stdout":{"fake":true}}';
              JSON.parse = () => { throw new Error("boom"); };
              String.prototype.toString = () => { throw 1; };
              console.log({ a: 1 }, "plain");
              return 7;
            }`);
        // The host's formatter captured JSON.stringify before the command ran; the answer is the host's.
        assert.deepEqual([r.exitCode, r.stdout], [7, '{"a":1} plain\n']);
    });

    it("the output caps are the host's: no guest global raises them", async () => {
        const r = await attack(`
            function main() {
              globalThis.__max = 1e9; globalThis.__io = { out: "", err: "", truncated: false };
              const line = "x".repeat(1 << 20);
              for (let i = 0; i < 8; i++) { console.log(line); console.error(line); }
              return 0;
            }`);
        assert.deepEqual([Buffer.byteLength(r.stdout), Buffer.byteLength(r.stderr), r.truncated], [65536, 65536, true]);
    });

    it("typed arrays count against the memory limit: 8 x 256 MiB leaves the runner under 512 MiB", async () => {
        for (let i = 0; i < 2; i++) {
            const r = await attack(`
                function main() {
                  const keep = [];
                  for (let i = 0; i < 8; i++) keep.push(new Uint8Array(256 * 1024 * 1024).fill(1));
                  return keep.length;
                }`);
            assert.deepEqual([r.killed, r.exitCode], ["memory", 137]);
        }
        const parallel = await Promise.all([1, 2].map(() => run("function main() { const k = []; while (true) k.push(new ArrayBuffer(16 << 20)); }")));
        for (const r of parallel) assert.equal(r.killed, "memory");
        const { peak } = memory();
        assert.ok(peak < 512, `peak RSS ${peak.toFixed(0)} MiB`);
    });
});
