/** The sandbox's request/result contract and its limits, shared by the engine, the pool and the api's client. */

export interface SandboxRequest {
    code: string;
    args: string[];
    timeoutMs: number;
}

export interface SandboxResult {
    exitCode: number;
    stdout: string;
    stderr: string;
    durationMs: number;
    /** Why the sandbox was killed, if it was. */
    killed?: "timeout" | "memory";
    /** Output may be missing: some was dropped (a cap, a string the host could not read) or lost with a worker the pool ended. */
    truncated: boolean;
}

export interface SandboxLimits {
    /** UTF-8 bytes kept of stdout and of stderr, each. Default 64 KiB. */
    maxOutputBytes: number;
    /** The engine's whole memory for one run (objects, strings, typed arrays, the engine itself), MiB, 32-2048. Default 64. */
    maxMemoryMb: number;
    /** The engine's stack, KiB. Default 1024 (about 6000 frames of a simple recursive function). */
    maxStackKb: number;
}

export const SANDBOX_DEFAULTS: SandboxLimits = { maxOutputBytes: 64 * 1024, maxMemoryMb: 64, maxStackKb: 1024 };

/** Exit codes of a killed command, as a shell reports them (timeout(1): 124; SIGKILL: 137). */
export const EXIT_TIMEOUT = 124;
export const EXIT_MEMORY = 137;

/** Sandboxes (worker threads) of one runner process unless RUNNER_CONCURRENCY says otherwise. */
export const DEFAULT_CONCURRENCY = 2;

/**
 * Engine memory a sandbox may hold besides its live engine's, MiB: a memory that grew in a run is
 * dropped and collected as soon as the run is over (engine.ts), while the next engine's new memory
 * (of which instantiation touches about 1 MiB) is prepared.
 */
const DROPPED_ENGINE_MIB = 32;

/**
 * The runner's memory budget (RSS, MiB) with `concurrency` sandboxes: the process itself (HTTP
 * server, metrics: measured about 60), and per sandbox its host side (V8 isolate, compiled engine,
 * the glue and runtime of the next engine being prepared) plus its engine's whole memory (the
 * worker's one memory: 16 MiB, all of it touched once it has been zeroed, growing to the limit in
 * a memory-hungry run) plus dropped engine memory not yet collected.
 * The pod's memory limit for the runner must be at least this (config/rules.ts checks it). Measured
 * worst case with 2 sandboxes (`npm run bench:runner-memory`, service/README.md "Runner memory budget"): 244 MiB against 352.
 */
export function runnerMemoryBudgetMib(concurrency: number = DEFAULT_CONCURRENCY, limits: SandboxLimits = SANDBOX_DEFAULTS): number {
    const PROCESS_MIB = 64;
    const SANDBOX_HOST_MIB = 48;
    return PROCESS_MIB + concurrency * (SANDBOX_HOST_MIB + limits.maxMemoryMb + DROPPED_ENGINE_MIB);
}
