import * as assert from "node:assert/strict";
import { runCli } from "../src/cli";
import { type Platform, TOKEN, usePlatform } from "./fixture";

describe("cli-platform CLI (against the real api)", function () {
    this.timeout(60_000);
    const platform = usePlatform();
    let p: Platform;
    beforeEach(() => {
        p = platform();
    });

    async function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
        let out = "";
        let err = "";
        const code = await runCli(args, {
            out: (s) => (out += s),
            err: (s) => (err += s),
            env: { CLI_PLATFORM_URL: p.apiUrl, CLI_PLATFORM_TOKEN: TOKEN, ...env },
            fetch,
        });
        return { code, out, err };
    }

    it("status exits 0 when the api is ready (the exec probe)", async () => {
        assert.deepEqual(await cli(["status"]), { code: 0, out: "ready\n", err: "" });
    });

    it("status exits 1 with one line when PostgreSQL is down", async () => {
        p.pg.stop();
        try {
            assert.deepEqual(await cli(["status"]), { code: 1, out: "", err: "cli-platform: not ready: postgres\n" });
        } finally {
            p.pg.startAgain();
            for (let i = 0; i < 50 && (await cli(["status"])).code !== 0; i++) await new Promise((r) => setTimeout(r, 200));
        }
    });

    it("status exits 0 and says so when only the Redis cache is down (requests still work)", async () => {
        await p.redisServer.stop();
        try {
            assert.deepEqual(await cli(["status"]), { code: 0, out: "ready (degraded: redis)\n", err: "" });
        } finally {
            await p.redisServer.startAgain();
            for (let i = 0; i < 50 && (await cli(["status"])).out !== "ready\n"; i++) await new Promise((r) => setTimeout(r, 200));
        }
    });

    it("status exits 1 when the api cannot be reached", async () => {
        const r = await cli(["status"], { CLI_PLATFORM_URL: "http://127.0.0.1:9" });
        assert.equal(r.code, 1);
        assert.match(r.err, /^cli-platform: cannot reach http:\/\/127.0.0.1:9: .*\n$/);
    });

    it("evolve, list, show and run", async () => {
        const evolved = await cli(["evolve", "--name", "adder", "add", "the", "numbers"]);
        assert.deepEqual(evolved, { code: 0, out: "adder v1\n", err: "" });
        const list = await cli(["list"]);
        assert.match(list.out, /^adder\tv1\tadd the numbers$/m);
        const show = await cli(["show", "adder"]);
        assert.match(show.out, /^# adder v1 \(.*\): add the numbers\nfunction main\(args\)/);
        assert.deepEqual(await cli(["run", "adder", "1", "2", "--", "-3"]), { code: 0, out: "0\n", err: "" });
    });

    it("run exits with the command's own exit code", async () => {
        await cli(["evolve", "--name", "failing", "fail", "on", "purpose"]);
        assert.deepEqual(await cli(["run", "failing"]), { code: 3, out: "", err: "nope\n" });
    });

    it("run --version, rollback and runs", async () => {
        await cli(["evolve", "--name", "twice", "greet", "someone"]);
        await cli(["evolve", "--name", "twice", "add", "numbers"]);
        assert.deepEqual(await cli(["run", "--version", "1", "twice", "bob"]), { code: 0, out: "hello bob\n", err: "" });
        assert.deepEqual(await cli(["run", "twice", "2", "2"]), { code: 0, out: "4\n", err: "" });
        assert.deepEqual(await cli(["rollback", "twice", "1"]), { code: 0, out: "twice v3 (copy of v1)\n", err: "" });
        assert.deepEqual(await cli(["rollback", "twice", "3"]), { code: 0, out: "twice v3 already is the latest\n", err: "" });
        assert.deepEqual(await cli(["run", "twice", "ann"]), { code: 0, out: "hello ann\n", err: "" });
        const show = await cli(["show", "twice"]);
        assert.match(show.out, /^# twice v3 \(.*, by alice, rollback to v1\): greet someone$/m);
        await p.recorder.flush();
        const runs = await cli(["runs", "--limit", "2", "twice"]);
        assert.equal(runs.code, 0);
        assert.match(runs.out, /^\S+\tv3\talice\texit 0\t\d+ ms\n\S+\tv2\talice\texit 0\t\d+ ms\n$/);
        assert.deepEqual(await cli(["runs", "nothing-ran"]), { code: 1, out: "", err: 'cli-platform: 404: no command named "nothing-ran"\n' });
        assert.deepEqual(await cli(["rollback", "twice", "9"]), { code: 1, out: "", err: 'cli-platform: 404: command "twice" has no version 9\n' });
        assert.deepEqual(await cli(["rollback", "twice", "v1"]), { code: 2, out: "", err: 'cli-platform: version must be a positive integer, got "v1"\n' });
        assert.deepEqual(await cli(["run", "--version", "0", "twice"]), {
            code: 2,
            out: "",
            err: 'cli-platform: --version must be a positive integer, got "0"\n',
        });
    });

    it("errors are one line on stderr with a non-zero exit code", async () => {
        assert.deepEqual(await cli(["show", "missing-command"]), { code: 1, out: "", err: 'cli-platform: 404: no command named "missing-command"\n' });
        assert.deepEqual(await cli(["list"], { CLI_PLATFORM_TOKEN: "wrong-token-0123456789" }), {
            code: 1,
            out: "",
            err: "cli-platform: 401: missing or invalid bearer token\n",
        });
        assert.deepEqual(await cli(["list"], { CLI_PLATFORM_TOKEN: undefined }), { code: 1, out: "", err: "cli-platform: CLI_PLATFORM_TOKEN is not set\n" });
        assert.deepEqual(await cli(["frobnicate"]), { code: 2, out: "", err: "cli-platform: unknown command 'frobnicate'\n" });
        assert.deepEqual(await cli(["show"]), { code: 2, out: "", err: "cli-platform: missing required argument 'name'\n" });
        assert.deepEqual(await cli(["--timeout", "soon", "list"]), {
            code: 2,
            out: "",
            err: 'cli-platform: --timeout must be a positive number of milliseconds, got "soon"\n',
        });
    });

    it("--help works everywhere", async () => {
        for (const args of [["--help"], ["status", "--help"], ["evolve", "--help"], ["run", "--help"]]) {
            const r = await cli(args);
            assert.equal(r.code, 0, args.join(" "));
            assert.match(r.out, /^Usage: cli-platform/);
        }
    });
});
