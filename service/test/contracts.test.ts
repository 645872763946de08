import * as assert from "node:assert/strict";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { runCli } from "../src/cli";
import { fastCheckOf } from "../src/fastCheck";
import { RunnerClient, RunnerUnavailableError } from "../src/runnerClient";
import { commandParamsSchema } from "../src/schemas";

/** A server that answers every request with `status` and `body` (what a broken or foreign peer might send). */
async function answering(status: number, body: unknown): Promise<{ url: string; close: () => Promise<void> }> {
    const server = http.createServer((_req, res) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(body));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
    return {
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
}

async function cli(url: string, args: string[]) {
    let out = "";
    let err = "";
    const code = await runCli(args, {
        out: (s) => (out += s),
        err: (s) => (err += s),
        env: { CLI_PLATFORM_URL: url, CLI_PLATFORM_TOKEN: "test-token-0123456789abcdef" },
        fetch,
    });
    return { code, out, err };
}

describe("what the CLI and the runner client receive is validated", () => {
    it("the CLI exits 1 with one line naming the field when the api answers an unexpected body", async () => {
        const peer = await answering(200, { commands: [{ name: "x", latestVersion: "one", description: "d", updatedAt: "2026-01-01T00:00:00.000Z" }] });
        try {
            assert.deepEqual(await cli(peer.url, ["list"]), {
                code: 1,
                out: "",
                err: "cli-platform: unexpected answer from GET /commands (200): commands.0.latestVersion: Invalid input: expected number, received string\n",
            });
        } finally {
            await peer.close();
        }
    });

    it("the CLI reports an error answer that is not the api's error shape as a plain failure", async () => {
        const peer = await answering(502, "<html>bad gateway</html>");
        try {
            assert.deepEqual(await cli(peer.url, ["show", "greet"]), { code: 1, out: "", err: "cli-platform: 502: request failed\n" });
        } finally {
            await peer.close();
        }
    });

    it("run never trusts an exit code that is not an integer", async () => {
        const peer = await answering(200, { name: "x", version: 1, exitCode: "0; rm -rf", stdout: "", stderr: "", durationMs: 1, truncated: false });
        try {
            const r = await cli(peer.url, ["run", "x"]);
            assert.equal(r.code, 1);
            assert.match(r.err, /^cli-platform: unexpected answer from POST \/commands\/x\/run \(200\): exitCode: /);
        } finally {
            await peer.close();
        }
    });

    it("the runner client rejects a runner answer without the result's fields (a 502 runner_unavailable upstream)", async () => {
        const peer = await answering(200, { exitCode: 0, stdout: "ok\n", stderr: "", durationMs: 2 });
        try {
            const client = new RunnerClient({ url: peer.url });
            await assert.rejects(
                client.run("function main() { return 0 }", [], 1000),
                (err: Error) =>
                    err instanceof RunnerUnavailableError &&
                    err.message === "the runner answered an unexpected body: truncated: Invalid input: expected boolean, received undefined",
            );
        } finally {
            await peer.close();
        }
    });
});

describe("the path parameter's fast check", () => {
    it("accepts only what zod accepts unchanged (zod alone words every rejection)", () => {
        const fast = fastCheckOf(commandParamsSchema)!;
        const cases: [unknown, boolean][] = [
            [{ name: "greet" }, true],
            [{ name: "add-2-numbers" }, true],
            [{ name: "a".repeat(63) }, true],
            [{ name: "a".repeat(64) }, false],
            [{ name: "Greet" }, false],
            [{ name: "-greet" }, false],
            [{ name: "greet-" }, false],
            [{ name: "gr--eet" }, false],
            [{ name: "" }, false],
            [{ name: 7 }, false],
            [{ name: "greet", extra: "x" }, false],
            [{}, false],
        ];
        assert.deepEqual(
            cases.map(([value]) => [value, fast(value)]),
            cases,
        );
        for (const [value, accepted] of cases) {
            const zod = commandParamsSchema.safeParse(value);
            if (accepted) assert.deepEqual(zod, { success: true, data: value });
            else if (zod.success) assert.notDeepEqual(zod.data, value, `${JSON.stringify(value)}: zod accepts it only by changing it`);
        }
    });
});
