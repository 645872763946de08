/**
 * Evaluation without google-protobuf's encoding of property maps (`withPlainStructs`).
 *
 * Under the mock runtime every resource's inputs and outputs cross the "wire" between the SDK and the
 * mock monitor as `google.protobuf.Struct`s: the SDK builds one from a plain object
 * (`Struct.fromJavaScript`: one `Value` message per leaf, a jspb Map per object), the monitor turns it
 * back into an object (`toJavaScript`), and the same again for the outputs. Nothing ever serialises
 * them to bytes. That round trip was about a fifth of an evaluation's CPU, plus much of its garbage.
 *
 * `withPlainStructs` replaces `Struct.fromJavaScript` of the SDK's own google-protobuf by one that
 * keeps a plain copy instead: a `PlainStruct` (a real, empty `Struct` whose `toJavaScript` returns a
 * fresh copy of that value). The copy is exactly what the round trip makes of a value (checked
 * against google-protobuf in tests/plain-structs.test.ts): object keys in sorted order (the jspb Map
 * iterates its keys sorted), inherited enumerable properties included (`for...in`), strings, numbers
 * (NaN and -0 kept), booleans and null as they are, arrays element by element, any other object
 * (a Date, a Map) by its enumerable properties, and `Unexpected struct type.` thrown for anything
 * else (undefined, a function, a symbol, a bigint, a hole in an array), at the same moment as the
 * original throws. Reading a `PlainStruct`'s fields as protobuf (`getFieldsMap`, `serializeBinary`)
 * throws, so code that expects the encoding fails loudly instead of reading an empty map.
 */
import { createRequire } from "node:module";
import type * as structPb from "google-protobuf/google/protobuf/struct_pb";

/** What a Struct holds: google-protobuf's `JavaScriptValue`. */
export type PlainValue = null | number | string | boolean | PlainValue[] | { [key: string]: PlainValue };

// The google-protobuf the SDK itself loads (its dependency, not ours): the one whose Struct it calls.
const sdkRequire = createRequire(require.resolve("@pulumi/pulumi"));
const { Struct } = sdkRequire("google-protobuf/google/protobuf/struct_pb") as typeof structPb;

/** A value as `Struct.fromJavaScript(...).toJavaScript()` returns it (see the module's doc). */
export function plain(value: unknown): PlainValue {
    switch (typeof value) {
        case "string":
        case "number":
        case "boolean":
            return value;
        case "object": {
            if (value === null) return null;
            if (Array.isArray(value)) {
                const out: PlainValue[] = new Array(value.length);
                for (let i = 0; i < value.length; i++) out[i] = plain(value[i]);
                return out;
            }
            return plainObject(value as Record<string, unknown>);
        }
        default:
            throw new Error("Unexpected struct type.");
    }
}

function plainObject(obj: Record<string, unknown>): { [key: string]: PlainValue } {
    const keys: string[] = [];
    for (const key in obj) keys.push(key);
    keys.sort();
    const out: { [key: string]: PlainValue } = {};
    for (const key of keys) out[key] = plain(obj[key]);
    return out;
}

/** A copy of a value `plain` returned (already in order and checked). */
function copy(value: PlainValue): PlainValue {
    if (value === null || typeof value !== "object") return value;
    if (Array.isArray(value)) {
        const out: PlainValue[] = new Array(value.length);
        for (let i = 0; i < value.length; i++) out[i] = copy(value[i]);
        return out;
    }
    const out: { [key: string]: PlainValue } = {};
    for (const key in value) out[key] = copy(value[key]);
    return out;
}

const NOT_ENCODED = "harness: this Struct holds a plain value (withPlainStructs in tools/plain-structs.ts); it has no protobuf fields";

/** A Struct that holds its value as a plain object: `toJavaScript` is all the mock runtime calls. */
export class PlainStruct extends Struct {
    constructor(private readonly value: { [key: string]: PlainValue }) {
        super();
    }

    override toJavaScript(): { [key: string]: PlainValue } {
        return copy(this.value) as { [key: string]: PlainValue };
    }

    override getFieldsMap(): never {
        throw new Error(NOT_ENCODED);
    }

    override serializeBinary(): never {
        throw new Error(NOT_ENCODED);
    }
}

/**
 * Runs `fn` with the SDK's `Struct.fromJavaScript` answering `PlainStruct`s (see the module's doc).
 * Process-wide while `fn` runs, as the SDK's runtime itself is.
 */
export async function withPlainStructs<T>(fn: () => Promise<T>): Promise<T> {
    const { fromJavaScript } = Struct;
    if (typeof fromJavaScript !== "function") throw new Error("harness: google-protobuf's Struct has no fromJavaScript; update tools/plain-structs.ts");
    Struct.fromJavaScript = (obj) => new PlainStruct(plainObject(obj as Record<string, unknown>));
    try {
        return await fn();
    } finally {
        Struct.fromJavaScript = fromJavaScript;
    }
}
