/**
 * What the host puts into every guest and how it reads guest values back: the intrinsics removed
 * before a command runs, the guest helpers (console wrappers, formatting, exception text), guest
 * strings read by their length, and the capped output streams. Used by run.ts (each run) and
 * engine.ts (helpers evaluated when an engine is prepared).
 */
import type { QuickJSContext, QuickJSHandle } from "quickjs-emscripten-core";

/** One output stream, capped in UTF-8 bytes; never splits a character. */
export class CappedStream {
    private readonly chunks: string[] = [];
    private bytes = 0;
    /** The cap was reached: nothing more is written. */
    private full = false;
    /** Output was dropped without the stream being full (drop()). */
    private dropped = false;
    constructor(private readonly capBytes: number) {}

    /** Some output of the run is not in the stream. */
    get truncated(): boolean {
        return this.full || this.dropped;
    }

    /** Output was dropped (a console argument past the cap, a console call made during formatting, a string not read whole). */
    drop(): void {
        this.dropped = true;
    }

    /** Bytes still accepted (0 once full). */
    get room(): number {
        return this.full ? 0 : this.capBytes - this.bytes;
    }

    write(text: string): void {
        if (this.full) return;
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
        this.full = true;
    }

    toString(): string {
        return this.chunks.join("");
    }
}

/** What the host prints for a guest value it cannot turn into text. */
export const UNPRINTABLE = "[unprintable]";

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
export const HELPERS = `(() => {
  ${REMOVE_INTRINSICS}
  const apply = Reflect.apply, slice = String.prototype.slice, indexOf = String.prototype.indexOf, join = Array.prototype.join, min = Math.min, stringify = JSON.stringify, toString = String;
  // The engine's own errors (out of memory, stack overflow, interrupted) are InternalErrors: rethrown, so
  // the host learns the value's text was lost (attack-14w W1). A command's own InternalError only makes
  // the host report its output as truncated.
  const internal = InternalError.prototype, protoOf = Object.getPrototypeOf;
  const engineError = (e) => e !== null && typeof e === "object" && protoOf(e) === internal;
  const text = (v) => { try { return toString(v); } catch (e) { if (engineError(e)) throw e; return ${JSON.stringify(UNPRINTABLE)}; } };
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
      if (v !== null && typeof v === "object") { try { const s = stringify(v); if (typeof s === "string") return s; } catch (e) { if (engineError(e)) throw e; } }
      return text(v);
    },
    // The first n characters of a guest string, so a huge string is never copied out whole.
    head(s, n) { return apply(slice, s, [0, n]); },
    // An uncaught exception: "Name: message" and the first 10 non-empty lines of the guest stack, or
    // String(value). n: the characters the host can keep; no piece is copied longer than that, and the
    // stack is walked, never split whole (attack-14x X2, attack-14y Y1-Y3). Longer than n: the host
    // cuts it and reports truncated.
    describe(e, n) {
      try {
        if (e !== null && typeof e === "object") {
          const name = e.name, message = e.message, stack = e.stack;
          if (typeof message === "string" || (typeof name === "string" && (message === undefined || (message !== null && typeof message !== "object" && typeof message !== "function")))) {
            const msg = typeof message === "string" ? message : message === undefined ? "" : text(message);
            const head = (typeof name === "string" && name !== "" ? apply(slice, name, [0, n]) + ": " : "") + apply(slice, msg, [0, n]);
            if (typeof stack !== "string" || stack === "") return head;
            const lines = [head];
            let size = head.length, more = 0, at = 0;
            while (at < stack.length) {
              let end = apply(indexOf, stack, ["\\n", at]);
              if (end < 0) end = stack.length;
              if (end > at) {
                if (lines.length <= 10 && size <= n) {
                  const line = apply(slice, stack, [at, min(end, at + n)]);
                  lines[lines.length] = line;
                  size += line.length + 1;
                } else if (stack.length - at > n) {
                  more = -1; // a long rest is not walked just to count it
                  break;
                } else more++;
              }
              at = end + 1;
            }
            if (more !== 0) lines[lines.length] = more > 0 ? "    ... " + more + " more" : "    ... more";
            return apply(join, lines, ["\\n"]);
          }
        }
      } catch (x) {
        if (engineError(x)) throw x;
      }
      return text(e);
    },
  };
})()`;

/** The parts of a quickjs-emscripten-core 0.32.0 context that getString uses (it reads up to the first zero byte). */
interface ContextInternals {
    ctx: { value: number };
    module: { HEAPU8: Uint8Array };
    ffi: { QTS_GetString(ctx: number, value: number): number; QTS_FreeCString(ctx: number, ptr: number): void };
}

/** Keeps a leading U+FEFF (the default decoder drops it: attack-14v V6). */
const utf8 = new TextDecoder("utf-8", { ignoreBOM: true });

/**
 * A guest string of `units` UTF-16 units (its length) as a host string, read by its length: a NUL
 * in it is the character U+0000, not its end (the library's getString stops at the first zero
 * byte: attack-14s S3), and the read never goes past 3 bytes per unit even if a guest with write
 * access to its memory removed the terminating zero. QuickJS (JS_ToCStringLen2) writes each unit as
 * one UTF-8 sequence (a lone surrogate as 3 bytes), a surrogate pair as one 4-byte sequence; the
 * bytes are decoded as the library does (TextDecoder: a malformed sequence becomes U+FFFD), except
 * that a leading U+FEFF is kept. Undefined when the engine could not make the copy it is read from
 * (a non-ASCII string needs one; its memory is full).
 */
export function guestString(context: QuickJSContext, handle: QuickJSHandle, units: number): string | undefined {
    const { ctx, module, ffi } = context as unknown as ContextInternals;
    const ptr = ffi.QTS_GetString(ctx.value, (handle as unknown as { value: number }).value);
    if (!ptr) return undefined;
    try {
        const bytes = module.HEAPU8; // after the call: it may have grown the memory
        const limit = Math.min(bytes.length, ptr + 3 * units);
        let end = ptr;
        // Count units by the sequences' lead bytes (a 4-byte sequence is two units), then take the last one's continuation bytes.
        for (let n = 0; n < units && end < limit; end++) n += bytes[end] >= 0xf0 ? 2 : (bytes[end] & 0xc0) === 0x80 ? 0 : 1;
        while (end < limit && (bytes[end] & 0xc0) === 0x80) end++;
        return utf8.decode(bytes.subarray(ptr, end));
    } finally {
        ffi.QTS_FreeCString(ctx.value, ptr);
    }
}
