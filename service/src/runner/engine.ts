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
import * as fs from "node:fs";
import * as v8 from "node:v8";
import * as vm from "node:vm";
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

const WARM_UP = "function main(a) { console.log(JSON.stringify({ a }), [1, 2].map((x) => x * 2)); return 0 }";

/** What the pool posts to a worker (its limits travel once, in workerData). */
export interface WorkerJob {
    id: number;
    request: SandboxRequest;
}

/**
 * The engine's memory for one run: a wasm linear memory of exactly `maxMemoryMb` (pages are
 * committed only when touched). Everything the guest allocates lives there, typed arrays
 * included, and so does the engine itself (static data, C stack, runtime); that one bound is the
 * memory limit. (QuickJS's own malloc limit is not used: it does not count ArrayBuffer storage in
 * this version, and a failure at that limit is invisible to the host, so a guest could fake it.)
 */
export function engineMemory(limits: SandboxLimits): { maxPages: number } {
    return { maxPages: (limits.maxMemoryMb * 1024 * 1024) / 65536 };
}

/** The WebAssembly API (this project's lib settings do not declare it). */
interface WasmMemory {
    readonly buffer: ArrayBuffer;
    grow(pages: number): number;
}
interface WasmApi {
    Module: new (bytes: Uint8Array) => object;
    Memory: new (descriptor: { initial: number; maximum: number }) => WasmMemory;
    Instance: new (module: object, imports: unknown) => { exports: unknown };
}
const Wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/** The engine's wasm, compiled once per worker; every run instantiates it afresh. */
let compiled: object | undefined;
const compiledEngine = (): object => (compiled ??= new Wasm.Module(fs.readFileSync(require.resolve("@jitl/quickjs-wasmfile-release-sync/wasm"))));

/** One fresh engine: its own wasm instance and zeroed memory, used for one run, then dropped. */
export interface Engine {
    module: QuickJSWASMModule;
    memory: WasmMemory;
    /** Set by the host when the engine asked for more memory than its limit: the run hit the memory limit. */
    outOfMemory: boolean;
}

/** The module's minimum memory, pages (its import declares 16 MiB): the smallest limit that loads. */
const MIN_PAGES = 256;

/**
 * Instantiates the compiled engine with a new zeroed memory. Nothing survives from an earlier run: a
 * memory-safety bug in QuickJS reaches only this run's memory. The engine asks for more memory through
 * one import (emscripten's resize-heap; it always fails, the memory being fixed); the host wraps it to
 * learn, from the engine itself, that the guest ran out of memory (so no guest-made error can claim it).
 */
export async function loadEngine(limits: SandboxLimits): Promise<Engine> {
    // Fixed size (initial = maximum): quickjs-emscripten-core keeps typed-array views of the memory
    // made when a context is created, which a growing memory would detach mid-run.
    const pages = Math.max(MIN_PAGES, engineMemory(limits).maxPages);
    const memory = new Wasm.Memory({ initial: pages, maximum: pages });
    const engine = { memory, outOfMemory: false } as Engine;
    const instantiateWasm = (imports: Record<string, Record<string, unknown>>, ready: (instance: unknown) => void) => {
        const env = imports.a ?? {};
        // The resize-heap import is the only one that grows the memory (its name is minified).
        const resize = Object.entries(env).filter(([, f]) => typeof f === "function" && /\.grow\(/.test(String(f)));
        if (resize.length !== 1) throw new Error(`the engine's wasm glue changed: ${resize.length} imports grow the memory, expected 1`);
        const [name, grow] = resize[0] as [string, (bytes: number) => boolean];
        env[name] = (bytes: number) => {
            const grown = grow(bytes);
            if (!grown) engine.outOfMemory = true;
            return grown;
        };
        const instance = new Wasm.Instance(compiledEngine(), imports);
        ready(instance);
        return instance.exports;
    };
    const options = { wasmMemory: memory, emscriptenModule: { instantiateWasm } } as unknown as Parameters<typeof newVariant>[1];
    engine.module = await newQuickJSWASMModuleFromVariant(newVariant(variant, options));
    return engine;
}

/*
 * V8 frees a dropped engine's memory only when it collects garbage. It does so on its own (each engine
 * memory counts as external memory), and a small run touches about 1 MiB of its engine's memory; but
 * a worker running memory-hungry commands back to back could hold several dropped, fully touched
 * memories at once. So a worker also collects (a full collection: about 15 ms) after a run that ran
 * out of memory or ran for COLLECT_AFTER_MS or more (filling tens of MiB takes longer than that).
 */
const COLLECT_AFTER_MS = 20;

/** The worker's garbage collector (exposed for this isolate only; see collector()). */
function collector(): () => void {
    v8.setFlagsFromString("--expose-gc");
    const gc = vm.runInNewContext("gc") as () => void;
    return gc;
}

/**
 * A pool worker's main loop (sandbox.ts starts the worker with an empty environment and its limits
 * in workerData): every run gets a fresh engine (a new wasm instance with new memory; the compiled
 * module is shared); the next one is prepared while the worker waits.
 */
export function serveWorker(): void {
    const limits = (workerData as { limits: SandboxLimits }).limits;
    const gc = collector();
    const drop = (engine: Engine, ms: number) => {
        if (engine.outOfMemory || ms >= COLLECT_AFTER_MS) gc();
    };
    let next = loadEngine(limits).then((engine) => {
        runCommand(engine, { code: WARM_UP, args: ["warm"], timeoutMs: 5000 }, limits); // compiles the hot wasm paths
        drop(engine, COLLECT_AFTER_MS);
        parentPort!.postMessage({ ready: true });
        return loadEngine(limits);
    });
    let queue: Promise<void> = Promise.resolve();
    parentPort!.on("message", (job: WorkerJob) => {
        queue = queue.then(async () => {
            const engine = await next;
            const started = performance.now();
            const { exitCode, stdout, stderr, killed, truncated } = runCommand(engine, job.request, limits);
            parentPort!.postMessage({ id: job.id, result: { exitCode, stdout, stderr, killed, truncated } });
            drop(engine, performance.now() - started);
            next = loadEngine(limits);
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
 * Intrinsics removed from every guest before the command runs: none is needed by a command, and each
 * widens the engine's attack surface. SharedArrayBuffer (its growable form overflowed QuickJS's heap:
 * attack on issue 14, F1) and Atomics; ArrayBuffer's resize and transfer methods (the same resizable-
 * buffer code paths); WeakRef and FinalizationRegistry (garbage-collector-driven callbacks).
 * Documented in service/README.md "Runner".
 */
export const REMOVED_INTRINSICS = [
    "SharedArrayBuffer",
    "Atomics",
    "WeakRef",
    "FinalizationRegistry",
    "ArrayBuffer.prototype.resize",
    "ArrayBuffer.prototype.transfer",
    "ArrayBuffer.prototype.transferToFixedLength",
] as const;

const REMOVE_INTRINSICS = REMOVED_INTRINSICS.map((name) => {
    const dot = name.lastIndexOf(".");
    return dot < 0 ? `delete globalThis.${name};` : `delete ${name.slice(0, dot)}.${name.slice(dot + 1)};`;
}).join(" ");

/**
 * Guest helpers the host calls; written by us, evaluated before the command, reachable only through
 * host handles. They run under the same limits as the command. What they use is captured before the
 * command runs, and the host accepts only a guest string from them.
 */
const HELPERS = `(() => {
  ${REMOVE_INTRINSICS}
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

/** What the host knows about a run while it goes on; the guest cannot touch it. */
interface RunState {
    deadline: number;
    timedOut: boolean;
    /** A host exception happened inside a console call: the guest is stopped, its answer not trusted. */
    faulted: boolean;
    /** The engine asked for memory beyond its limit (set by the host's wrapper of its resize import). */
    outOfMemory: () => boolean;
}

/**
 * Runs `req` on `engine` (fresh, used once: the caller drops it afterwards). Never throws. The answer
 * is decided from the host's own state: past the deadline is a timeout whatever the guest did; a run
 * that fails after the engine asked for memory beyond its limit is the memory limit (a command that
 * catches a failed allocation and finishes keeps its own answer); a guest-made error claims neither.
 */
export function runCommand(engine: Engine, req: SandboxRequest, limits: SandboxLimits): EngineResult {
    const stdout = new CappedStream(limits.maxOutputBytes);
    const stderr = new CappedStream(limits.maxOutputBytes);
    const state: RunState = { deadline: Date.now() + req.timeoutMs, timedOut: false, faulted: false, outOfMemory: () => engine.outOfMemory };
    const finish = (exitCode: number, killed?: "timeout" | "memory"): EngineResult => ({
        exitCode,
        stdout: stdout.toString(),
        stderr: stderr.toString(),
        ...(killed ? { killed } : {}),
        truncated: stdout.truncated || stderr.truncated,
    });

    let result: EngineResult;
    try {
        const runtime = engine.module.newRuntime();
        runtime.setMaxStackSize(limits.maxStackKb * 1024);
        runtime.setInterruptHandler(() => {
            if (!state.timedOut && Date.now() >= state.deadline) state.timedOut = true;
            return state.timedOut || state.faulted;
        });
        const context = runtime.newContext();
        result = execute(context, runtime, req, { stdout, stderr }, state, finish);
        // Nothing is disposed: the whole engine (instance and memory) is dropped after the run.
    } catch (err) {
        // Only host code runs here (e.g. the host's stack overflowing inside the engine, or the engine
        // aborting when its memory ran out); the engine is dropped anyway.
        if (engine.outOfMemory) {
            stderr.write("killed: exceeded the memory limit\n");
            return finish(EXIT_MEMORY, "memory");
        }
        if (!(Date.now() >= state.deadline)) {
            const message = err instanceof RangeError ? "the command exhausted the engine's stack" : "the engine failed";
            stderr.write(`${message}; the sandbox was reset\n`);
            return finish(1);
        }
        result = finish(1);
    }
    if (state.timedOut || Date.now() >= state.deadline) {
        if (result.killed === "timeout") return result;
        stderr.write(`killed: exceeded ${req.timeoutMs} ms\n`);
        return finish(EXIT_TIMEOUT, "timeout");
    }
    if (state.faulted) {
        // A host exception inside a console call (e.g. the host's stack overflowing in the engine):
        // the guest was stopped; its answer is not trusted.
        stderr.write("the engine failed while printing; the sandbox was reset\n");
        return finish(1);
    }
    return result;
}

function execute(
    context: QuickJSContext,
    runtime: NonNullable<ReturnType<QuickJSWASMModule["newRuntime"]>>,
    req: SandboxRequest,
    streams: { stdout: CappedStream; stderr: CappedStream },
    state: RunState,
    finish: (exitCode: number, killed?: "timeout" | "memory") => EngineResult,
): EngineResult {
    const timedOut = () => state.timedOut;
    const helpers = context.evalCode(HELPERS, "host.js", { type: "global", strict: true }).unwrap();
    const format = context.getProp(helpers, "format");
    const head = context.getProp(helpers, "head");
    const describe = context.getProp(helpers, "describe");

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
    const makeConsole = context.getProp(helpers, "console");
    const consoleMade = context.callFunction(makeConsole, context.undefined, write);
    context.setProp(context.global, "console", consoleMade.unwrap());

    // args: a guest array of guest strings, built before any command code runs.
    const args = context.newArray();
    req.args.forEach((a, i) => {
        const s = context.newString(a);
        context.setProp(args, i, s);
        s.dispose();
    });

    const failed = (error: QuickJSHandle): EngineResult => {
        if (timedOut()) return killedByTimeout();
        if (state.outOfMemory()) return killedByMemory();
        // The guest's exception, described by the guest helper; it can say anything, decide nothing.
        streams.stderr.write(`${helperString(describe, error, 64 * 1024, "uncaught exception")}\n`);
        return finish(1);
    };
    const killedByMemory = (): EngineResult => {
        streams.stderr.write("killed: exceeded the memory limit\n");
        return finish(EXIT_MEMORY, "memory");
    };
    const killedByTimeout = (): EngineResult => {
        streams.stderr.write(`killed: exceeded ${req.timeoutMs} ms\n`);
        return finish(EXIT_TIMEOUT, "timeout");
    };

    const loaded = context.evalCode(req.code, "command.js", { type: "global" });
    if (loaded.error) return failed(loaded.error);

    const mainLookup = context.evalCode("typeof main === 'function' ? main : undefined", "host.js", { type: "global" });
    if (mainLookup.error) return failed(mainLookup.error);
    const main = mainLookup.value;
    if (context.typeof(main) !== "function") {
        streams.stderr.write("the command does not define function main(args)\n");
        return finish(1);
    }

    const called = context.callFunction(main, context.undefined, args);
    if (called.error) return failed(called.error);
    let value = called.value;

    // async main: run pending jobs until its promise settles, the deadline passes or nothing is left to run.
    let promise = context.getPromiseState(value);
    while (promise.type === "pending") {
        const jobs = runtime.executePendingJobs();
        if (jobs.error) {
            // A job that threw (e.g. a species constructor): nothing to keep; the loop goes on until
            // the promise settles or the deadline passes.
            jobs.error.dispose();
            if (timedOut()) return killedByTimeout();
            if (state.outOfMemory()) return killedByMemory();
        } else if (jobs.value === 0) {
            streams.stderr.write("main returned a promise that can never settle (nothing left to run)\n");
            return finish(1);
        }
        if (timedOut()) return killedByTimeout();
        promise = context.getPromiseState(value);
    }
    if (promise.type === "rejected") return failed(promise.error);
    if (!("notAPromise" in promise && promise.notAPromise)) value = promise.value;

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
