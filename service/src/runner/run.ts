/**
 * One command on one prepared engine (engine.ts): console wired to the host's capped streams, args
 * as guest strings, `main` called, async jobs run until its promise settles or the deadline, and the
 * exit code decided by the host from its own state and `main`'s return value (rules in
 * service/README.md "Runner").
 */
import type { QuickJSHandle } from "quickjs-emscripten-core";
import type { Engine, EngineResult } from "./engine";
import { CappedStream, guestString, UNPRINTABLE } from "./guest";
import { EXIT_MEMORY, EXIT_TIMEOUT, type SandboxLimits, type SandboxRequest } from "./limits";

/** What the host knows about a run while it goes on; the guest cannot touch it. */
interface RunState {
    deadline: number;
    timedOut: boolean;
    /** A host exception happened inside a console call: the guest is stopped, its answer not trusted. */
    faulted: boolean;
    /** The engine asked for memory beyond its limit (set by the host's wrapper of its resize import). */
    outOfMemory: () => boolean;
    /** How many times so far the engine asked for memory beyond its limit. */
    memoryRefusals: () => number;
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
    const state: RunState = {
        deadline: Date.now() + req.timeoutMs,
        timedOut: false,
        faulted: false,
        outOfMemory: () => engine.outOfMemory,
        memoryRefusals: () => engine.memoryRefusals,
    };
    const finish = (exitCode: number, killed?: "timeout" | "memory"): EngineResult => ({
        exitCode,
        stdout: stdout.toString(),
        stderr: stderr.toString(),
        ...(killed ? { killed } : {}),
        truncated: stdout.truncated || stderr.truncated,
    });
    /** The run was killed at its deadline or its memory limit. */
    const announced = new Set<string>();
    const kill = (why: "timeout" | "memory"): EngineResult => {
        // Each kind's message once, however many paths reach it (attack-14w W2).
        if (!announced.has(why)) stderr.write(why === "memory" ? "killed: exceeded the memory limit\n" : `killed: exceeded ${req.timeoutMs} ms\n`);
        announced.add(why);
        return finish(why === "memory" ? EXIT_MEMORY : EXIT_TIMEOUT, why);
    };

    let result: EngineResult;
    try {
        engine.interrupt = () => {
            if (!state.timedOut && Date.now() >= state.deadline) state.timedOut = true;
            return state.timedOut || state.faulted;
        };
        result = execute(engine, req, { stdout, stderr }, state, finish, kill);
        // Nothing is disposed: the engine (instance, glue, runtime) is dropped after the run, and its memory zeroed (engineMemoryFor).
    } catch (err) {
        // Only host code runs here (e.g. the host's stack overflowing inside the engine, or the engine
        // aborting when its memory ran out); the engine is dropped anyway, its memory zeroed or dropped.
        if (engine.outOfMemory) return kill("memory");
        if (!(Date.now() >= state.deadline)) {
            const message = err instanceof RangeError ? "the command exhausted the engine's stack" : "the engine failed";
            stderr.write(`${message}; the sandbox was reset\n`);
            return finish(1);
        }
        result = finish(1);
    }
    if (state.timedOut || Date.now() >= state.deadline) {
        return result.killed === "timeout" ? result : kill("timeout");
    }
    if (state.faulted) {
        // A host exception inside a console call: the guest was stopped; its answer is not trusted.
        // With the engine's memory exhausted, that is the memory limit (attack-14v V2).
        if (engine.outOfMemory) return result.killed === "memory" ? result : kill("memory");
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
    finish: (exitCode: number) => EngineResult,
    kill: (why: "timeout" | "memory") => EngineResult,
): EngineResult {
    const timedOut = () => state.timedOut;
    const format = context.getProp(helpers, "format");
    const head = context.getProp(helpers, "head");
    const describe = context.getProp(helpers, "describe");

    // A guest string's length (its own, unforgeable "length"; the library's getLength answers only for objects).
    const lengthKey = context.newString("length");
    const lengthOf = (h: QuickJSHandle): number => {
        const n = context.getProp(h, lengthKey);
        try {
            const length = context.getNumber(n);
            return Number.isInteger(length) && length >= 0 ? length : Infinity;
        } finally {
            n.dispose();
        }
    };
    /** The first maxUnits units of a longer guest string (cut by the guest helper), or undefined when the cut or its read failed. */
    const headOf = (h: QuickJSHandle, maxUnits: number): string | undefined => {
        const n = context.newNumber(maxUnits);
        const cut = context.callFunction(head, context.undefined, h, n);
        n.dispose();
        // The cut is a guest call: it fails when the engine's memory is full or its stack nearly exhausted.
        if (cut.error) return (cut.error.dispose(), undefined);
        const value = cut.value;
        try {
            const length = context.typeof(value) === "string" ? lengthOf(value) : Infinity;
            return length <= maxUnits ? guestString(context, value, length) : undefined;
        } finally {
            value.dispose();
        }
    };
    /**
     * A guest value as a host string, for `stream`: only a guest string (per the engine's typeof) is
     * read, at most maxUnits of it; undefined for any other value. Whatever of the string is not
     * returned is output dropped from `stream` (truncated): the rest of a string longer than
     * maxUnits, or all of one the host could not read ([unprintable]). A read that failed while the
     * engine's memory is exhausted throws: the run ends at the memory limit (attack-14v V1, V6).
     */
    const readString = (h: QuickJSHandle, maxUnits: number, stream: CappedStream): string | undefined => {
        if (context.typeof(h) !== "string") return undefined;
        const refusals = state.memoryRefusals();
        const length = lengthOf(h);
        const whole = length <= maxUnits;
        const text = whole ? guestString(context, h, length) : headOf(h, maxUnits);
        if (whole && text !== undefined) return text;
        stream.drop();
        if (text !== undefined) return text;
        // The memory limit only if the engine was refused memory during this read (a refusal the command caught earlier is not this failure: attack-14w W2).
        if (state.memoryRefusals() > refusals) throw new Error("the engine's memory is exhausted: a string could not be read");
        return UNPRINTABLE;
    };
    /** Calls a helper on a guest value; its answer must be a guest string. Throws, like readString, when the engine ran out of memory during the call. */
    const helperString = (fn: QuickJSHandle, arg: QuickJSHandle, maxUnits: number, stream: CappedStream, fallback: string): string => {
        const refusals = state.memoryRefusals();
        const units = context.newNumber(maxUnits); // the helper builds no more text than the host can keep
        const r = context.callFunction(fn, context.undefined, arg, units);
        units.dispose();
        // The engine was refused memory while the helper formatted the value: whatever it answered
        // (QuickJS may have swallowed the failure, e.g. JSON.stringify's, and fallen back to "[object
        // Object]"), the value's text is lost and the run is at its memory limit (attack-14w W1).
        if (state.memoryRefusals() > refusals) {
            (r.error ?? r.value).dispose();
            stream.drop();
            throw new Error("the engine's memory is exhausted: a value could not be formatted");
        }
        if (r.error) {
            // The helper failed (the engine's stack or deadline ran out while it formatted the value; it
            // rethrows the engine's own errors): the value's text is lost (attack-14w W1).
            r.error.dispose();
            stream.drop();
            return fallback;
        }
        try {
            return readString(r.value, maxUnits, stream) ?? fallback;
        } finally {
            r.value.dispose();
        }
    };

    // console.*: one host function behind guest wrappers (see HELPERS). A call made while the host
    // is formatting (e.g. from a toJSON) is dropped (truncated); a call past the deadline stops the guest.
    let inConsole = false;
    const write = context.newFunction("write", (streamHandle: QuickJSHandle, list: QuickJSHandle) => {
        if (state.faulted) return;
        if (state.timedOut || Date.now() >= state.deadline) {
            // The interrupt handler is polled only every few thousand operations; a loop of costly
            // console calls would outrun it. Throwing ends the command now (or at its next console call).
            state.timedOut = true;
            throw new Error("deadline exceeded");
        }
        const stream = context.typeof(streamHandle) === "number" && context.getNumber(streamHandle) === 2 ? streams.stderr : streams.stdout;
        if (inConsole || stream.room === 0) {
            stream.drop(); // this call's output is dropped
            return;
        }
        inConsole = true;
        try {
            const parts: string[] = [];
            let room = stream.room;
            const count = context.typeof(list) === "object" ? (context.getLength(list) ?? 0) : 0;
            let i = 0;
            for (; i < count && room > 0; i++) {
                if (Date.now() >= state.deadline) {
                    state.timedOut = true;
                    break;
                }
                const arg = context.getProp(list, i);
                try {
                    const type = context.typeof(arg);
                    const part =
                        type === "number"
                            ? String(context.getNumber(arg))
                            : (readString(arg, room, stream) ?? helperString(format, arg, room, stream, UNPRINTABLE));
                    parts.push(part);
                    room -= part.length + 1;
                } finally {
                    arg.dispose();
                }
            }
            stream.write(`${parts.join(" ")}\n`);
            if (i < count) stream.drop(); // arguments past the cap (attack-14s S2)
        } catch {
            // Only host code throws here (e.g. the host's stack overflowing inside the engine, or a
            // string unreadable for lack of engine memory): the module's state is unknown. Stop the
            // guest; the run ends as an engine fault or at the memory limit. This call's line is lost.
            state.faulted = true;
            stream.drop();
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
        if (timedOut()) return kill("timeout");
        if (state.outOfMemory()) return kill("memory");
        // The guest's exception, described by the guest helper; it can say anything, decide nothing.
        streams.stderr.write(`${helperString(describe, error, streams.stderr.room, streams.stderr, "uncaught exception")}\n`);
        return finish(1);
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
            if (timedOut()) return kill("timeout");
            if (state.outOfMemory()) return kill("memory");
        } else if (jobs.value === 0) {
            streams.stderr.write("main returned a promise that can never settle (nothing left to run)\n");
            return finish(1);
        }
        if (timedOut()) return kill("timeout");
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
            const text = readString(value, streams.stdout.room, streams.stdout);
            if (text !== undefined) streams.stdout.write(`${text}\n`);
            return finish(0);
        }
        default:
            return finish(0);
    }
}
