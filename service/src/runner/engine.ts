/**
 * The sandbox's engine: QuickJS compiled to WebAssembly, prepared afresh for every run (a new wasm
 * instance, glue, runtime and context on a zeroed memory) by the pool worker that owns it, which
 * then runs one command on it (run.ts; what the guest gets and how it is read back: guest.ts).
 * This is the sandbox's boundary. Nothing of the
 * host realm enters the guest: `args` are created as a guest array of guest strings, and the only
 * host functions the guest can reach are `console.*`, which read guest values only after checking
 * (with the engine's own `typeof`) that they are strings. Every limit is enforced here, by the host:
 * the deadline by the interrupt handler, memory by the runtime's malloc limit (it counts every
 * guest allocation, typed arrays included), the stack by the runtime's stack limit, output by the
 * host's console functions. The exit code is computed here from `main`'s return value; the guest
 * never produces anything the host parses.
 */
import { randomBytes } from "node:crypto";
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
import { HELPERS } from "./guest";
import type { SandboxLimits, SandboxRequest } from "./limits";
import { runCommand } from "./run";

/** What the engine reports; the worker adds `durationMs` (the run's own time), the pool checks it. */
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
    /** How many times the engine asked for memory beyond its limit (tells a failure during one host read from an earlier, caught one). */
    memoryRefusals: number;
    /** While set, the engine's clock reads this instead of the time (Math.random's seed; see randomSeedClock). */
    seedClock?: number;
}

/**
 * A clock reading (ms) that carries 53 random bits and no time. QuickJS 2025-09-13 seeds a context's
 * Math.random (xorshift64*) in JS_NewContext: js_random_init sets its state to gettimeofday's
 * tv_sec * 1000000 + tv_usec, and the emscripten glue's gettimeofday reads the host's clock import
 * (Date.now()). Left to the clock, the seed would be the moment the engine was prepared, i.e. when
 * the previous run on the worker ended (attack-14s S1: that run could predict and steer this run's
 * Math.random, and this run could learn when it ended). Given an integer ms m below 2^53, the seed
 * is m * 1000 (tv_sec = m / 1000 < 2^43, so no overflow): 2^53 equally likely seeds of the 2^64
 * states, none of them derived from the time.
 */
export function randomSeedClock(): number {
    return Number(randomBytes(8).readBigUInt64BE() >> 11n) || 1;
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
 * of an earlier engine but its zeroed memory. The host wraps three of the glue's imports: the one
 * that grows the memory (to learn from the engine itself that the guest ran out of memory, so no
 * guest-made error can claim it), the clock (so that Math.random's seed is random, not the time the
 * engine was prepared: randomSeedClock), and the one that starts timers (refused: QuickJS never
 * uses it, and a timer is the only way a dropped instance, which shares the memory, could run again
 * after its run).
 */
export async function loadEngine(limits: SandboxLimits, memory: WasmMemory = engineMemoryFor(limits)): Promise<Engine> {
    const engine = { memory, outOfMemory: false, memoryRefusals: 0, interrupt: () => false } as Engine;
    const instantiateWasm = (imports: Record<string, Record<string, unknown>>, ready: (instance: unknown) => void) => {
        const env = imports.a ?? {};
        const [resize, grow] = findImport(env, "grow the memory", /\.grow\(/);
        // The glue grows the memory (and renews its views of it) in steps of up to 20 %; the memory's
        // maximum stops it at the limit, and a failed growth is the engine running out of memory.
        env[resize] = (bytes: number) => {
            const grown = grow(bytes);
            if (!grown) {
                engine.outOfMemory = true;
                engine.memoryRefusals++;
            }
            return grown;
        };
        // The clock: Math.random's seed while the context is made (randomSeedClock), the time otherwise.
        const [clock, now] = findImport(env, "read the clock", /Date\.now\(\)/);
        env[clock] = () => engine.seedClock ?? now();
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
    engine.seedClock = randomSeedClock();
    try {
        engine.context = engine.runtime.newContext();
    } finally {
        engine.seedClock = undefined;
    }
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
            // durationMs is the run's own time: not the wait for this engine's preparation after the
            // previous run (slower after a run that grew its memory: attack-14s S5).
            const started = performance.now();
            const { exitCode, stdout, stderr, killed, truncated } = runCommand(engine, job.request, limits);
            const durationMs = Math.round(performance.now() - started);
            parentPort!.postMessage({ id: job.id, result: { exitCode, stdout, stderr, killed, truncated, durationMs } });
            next = prepare(engine);
        });
    });
}
