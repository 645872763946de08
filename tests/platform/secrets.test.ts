import * as assert from "node:assert/strict";
import { byType, named, type Obj, one, patchSection, render, renderWith, SECRET, type StackRender } from "../harness";

describe("ServiceSecrets: one API token per client (service.apiClients)", () => {
    const RANDOM = "random:index/randomPassword:RandomPassword";
    const tokenNames = (r: StackRender) =>
        byType(r, RANDOM)
            .map((x) => x.name)
            .filter((n) => n.startsWith("cli-platform-secrets-api-token"))
            .sort();

    it("generates one 48-character token for the default client, admin", async () => {
        const r = await render("local");
        assert.deepEqual(tokenNames(r), ["cli-platform-secrets-api-token-admin"]);
        assert.deepEqual(
            [one(r, RANDOM, "cli-platform-secrets-api-token-admin").inputs.length, one(r, RANDOM, "cli-platform-secrets-api-token-admin").inputs.special],
            [48, false],
        );
        assert.deepEqual(r.outputs.apiTokens, { admin: SECRET }, "exported, each secret");
        assert.equal(r.outputs.apiToken, SECRET);
    });

    it("generates a token per configured name, all in the Secret's API_TOKENS, exported as secrets", async () => {
        const r = await renderWith("local", patchSection("local", "cli-platform:service", { apiClients: ["admin", "ci", "team-a"] }));
        assert.deepEqual(tokenNames(r), ["cli-platform-secrets-api-token-admin", "cli-platform-secrets-api-token-ci", "cli-platform-secrets-api-token-team-a"]);
        const secret = named(r, "kubernetes:core/v1:Secret", "cli-platform-secrets");
        assert.equal((secret.inputs.stringData as Obj).API_TOKENS, SECRET, "never in plain text");
        assert.deepEqual(r.outputs.apiTokens, { admin: SECRET, ci: SECRET, "team-a": SECRET });
    });
});
