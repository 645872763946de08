import * as assert from "node:assert/strict";
import { TOKEN, usePlatform } from "./fixture";

describe("api when the runner is busy", function () {
    this.timeout(60_000);
    const platform = usePlatform({ runner: { concurrency: 1, queueSize: 0, queueWaitMs: 0 }, maxExecutionTimeMs: 1500 });
    const run = (name: string) =>
        fetch(`${platform().apiUrl}/commands/${name}/run`, {
            method: "POST",
            headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
            body: JSON.stringify({ args: [] }),
        });

    it("passes the runner's 429 on as 429 with Retry-After (not a 502), and runs again once a sandbox is free", async () => {
        for (const description of ["spin forever", "greet someone"]) {
            const name = description.split(" ")[0];
            assert.equal((await platform().call("POST", "/evolve", { description, name })).status, 201);
        }
        assert.equal((await run("greet")).status, 200); // the runner's worker is up
        const spinning = run("spin");
        await new Promise((resolve) => setTimeout(resolve, 200));
        const busy = await run("greet");
        assert.equal(busy.status, 429);
        assert.equal(busy.headers.get("retry-after"), "1");
        const body = (await busy.json()) as { error: { code: string; message: string } };
        assert.equal(body.error.code, "runner_busy");
        assert.match(body.error.message, /^the runner is busy: /);
        assert.equal(((await (await spinning).json()) as { killed?: string }).killed, "timeout");
        const again = await run("greet");
        assert.equal(again.status, 200);
        assert.equal(((await again.json()) as { stdout: string }).stdout, "hello world\n");
    });
});
