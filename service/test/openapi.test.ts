import * as assert from "node:assert/strict";
import Ajv2020 from "ajv/dist/2020";
import { CI_TOKEN, type Platform, usePlatform } from "./fixture";

interface Operation {
    responses: Record<string, { content?: { "application/json"?: { schema: object } } }>;
    security?: unknown[];
}
type Document = { openapi: string; paths: Record<string, Record<string, Operation>>; security: unknown[] };

describe("GET /openapi.json (generated from the route schemas)", function () {
    this.timeout(60_000);
    const platform = usePlatform();
    let p: Platform;
    let doc: Document;
    const ajv = new Ajv2020({ strict: true, allErrors: true });

    before(async () => {
        p = platform();
        const res = await fetch(`${p.apiUrl}/openapi.json`);
        assert.equal(res.status, 200, "served without a token");
        assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
        doc = (await res.json()) as Document;
    });

    it("documents every route of the api, and only those", () => {
        assert.equal(doc.openapi, "3.1.0");
        const operations = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
        assert.deepEqual(operations.sort(), [
            "GET /commands",
            "GET /commands/{name}",
            "GET /commands/{name}/runs",
            "GET /health",
            "GET /ready",
            "POST /commands/{name}/rollback",
            "POST /commands/{name}/run",
            "POST /evolve",
        ]);
        for (const op of operations) {
            const [method, path] = op.split(" ");
            assert.ok(p.api.app.hasRoute({ method: method as "GET", url: path.replace(/\{(\w+)\}/g, ":$1") }), `${op} is served`);
        }
        assert.deepEqual(doc.security, [{ bearer: [] }]);
        assert.deepEqual(doc.paths["/health"].get.security, [], "public");
    });

    /** Validates a live answer against the schema the document gives for that route and status. */
    async function conforms(method: string, path: string, template: string, body?: unknown, headers?: Record<string, string>): Promise<number> {
        const res = await p.call(method, path, body, headers);
        const schema = doc.paths[template][method.toLowerCase()].responses[String(res.status)]?.content?.["application/json"]?.schema;
        assert.ok(schema, `${method} ${template} documents status ${res.status}`);
        const validate = ajv.compile(schema);
        assert.ok(validate(res.body), `${method} ${path} ${res.status}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(res.body)}`);
        return res.status;
    }

    it("every route's answers validate against their documented schemas", async () => {
        const seen: [string, number][] = [];
        const check = async (method: string, path: string, template: string, body?: unknown, headers?: Record<string, string>) =>
            seen.push([`${method} ${template}`, await conforms(method, path, template, body, headers)]);
        await check("GET", "/health", "/health");
        await check("GET", "/ready", "/ready");
        await check("POST", "/evolve", "/evolve", { description: "greet someone", name: "doc" });
        await check("POST", "/evolve", "/evolve", { description: "greet someone", name: "doc" });
        await check("POST", "/evolve", "/evolve", { description: "add numbers", name: "doc" }, { authorization: `Bearer ${CI_TOKEN}` });
        await check("POST", "/evolve", "/evolve", { description: "evil reader", name: "doc" });
        await check("POST", "/evolve", "/evolve", { description: "" });
        await check("GET", "/commands", "/commands");
        await check("GET", "/commands/doc", "/commands/{name}");
        await check("GET", "/commands/doc", "/commands/{name}");
        await check("GET", "/commands/missing", "/commands/{name}");
        await check("GET", "/commands/doc", "/commands/{name}", undefined, { authorization: "Bearer wrong-token-0123456789" });
        await check("POST", "/commands/doc/run", "/commands/{name}/run", { args: ["1", "2"] });
        await check("POST", "/commands/doc/run", "/commands/{name}/run", { args: [], version: 7 });
        await p.recorder.flush();
        await check("GET", "/commands/doc/runs?limit=5", "/commands/{name}/runs");
        await check("GET", "/commands/doc/runs?limit=500", "/commands/{name}/runs");
        await check("POST", "/commands/doc/rollback", "/commands/{name}/rollback", { version: 1 });
        await check("POST", "/commands/doc/rollback", "/commands/{name}/rollback", { version: 3 });
        await check("POST", "/commands/doc/rollback", "/commands/{name}/rollback", { version: 99 });
        assert.deepEqual(seen, [
            ["GET /health", 200],
            ["GET /ready", 200],
            ["POST /evolve", 201],
            ["POST /evolve", 200],
            ["POST /evolve", 201],
            ["POST /evolve", 422],
            ["POST /evolve", 400],
            ["GET /commands", 200],
            ["GET /commands/{name}", 200],
            ["GET /commands/{name}", 200],
            ["GET /commands/{name}", 404],
            ["GET /commands/{name}", 401],
            ["POST /commands/{name}/run", 200],
            ["POST /commands/{name}/run", 404],
            ["GET /commands/{name}/runs", 200],
            ["GET /commands/{name}/runs", 400],
            ["POST /commands/{name}/rollback", 201],
            ["POST /commands/{name}/rollback", 200],
            ["POST /commands/{name}/rollback", 404],
        ]);
    });

    it("documents the degraded and not-ready answers too", async () => {
        await p.redisServer.stop();
        try {
            assert.equal(await conforms("GET", "/ready", "/ready"), 200, "Redis down: degraded");
        } finally {
            await p.redisServer.startAgain();
        }
        p.pg.stop();
        try {
            assert.equal(await conforms("GET", "/ready", "/ready"), 503, "PostgreSQL down: not ready");
        } finally {
            p.pg.startAgain();
        }
    });
});
