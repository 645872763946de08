import * as assert from "node:assert/strict";
import { createRequire } from "node:module";
import type * as structPb from "google-protobuf/google/protobuf/struct_pb";
import { plain, PlainStruct, withPlainStructs } from "../tools/plain-structs";

// The google-protobuf the SDK loads: what withPlainStructs stands in for.
const { Struct } = createRequire(require.resolve("@pulumi/pulumi"))("google-protobuf/google/protobuf/struct_pb") as typeof structPb;
const roundTrip = (value: unknown) => Struct.fromJavaScript({ v: value } as never).toJavaScript().v;
const outcome = (fn: () => unknown) => {
    try {
        return { value: fn() };
    } catch (err) {
        return { error: (err as Error).message };
    }
};

class WithInherited {
    own = 1;
}
(WithInherited.prototype as unknown as Record<string, unknown>).inherited = "yes";

describe("plain structs (the harness's stand-in for google-protobuf's Struct)", () => {
    const values: [string, unknown][] = [
        ["strings, numbers, booleans, null", { s: "", n: 0, neg: -0, nan: NaN, inf: -Infinity, t: true, f: false, z: null }],
        ["keys sorted as the jspb Map iterates them", { b: 1, B: 2, _: 3, "a b": 4, ä: 5, "~": 6, "-1": 7, "01": 8, "10": 9, "2": 10 }],
        ["nested objects and arrays", { z: { y: [1, "x", [true, null], { d: 0, c: { b: [] } }] }, a: {} }],
        ["inherited enumerable properties", new WithInherited()],
        ["a Date and a Map (their enumerable properties)", { d: new Date(0), m: new Map([["k", 1]]) }],
        ["a String object", new String("ab")],
        ["a top-level array", [3, 2, 1]],
    ];
    for (const [what, value] of values) {
        it(`reads back as the protobuf round trip does: ${what}`, () => {
            const expected = roundTrip(value);
            const actual = plain(value);
            assert.deepEqual(actual, expected);
            assert.equal(JSON.stringify(actual), JSON.stringify(expected), "key order");
        });
    }

    it("orders keys the way the round trip does (written out)", () => {
        assert.deepEqual(Object.keys(plain({ b: 1, a: { d: 1, c: 2 }, "10": 0, "2": 0, B: 0 }) as object), ["2", "10", "B", "a", "b"]);
        assert.equal(Object.is((plain({ x: -0 }) as { x: number }).x, -0), true);
    });

    for (const [what, value] of [
        ["undefined", undefined],
        ["a function", () => 1],
        ["a symbol", Symbol("s")],
        ["a bigint", 1n],
        ["a hole in an array", [1, , 2]],
        ["a Buffer (its methods are enumerable)", Buffer.from("ab")],
    ] as [string, unknown][]) {
        it(`fails where the round trip fails: ${what}`, () => {
            const expected = outcome(() => roundTrip(value));
            assert.deepEqual(expected, { error: "Unexpected struct type." });
            assert.deepEqual(
                outcome(() => plain(value)),
                expected,
            );
        });
    }

    it("withPlainStructs answers Struct.fromJavaScript with a copy taken at the call, fresh on every read, and restores it", async () => {
        const source = { b: { list: [1, 2] }, a: "x" };
        const struct = await withPlainStructs(async () => Struct.fromJavaScript(source as never));
        assert.ok(struct instanceof PlainStruct && struct instanceof Struct);
        source.b.list.push(3);
        const first = struct.toJavaScript() as { b: { list: number[] } };
        assert.deepEqual(first, { a: "x", b: { list: [1, 2] } });
        first.b.list.push(4);
        assert.deepEqual(struct.toJavaScript(), { a: "x", b: { list: [1, 2] } });
        assert.throws(() => struct.getFieldsMap(), /holds a plain value/);
        assert.ok(!(Struct.fromJavaScript({ a: 1 }) instanceof PlainStruct), "restored after the run");
        await assert.rejects(
            withPlainStructs(async () => {
                throw new Error("boom");
            }),
            /boom/,
        );
        assert.ok(!(Struct.fromJavaScript({ a: 1 }) instanceof PlainStruct), "restored after a failure");
    });
});
