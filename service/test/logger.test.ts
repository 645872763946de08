import * as assert from "node:assert/strict";
import { Writable } from "node:stream";
import { createLogger, stripCredentials } from "../src/logger";

describe("logger", () => {
    it("never writes a secret: headers, tokens, passwords, keys and connection URLs are redacted", () => {
        const lines: string[] = [];
        const sink = new Writable({ write: (chunk, _enc, cb) => (lines.push(String(chunk)), cb()) });
        const log = createLogger("info", sink);
        log.info(
            {
                req: { headers: { authorization: "Bearer top-secret-token" } },
                apiKey: "sk-live-123",
                password: "hunter2",
                token: "abc",
                config: { llm: { apiKey: "sk-x" }, apiClients: [{ name: "ci", token: "t1" }], postgres: { url: "postgres://u:pw@h/db" } },
            },
            "test",
        );
        const out = lines.join("");
        for (const secret of ["top-secret-token", "sk-live-123", "hunter2", '"abc"', "sk-x", "t1", "u:pw"])
            assert.ok(!out.includes(secret), `${secret} was logged: ${out}`);
        assert.match(out, /\[redacted\]/);
        assert.equal(JSON.parse(out).msg, "test");
    });

    it("strips credentials from URLs", () => {
        assert.equal(stripCredentials("postgres://user:pass@db:5432/cli"), "postgres://db:5432/cli");
        assert.equal(stripCredentials("rediss://:tok@cache:6379"), "rediss://cache:6379");
    });
});
