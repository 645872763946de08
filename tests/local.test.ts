import * as assert from "node:assert/strict";
import { one, render } from "./harness";

describe("local stack (an existing cluster)", () => {
    it("declares no AWS resource at all", async () => {
        const r = await render("local");
        const aws = r.resources.filter((x) => x.type.startsWith("aws:") || x.type === "pulumi:providers:aws");
        assert.deepEqual(aws, []);
    });

    it("targets the configured kubeconfig context explicitly", async () => {
        const provider = one(await render("local"), "pulumi:providers:kubernetes");
        assert.equal(provider.inputs.context, "kind-cli-platform");
    });
});
