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
