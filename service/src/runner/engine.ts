/**
 * Runs one generated command in QuickJS compiled to WebAssembly: a fresh runtime and context per
 * run, inside the wasm module a pool worker owns. This is the sandbox's boundary. Nothing of the
 * host realm enters the guest: `args` are created as a guest array of guest strings, and the only
 * host functions the guest can reach are `console.*`, which read guest values only after checking
 * (with the engine's own `typeof`) that they are strings. Every limit is enforced here, by the host:
 * the deadline by the interrupt handler, memory by the runtime's malloc limit (it counts every
 * guest allocation, typed arrays included), the stack by the runtime's stack limit, output by the
 * host's console functions. The exit code is computed here from `main`'s return value; the guest
 * never produces anything the host parses.
 */
import { parentPort, workerData } from "node:worker_threads";
import variant from "@jitl/quickjs-wasmfile-release-sync";
import { newQuickJSWASMModuleFromVariant, newVariant, type QuickJSContext, type QuickJSHandle, type QuickJSWASMModule } from "quickjs-emscripten-core";
import { EXIT_MEMORY, EXIT_TIMEOUT, type SandboxLimits, type SandboxRequest } from "./limits";

/** What the engine reports; the pool adds `durationMs`. */
export interface EngineResult {
    exitCode: number;
    stdout: string;
    stderr: string;
    killed?: "timeout" | "memory";
    truncated: boolean;
}

/**
 * The wasm module can no longer be trusted (e.g. the host's own stack overflowed inside the engine,
 * which unwinds wasm mid-operation): the worker answers, then loads a fresh module.
 */
export interface EngineFault extends EngineResult {
    fault: true;
}

const WARM_UP = "function main(a) { console.log(JSON.stringify({ a }), [1, 2].map((x) => x * 2)); return 0 }";

/** What the pool posts to a worker (its limits travel once, in workerData). */
export interface WorkerJob {
    id: number;
    request: SandboxRequest;
}

/**
 * The engine's memory for one run: its whole wasm linear memory, fixed at `maxMemoryMb` (allocated
 * up front; it cannot grow). Everything the guest allocates lives there, typed arrays included
 * (QuickJS's own malloc limit does not count ArrayBuffer storage in this version). QuickJS's limit
 * is set a little lower so ordinary allocations fail inside the engine with a clean out-of-memory.
 */
export function engineMemory(limits: SandboxLimits): { wasmPages: number; quickjsLimitBytes: number } {
    return { wasmPages: (limits.maxMemoryMb * 1024 * 1024) / 65536, quickjsLimitBytes: (limits.maxMemoryMb - ENGINE_OVERHEAD_MB) * 1024 * 1024 };
}

/** The engine's own share of its memory (static data, C stack, runtime), MiB. */
const ENGINE_OVERHEAD_MB = 8;

/** The WebAssembly global (this project's lib settings do not declare it). */
const Wasm = (globalThis as unknown as { WebAssembly: { Memory: new (descriptor: { initial: number; maximum: number }) => unknown } }).WebAssembly;

/** Loads one QuickJS wasm module whose memory is exactly the run's limit. */
export function loadEngine(limits: SandboxLimits): Promise<QuickJSWASMModule> {
    const pages = engineMemory(limits).wasmPages;
    const memory = new Wasm.Memory({ initial: pages, maximum: pages }) as NonNullable<Parameters<typeof newVariant>[1]["wasmMemory"]>;
    return newQuickJSWASMModuleFromVariant(newVariant(variant, { wasmMemory: memory }));
}

/**
 * A pool worker's main loop (sandbox.ts starts the worker with an empty environment and its limits
 * in workerData): one QuickJS wasm module, one run at a time. After an engine fault it answers,
 * then loads a fresh module before taking the next run.
 */
export function serveWorker(): void {
    const limits = (workerData as { limits: SandboxLimits }).limits;
    const load = () =>
        loadEngine(limits).then((m) => {
            runCommand(m, { code: WARM_UP, args: ["warm"], timeoutMs: 5000 }, limits); // compiles the hot wasm paths
            parentPort!.postMessage({ ready: true });
            return m;
        });
    let module = load();
    parentPort!.on("message", (job: WorkerJob) => {
        void module.then((m) => {
            const { exitCode, stdout, stderr, killed, truncated, ...rest } = runCommand(m, job.request, limits);
            parentPort!.postMessage({ id: job.id, result: { exitCode, stdout, stderr, killed, truncated } });
            if ("fault" in rest) module = load();
        });
    });
}

/** One output stream, capped in UTF-8 bytes; never splits a character. */
class CappedStream {
    private readonly chunks: string[] = [];
    private bytes = 0;
    truncated = false;
    constructor(private readonly capBytes: number) {}

    /** Bytes still accepted (0 once full). */
    get room(): number {
        return this.truncated ? 0 : this.capBytes - this.bytes;
    }

    write(text: string): void {
        if (this.truncated) return;
        const room = this.capBytes - this.bytes;
        // A string of n UTF-16 units is at most 3n UTF-8 bytes.
        if (text.length * 3 <= room) {
            this.chunks.push(text);
            this.bytes += Buffer.byteLength(text);
            return;
        }
        const length = Buffer.byteLength(text);
        if (length <= room) {
            this.chunks.push(text);
            this.bytes += length;
            return;
        }
        const { read, written } = new TextEncoder().encodeInto(text, new Uint8Array(room));
        this.chunks.push(text.slice(0, read));
        this.bytes += written;
        this.truncated = true;
    }

    toString(): string {
        return this.chunks.join("");
    }
}

/**
 * Guest helpers the host calls; written by us, evaluated before the command, reachable only through
 * host handles. They run under the same limits as the command. What they use is captured before the
 * command runs, and the host accepts only a guest string from them.
 */
const HELPERS = `(() => {
  const apply = Reflect.apply, slice = String.prototype.slice, stringify = JSON.stringify, toString = String;
  const text = (v) => { try { return toString(v); } catch (e) { return "[unprintable]"; } };
  return {
    // console: guest functions that hand the host ONE genuine array (rest parameters) per call, so a
    // call with 60000 arguments costs the host nothing once the stream is full. The host function
    // stays in this closure; the command cannot reach it.
    console(write) {
      const to = (stream) => (...a) => { write(stream, a); };
      return { log: to(1), info: to(1), debug: to(1), warn: to(2), error: to(2) };
    },
    // console.* arguments that are not strings: JSON for objects (like the previous runner), else String(v).
    format(v) {
      if (v !== null && typeof v === "object") { try { const s = stringify(v); if (typeof s === "string") return s; } catch (e) {} }
      return text(v);
    },
    // The first n characters of a guest string, so a huge string is never copied out whole.
    head(s, n) { return apply(slice, s, [0, n]); },
    // An uncaught exception: "Name: message" and the first lines of the guest stack, or String(value).
    describe(e) {
      try {
        if (e !== null && typeof e === "object") {
          const name = e.name, message = e.message, stack = e.stack;
          if (typeof message === "string") {
            const head = (typeof name === "string" && name !== "" ? name + ": " : "") + message;
            if (typeof stack !== "string" || stack === "") return head;
            const lines = stack.split("\\n").filter((l) => l !== "");
            return [head, ...lines.slice(0, 10), ...(lines.length > 10 ? ["    ... " + (lines.length - 10) + " more"] : [])].join("\\n");
          }
        }
      } catch (x) {}
      return text(e);
    },
  };
})()`;

const OUT_OF_MEMORY = "InternalError: out of memory";

/** What the host knows about a run while it goes on; the guest cannot touch it. */
interface RunState {
    deadline: number;
    timedOut: boolean;
    /** A host exception happened inside a console call: the guest is stopped, the module replaced. */
    faulted: boolean;
}

/** Runs `req` on a fresh runtime of `module`. Never throws: a host-side failure is an EngineFault. */
export function runCommand(module: QuickJSWASMModule, req: SandboxRequest, limits: SandboxLimits): EngineResult | EngineFault {
    const stdout = new CappedStream(limits.maxOutputBytes);
    const stderr = new CappedStream(limits.maxOutputBytes);
    const state: RunState = { deadline: Date.now() + req.timeoutMs, timedOut: false, faulted: false };
    const finish = (exitCode: number, killed?: "timeout" | "memory"): EngineResult => ({
        exitCode,
        stdout: stdout.toString(),
        stderr: stderr.toString(),
        ...(killed ? { killed } : {}),
        truncated: stdout.truncated || stderr.truncated,
    });

    let runtime: ReturnType<QuickJSWASMModule["newRuntime"]> | undefined;
    let result: EngineResult;
    try {
        runtime = module.newRuntime();
        runtime.setMemoryLimit(engineMemory(limits).quickjsLimitBytes);
        runtime.setMaxStackSize(limits.maxStackKb * 1024);
        runtime.setInterruptHandler(() => {
            if (!state.timedOut && Date.now() >= state.deadline) state.timedOut = true;
            return state.timedOut || state.faulted;
        });
        const context = runtime.newContext();
        const handles: QuickJSHandle[] = [];
        try {
            result = execute(context, runtime, handles, req, { stdout, stderr }, state, finish);
        } finally {
            for (const h of handles.reverse()) if (h.alive) h.dispose();
            context.dispose();
        }
    } catch (err) {
        // Only host code runs here; a throw means the module's state is unknown.
        const message = err instanceof RangeError ? "the command exhausted the engine's stack" : "the engine failed";
        stderr.write(`${message}; the sandbox was reset\n`);
        try {
            runtime?.dispose();
        } catch {
            // The module is discarded anyway.
        }
        return { ...finish(1), fault: true };
    }
    if (state.faulted) {
        // A host exception inside a console call (e.g. the host's stack overflowing in the engine):
        // the guest was stopped; its answer is not trusted.
        stderr.write("the engine failed while printing; the sandbox was reset\n");
        result = finish(1);
    }
    try {
        runtime.dispose();
    } catch {
        return { ...result, fault: true };
    }
    return state.faulted ? { ...result, fault: true } : result;
}

function execute(
    context: QuickJSContext,
    runtime: NonNullable<ReturnType<QuickJSWASMModule["newRuntime"]>>,
    handles: QuickJSHandle[],
    req: SandboxRequest,
    streams: { stdout: CappedStream; stderr: CappedStream },
    state: RunState,
    finish: (exitCode: number, killed?: "timeout" | "memory") => EngineResult,
): EngineResult {
    const timedOut = () => state.timedOut;
    const keep = (h: QuickJSHandle) => (handles.push(h), h);
    const helpers = context.evalCode(HELPERS, "host.js", { type: "global", strict: true }).unwrap();
    keep(helpers);
    const format = keep(context.getProp(helpers, "format"));
    const head = keep(context.getProp(helpers, "head"));
    const describe = keep(context.getProp(helpers, "describe"));

    /** A guest value as a host string: only a guest string (per the engine's typeof) is read. */
    const readString = (h: QuickJSHandle, maxUnits: number): string | undefined => {
        if (context.typeof(h) !== "string") return undefined;
        const length = context.getLength(h) ?? 0;
        if (length <= maxUnits) return context.getString(h);
        const n = context.newNumber(maxUnits);
        const cut = context.callFunction(head, context.undefined, h, n);
        n.dispose();
        if (cut.error) return (cut.error.dispose(), undefined);
        const value = cut.value;
        try {
            return context.typeof(value) === "string" && (context.getLength(value) ?? Infinity) <= maxUnits ? context.getString(value) : undefined;
        } finally {
            value.dispose();
        }
    };
    /** Calls a helper on a guest value; its answer must be a guest string. */
    const helperString = (fn: QuickJSHandle, arg: QuickJSHandle, maxUnits: number, fallback: string): string => {
        const r = context.callFunction(fn, context.undefined, arg);
        if (r.error) return (r.error.dispose(), fallback);
        try {
            return readString(r.value, maxUnits) ?? fallback;
        } finally {
            r.value.dispose();
        }
    };

    // console.*: one host function behind guest wrappers (see HELPERS). A call made while the host
    // is formatting (e.g. from a toJSON) is dropped; a call past the deadline stops the guest.
    let inConsole = false;
    const write = context.newFunction("write", (streamHandle: QuickJSHandle, list: QuickJSHandle) => {
        if (inConsole || state.faulted) return;
        if (state.timedOut || Date.now() >= state.deadline) {
            // The interrupt handler is polled only every few thousand operations; a loop of costly
            // console calls would outrun it. Throwing ends the command now (or at its next console call).
            state.timedOut = true;
            throw new Error("deadline exceeded");
        }
        const stream = context.typeof(streamHandle) === "number" && context.getNumber(streamHandle) === 2 ? streams.stderr : streams.stdout;
        if (stream.room === 0) {
            stream.truncated = true; // this call's output is dropped
            return;
        }
        inConsole = true;
        try {
            const parts: string[] = [];
            let room = stream.room;
            const count = context.typeof(list) === "object" ? (context.getLength(list) ?? 0) : 0;
            for (let i = 0; i < count && room > 0; i++) {
                if (Date.now() >= state.deadline) {
                    state.timedOut = true;
                    break;
                }
                const arg = context.getProp(list, i);
                try {
                    const type = context.typeof(arg);
                    const part =
                        type === "number" ? String(context.getNumber(arg)) : (readString(arg, room) ?? helperString(format, arg, room, "[unprintable]"));
                    parts.push(part);
                    room -= part.length + 1;
                } finally {
                    arg.dispose();
                }
            }
            stream.write(`${parts.join(" ")}\n`);
        } catch {
            // Only host code throws here (e.g. the host's stack overflowing inside the engine): the
            // module's state is unknown. Stop the guest; the run ends as an engine fault.
            state.faulted = true;
        } finally {
            inConsole = false;
        }
    });
    keep(write);
    const makeConsole = keep(context.getProp(helpers, "console"));
    const consoleMade = context.callFunction(makeConsole, context.undefined, write);
    context.setProp(context.global, "console", keep(consoleMade.unwrap()));

    // args: a guest array of guest strings, built before any command code runs.
    const args = keep(context.newArray());
    req.args.forEach((a, i) => {
        const s = context.newString(a);
        context.setProp(args, i, s);
        s.dispose();
    });

    const failed = (error: QuickJSHandle): EngineResult => {
        if (timedOut()) return killedByTimeout();
        // QuickJS throws null when even its out-of-memory error cannot be allocated: an uncaught null
        // is reported as the memory limit (a command that throws null itself is reported the same way).
        const isNull = context.typeof(error) === "object" && context.sameValue(error, context.null);
        const text = isNull ? OUT_OF_MEMORY : helperString(describe, error, 64 * 1024, "uncaught exception");
        if (text.startsWith(OUT_OF_MEMORY)) {
            streams.stderr.write(`killed: exceeded the memory limit\n`);
            return finish(EXIT_MEMORY, "memory");
        }
        streams.stderr.write(`${text}\n`);
        return finish(1);
    };
    const killedByTimeout = (): EngineResult => {
        streams.stderr.write(`killed: exceeded ${req.timeoutMs} ms\n`);
        return finish(EXIT_TIMEOUT, "timeout");
    };

    const loaded = context.evalCode(req.code, "command.js", { type: "global" });
    if (loaded.error) return failed(keep(loaded.error));
    keep(loaded.value);

    const mainLookup = context.evalCode("typeof main === 'function' ? main : undefined", "host.js", { type: "global" });
    if (mainLookup.error) return failed(keep(mainLookup.error));
    const main = keep(mainLookup.value);
    if (context.typeof(main) !== "function") {
        streams.stderr.write("the command does not define function main(args)\n");
        return finish(1);
    }

    const called = context.callFunction(main, context.undefined, args);
    if (called.error) return failed(keep(called.error));
    let value = keep(called.value);

    // async main: run pending jobs until its promise settles, the deadline passes or nothing is left to run.
    let promise = context.getPromiseState(value);
    while (promise.type === "pending") {
        const jobs = runtime.executePendingJobs();
        if (jobs.error) {
            keep(jobs.error);
            if (timedOut()) return killedByTimeout();
        } else if (jobs.value === 0) {
            streams.stderr.write("main returned a promise that can never settle (nothing left to run)\n");
            return finish(1);
        }
        if (timedOut()) return killedByTimeout();
        promise = context.getPromiseState(value);
    }
    if (promise.type === "rejected") return failed(keep(promise.error));
    if (!("notAPromise" in promise && promise.notAPromise)) value = keep(promise.value);

    switch (context.typeof(value)) {
        case "number": {
            const code = context.getNumber(value);
            if (Number.isInteger(code) && code >= 0 && code <= 255) return finish(code);
            streams.stderr.write(`main returned ${code}; an exit code is an integer from 0 to 255\n`);
            return finish(1);
        }
        case "string": {
            const text = readString(value, streams.stdout.room);
            if (text !== undefined) streams.stdout.write(`${text}\n`);
            return finish(0);
        }
        default:
            return finish(0);
    }
}
