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
import {
    Lifetime,
    newQuickJSWASMModuleFromVariant,
    newVariant,
    type QuickJSContext,
    type QuickJSHandle,
    type QuickJSRuntime,
    type QuickJSWASMModule,
} from "quickjs-emscripten-core";
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

/** A wasm page, bytes. */
const PAGE = 65536;

/** The module's minimum memory, pages (its import declares 16 MiB): every engine's memory starts at this size. */
const MIN_PAGES = 256;

/**
 * The engine's memory for one run: a wasm linear memory that starts at the module's minimum (16 MiB)
 * and grows up to `maxMemoryMb` (pages are committed only when touched). Everything the guest
 * allocates lives there, typed arrays included, and so does the engine itself (static data, C
 * stack, runtime); that one bound is the memory limit. (QuickJS's own malloc limit is not used: it
 * does not count ArrayBuffer storage in this version, and a failure at that limit is invisible to
 * the host, so a guest could fake it.)
 */
export function engineMemory(limits: SandboxLimits): { initialPages: number; maxPages: number } {
    return { initialPages: MIN_PAGES, maxPages: Math.max(MIN_PAGES, (limits.maxMemoryMb * 1024 * 1024) / PAGE) };
}

/** The WebAssembly API (this project's lib settings do not declare it). */
export interface WasmMemory {
    readonly buffer: ArrayBuffer;
    grow(pages: number): number;
}
interface WasmApi {
    Module: new (bytes: Uint8Array) => object;
    Memory: new (descriptor: { initial: number; maximum: number }) => WasmMemory;
    Instance: new (module: object, imports: unknown) => { exports: unknown };
}
const Wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/** The engine's wasm, compiled once per worker (immutable code); every run instantiates it afresh. */
let compiled: object | undefined;
const compiledEngine = (): object => (compiled ??= new Wasm.Module(fs.readFileSync(require.resolve("@jitl/quickjs-wasmfile-release-sync/wasm"))));

/**
 * The memory for the next engine, in the state of a new one: `previous` (the last run's memory) with
 * every byte zeroed when it is still at its initial size, else a new memory. A memory that grew is
 * never reused (a memory cannot shrink, and its size would tell a later run that an earlier one used
 * more). Either way the next engine starts from the same 16 MiB of zeros, whatever the last run
 * wrote anywhere in its memory (attack-14 F1 gave a guest read/write of all of it). Reusing the
 * memory spares the process a new 16 MiB external allocation per run, which V8 answers with
 * garbage collections (most of an engine's cost when every run had a new one).
 */
export function engineMemoryFor(limits: SandboxLimits, previous?: WasmMemory): WasmMemory {
    const { initialPages, maxPages } = engineMemory(limits);
    if (previous && previous.buffer.byteLength === initialPages * PAGE) {
        new Uint8Array(previous.buffer).fill(0);
        return previous;
    }
    return new Wasm.Memory({ initial: initialPages, maximum: maxPages });
}

/** The engine's variant with its glue imported once per worker (the package's loader is a dynamic import at each call). */
const glue = variant.importModuleLoader();
const engineVariant = { ...variant, importModuleLoader: () => glue };

/** One engine: a new wasm instance on a zeroed memory, with its runtime, context and helpers made; used for one run. */
export interface Engine {
    module: QuickJSWASMModule;
    memory: WasmMemory;
    runtime: QuickJSRuntime;
    context: QuickJSContext;
    /** The guest helpers (HELPERS), evaluated before any command. */
    helpers: QuickJSHandle;
    /** Asked by the engine's interrupt handler; the run sets it. */
    interrupt: () => boolean;
    /** Set by the host when the engine asked for more memory than its limit: the run hit the memory limit. */
    outOfMemory: boolean;
}

/** An import of the engine's emscripten glue, found by what its (minified) source does. */
function findImport(env: Record<string, unknown>, what: string, pattern: RegExp): [string, (...a: number[]) => unknown] {
    const found = Object.entries(env).filter(([, f]) => typeof f === "function" && pattern.test(String(f)));
    if (found.length !== 1) throw new Error(`the engine's wasm glue changed: ${found.length} imports ${what}, expected 1`);
    return found[0] as [string, (...a: number[]) => unknown];
}

/**
 * quickjs-emscripten-core 0.32.0 keeps typed-array views of the engine's memory across calls into
 * the engine (the context's `uint32Out`, read by getLength; the out-pointer of executePendingJobs);
 * a memory that grows during such a call detaches them, and they would read `undefined`. This makes
 * every view that its ModuleMemory hands out a view of the memory's current buffer at each use. The
 * rest of the library reads `module.HEAPU8` at each use, which the glue renews after every growth.
 */
function liveViews(runtime: QuickJSRuntime): void {
    type Kind = { new (buffer: ArrayBufferLike, offset: number, length: number): ArrayLike<number>; BYTES_PER_ELEMENT: number };
    interface Memory {
        module: { HEAPU8: Uint8Array; _malloc(bytes: number): number; _free(ptr: number): void };
    }
    const proto = Object.getPrototypeOf((runtime as unknown as { memory: object }).memory) as { newTypedArray: unknown; liveViews?: true };
    if (proto.liveViews) return;
    if (typeof proto.newTypedArray !== "function") throw new Error("quickjs-emscripten-core changed: no ModuleMemory.newTypedArray");
    proto.newTypedArray = function (this: Memory, kind: Kind, length: number) {
        const module = this.module;
        const bytes = length * kind.BYTES_PER_ELEMENT;
        const ptr = module._malloc(bytes);
        module.HEAPU8.fill(0, ptr, ptr + bytes); // starts zeroed, as in the library's own version
        const value = { ptr, get typedArray() { return new kind(module.HEAPU8.buffer, ptr, length) } }; // prettier-ignore
        return new Lifetime(value, undefined, () => module._free(ptr));
    };
    proto.liveViews = true;
}

/**
 * Instantiates the compiled engine on `memory` (zeroed: engineMemoryFor) and prepares a runtime and
 * context with the guest helpers evaluated, ready for one command. Each engine gets a new instance
 * (its own mutable globals, such as the C stack pointer, its own function table, its data segments
 * written afresh), a new emscripten glue and a new quickjs-emscripten-core module around it: nothing
 * of an earlier engine but its zeroed memory. The host wraps two of the glue's imports: the one that
 * grows the memory (to learn from the engine itself that the guest ran out of memory, so no
 * guest-made error can claim it), and the one that
 * starts timers (refused: QuickJS never uses it, and a timer is the only way a dropped instance,
 * which shares the memory, could run again after its run).
 */
export async function loadEngine(limits: SandboxLimits, memory: WasmMemory = engineMemoryFor(limits)): Promise<Engine> {
    const engine = { memory, outOfMemory: false, interrupt: () => false } as Engine;
    const instantiateWasm = (imports: Record<string, Record<string, unknown>>, ready: (instance: unknown) => void) => {
        const env = imports.a ?? {};
        const [resize, grow] = findImport(env, "grow the memory", /\.grow\(/);
        // The glue grows the memory (and renews its views of it) in steps of up to 20 %; the memory's
        // maximum stops it at the limit, and a failed growth is the engine running out of memory.
        env[resize] = (bytes: number) => {
            const grown = grow(bytes);
            if (!grown) engine.outOfMemory = true;
            return grown;
        };
        const [timer] = findImport(env, "start timers", /setTimeout\(/);
        env[timer] = () => {
            throw new Error("timers are not available in the engine");
        };
        const instance = new Wasm.Instance(compiledEngine(), imports);
        ready(instance);
        return instance.exports;
    };
    const options = { wasmMemory: memory, emscriptenModule: { instantiateWasm } } as unknown as Parameters<typeof newVariant>[1];
    engine.module = await newQuickJSWASMModuleFromVariant(newVariant(engineVariant, options));
    engine.runtime = engine.module.newRuntime();
    liveViews(engine.runtime);
    engine.runtime.setMaxStackSize(limits.maxStackKb * 1024);
    engine.runtime.setInterruptHandler(() => engine.interrupt());
    engine.context = engine.runtime.newContext();
    engine.helpers = engine.context.evalCode(HELPERS, "host.js", { type: "global", strict: true }).unwrap();
    return engine;
}

/** The worker's garbage collector (exposed for this isolate only; see collector()). */
function collector(): () => void {
    v8.setFlagsFromString("--expose-gc");
    const gc = vm.runInNewContext("gc") as () => void;
    return gc;
}

/**
 * A pool worker's main loop (sandbox.ts starts the worker with an empty environment and its limits
 * in workerData): every run gets a fresh engine (a new wasm instance on the worker's zeroed memory,
 * or a new memory after a run that grew it; the compiled module is shared), prepared while the
 * worker waits. A memory that grew (a memory-hungry run: up to the whole limit touched) is dropped,
 * and the worker collects garbage once the run is over so it is freed at once rather than whenever
 * V8 gets to it; other runs leave no engine memory behind to collect.
 */
export function serveWorker(): void {
    const limits = (workerData as { limits: SandboxLimits }).limits;
    const gc = collector();
    const { initialPages } = engineMemory(limits);
    /** The next engine, on the last one's memory (zeroed) or, when that grew, on a new one (the old one collected first). */
    const prepare = (last: Engine): Promise<Engine> => {
        if (last.memory.buffer.byteLength === initialPages * PAGE) return loadEngine(limits, engineMemoryFor(limits, last.memory));
        // Collected once the run's frame (the last reference to its engine) is gone, before a new memory is made.
        return new Promise((resolve) =>
            setImmediate(() => {
                gc();
                resolve(loadEngine(limits));
            }),
        );
    };
    let next = loadEngine(limits).then((engine) => {
        runCommand(engine, { code: WARM_UP, args: ["warm"], timeoutMs: 5000 }, limits); // compiles the hot wasm paths
        parentPort!.postMessage({ ready: true });
        return prepare(engine);
    });
    let queue: Promise<void> = Promise.resolve();
    parentPort!.on("message", (job: WorkerJob) => {
        queue = queue.then(async () => {
            const engine = await next;
            const { exitCode, stdout, stderr, killed, truncated } = runCommand(engine, job.request, limits);
            parentPort!.postMessage({ id: job.id, result: { exitCode, stdout, stderr, killed, truncated } });
            next = prepare(engine);
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
        engine.interrupt = () => {
            if (!state.timedOut && Date.now() >= state.deadline) state.timedOut = true;
            return state.timedOut || state.faulted;
        };
        result = execute(engine, req, { stdout, stderr }, state, finish);
        // Nothing is disposed: the engine (instance, glue, runtime) is dropped after the run, and its memory zeroed (engineMemoryFor).
    } catch (err) {
        // Only host code runs here (e.g. the host's stack overflowing inside the engine, or the engine
        // aborting when its memory ran out); the engine is dropped anyway, its memory zeroed or dropped.
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
    { context, runtime, helpers }: Engine,
    req: SandboxRequest,
    streams: { stdout: CappedStream; stderr: CappedStream },
    state: RunState,
    finish: (exitCode: number, killed?: "timeout" | "memory") => EngineResult,
): EngineResult {
    const timedOut = () => state.timedOut;
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
