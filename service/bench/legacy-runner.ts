/**
 * The runner as it was on main 6c05aab (a worker thread and a `vm` context per run), kept ONLY so
 * `npm run bench` can measure the old figure side by side with the new one in the same run. It is
 * not a sandbox (issue 14: it can be escaped); nothing outside bench/ imports it.
 * Usage: ts-node bench/legacy-runner.ts <port>
 */
import { Worker } from "node:worker_threads";
import { createHttp } from "../src/http";
import { createLogger } from "../src/logger";
import { EXIT_MEMORY, EXIT_TIMEOUT, type SandboxRequest, type SandboxResult } from "../src/runner/limits";

/** The old runner's own limits (a V8 heap, not an engine memory); the request, answer and exit codes are the contract's. */
interface SandboxLimits {
    maxOutputBytes: number;
    maxHeapMb: number;
}

const SANDBOX_DEFAULTS: SandboxLimits = { maxOutputBytes: 64 * 1024, maxHeapMb: 64 };

/** Runs inside the worker (plain JS: workers started with eval take source text). */
const WORKER_SOURCE = String.raw`
const { parentPort, workerData } = require("node:worker_threads");
const vm = require("node:vm");
const { code, args, timeoutMs, maxOutputBytes } = workerData;
const context = vm.createContext(Object.create(null), { name: "command", codeGeneration: { strings: false, wasm: false }, microtaskMode: "afterEvaluate" });
context.__args = JSON.stringify(args);
context.__max = maxOutputBytes;
const prelude = "(() => {" +
  "const io = { out: '', err: '', truncated: false };" +
  "const fmt = (a) => a.map((x) => { if (typeof x === 'string') return x; try { return JSON.stringify(x); } catch (e) { return String(x); } }).join(' ');" +
  "const write = (k) => (...a) => { const s = fmt(a) + '\\n'; if (io[k].length + s.length > __max) { io[k] += s.slice(0, Math.max(0, __max - io[k].length)); io.truncated = true; } else io[k] += s; };" +
  "globalThis.console = { log: write('out'), info: write('out'), debug: write('out'), warn: write('err'), error: write('err') };" +
  "Object.defineProperty(globalThis, '__io', { value: io });" +
  "})();";
const epilogue = "(() => { const r = main(JSON.parse(__args)); " +
  "if (r && typeof r.then === 'function') throw new Error('main must return synchronously'); " +
  "if (typeof r === 'string') console.log(r); " +
  "const code = Number.isInteger(r) ? r : 0; " +
  "return JSON.stringify({ exitCode: code, stdout: __io.out, stderr: __io.err, truncated: __io.truncated }); })()";
const started = Date.now();
const remaining = () => Math.max(1, timeoutMs - (Date.now() - started));
try {
  new vm.Script(prelude).runInContext(context);
  new vm.Script(code, { filename: "command.js" }).runInContext(context, { timeout: remaining() });
  parentPort.postMessage({ kind: "done", json: new vm.Script(epilogue).runInContext(context, { timeout: remaining() }) });
} catch (err) {
  const timedOut = err && err.code === "ERR_SCRIPT_EXECUTION_TIMEOUT";
  let io = { out: "", err: "", truncated: false };
  try { io = JSON.parse(new vm.Script("JSON.stringify(__io)").runInContext(context, { timeout: 100 })); } catch (e) {}
  const message = err && typeof err === "object" && "message" in err ? String(err.message) : String(err);
  parentPort.postMessage({ kind: timedOut ? "timeout" : "error", message, stdout: io.out, stderr: io.err, truncated: io.truncated });
}
`;

function runInSandbox(req: SandboxRequest, limits: SandboxLimits = SANDBOX_DEFAULTS): Promise<SandboxResult> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    return new Promise((resolve) => {
        let settled = false;
        const worker = new Worker(WORKER_SOURCE, {
            eval: true,
            env: {},
            stdout: true,
            stderr: true,
            workerData: { code: req.code, args: req.args, timeoutMs: req.timeoutMs, maxOutputBytes: limits.maxOutputBytes },
            resourceLimits: { maxOldGenerationSizeMb: limits.maxHeapMb, maxYoungGenerationSizeMb: 16, codeRangeSizeMb: 16, stackSizeMb: 4 },
        });
        const finish = (result: Omit<SandboxResult, "durationMs">) => {
            if (settled) return;
            settled = true;
            clearTimeout(hardTimer);
            void worker.terminate();
            resolve({ ...result, durationMs: elapsed() });
        };
        // Backstop for anything the vm timeout cannot interrupt.
        const hardTimer = setTimeout(
            () => finish({ exitCode: EXIT_TIMEOUT, stdout: "", stderr: `killed: exceeded ${req.timeoutMs} ms\n`, killed: "timeout", truncated: false }),
            req.timeoutMs + 1000,
        );
        worker.on("message", (m: { kind: string; json?: string; message?: string; stdout?: string; stderr?: string; truncated?: boolean }) => {
            if (m.kind === "done") {
                const r = JSON.parse(m.json!) as { exitCode: number; stdout: string; stderr: string; truncated: boolean };
                finish({ exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr, truncated: r.truncated });
            } else if (m.kind === "timeout") {
                finish({
                    exitCode: EXIT_TIMEOUT,
                    stdout: m.stdout ?? "",
                    stderr: `${m.stderr ?? ""}killed: exceeded ${req.timeoutMs} ms\n`,
                    killed: "timeout",
                    truncated: m.truncated ?? false,
                });
            } else {
                finish({ exitCode: 1, stdout: m.stdout ?? "", stderr: `${m.stderr ?? ""}${m.message}\n`, truncated: m.truncated ?? false });
            }
        });
        worker.on("error", (err: Error & { code?: string }) => {
            if (err.code === "ERR_WORKER_OUT_OF_MEMORY") {
                finish({
                    exitCode: EXIT_MEMORY,
                    stdout: "",
                    stderr: `killed: exceeded the ${limits.maxHeapMb} MiB memory limit\n`,
                    killed: "memory",
                    truncated: false,
                });
            } else {
                finish({ exitCode: 1, stdout: "", stderr: `${err.message}\n`, truncated: false });
            }
        });
        worker.on("exit", (code) => finish({ exitCode: code === 0 ? 1 : code, stdout: "", stderr: "sandbox exited unexpectedly\n", truncated: false }));
    });
}

const app = createHttp({ logger: createLogger("silent"), bodyLimit: 64 * 1024 });
app.post("/run", async (request) => {
    const body = request.body as SandboxRequest;
    return runInSandbox({ code: body.code, args: body.args, timeoutMs: body.timeoutMs });
});
app.get("/health", async () => ({ status: "ok" }));
void app.listen({ port: Number(process.argv[2]), host: "127.0.0.1" });
