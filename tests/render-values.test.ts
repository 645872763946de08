import * as assert from "node:assert/strict";
import { BROKEN_VALUE } from "../tools/harness";
import { render, STACKS } from "./harness";

/** Every place under `value` that reads `undefined`, `[object Object]` or `NaN`, as "path: text". */
function brokenValues(value: unknown, at: string): string[] {
    if (typeof value === "number") return Number.isNaN(value) ? [`${at}: NaN`] : [];
    if (typeof value === "string") {
        const m = BROKEN_VALUE.exec(value);
        return m ? [`${at}: …${value.slice(Math.max(0, m.index - 40), m.index + m[0].length + 20)}…`] : [];
    }
    if (Array.isArray(value)) return value.flatMap((v, i) => (v === undefined ? [`${at}[${i}]: undefined`] : brokenValues(v, `${at}[${i}]`)));
    if (value && typeof value === "object") return Object.entries(value).flatMap(([k, v]) => brokenValues(v, `${at}.${k}`));
    return [];
}

describe("renders hold no value built from a missing output", () => {
    for (const stack of STACKS) {
        it(`${stack}: no input of any resource and no stack output reads undefined, [object Object] or NaN (secrets included)`, async () => {
            const r = await render(stack);
            const found = [...r.resources.flatMap((res) => brokenValues(res.inputs, `${res.type} ${res.name}`)), ...brokenValues(r.outputs, "outputs")];
            assert.deepEqual(found, []);
        });
    }

    it("the check sees through strings, arrays and numbers", () => {
        assert.deepEqual(brokenValues({ a: ["x", "Host undefined"], b: { c: NaN, d: "[object Object]" }, e: [undefined], f: "undefinedness" }, "r"), [
            "r.a[1]: …Host undefined…",
            "r.b.c: NaN",
            "r.b.d: …[object Object]…",
            "r.e[0]: undefined",
        ]);
    });
});
