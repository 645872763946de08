import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { formatApiTokens } from "../src/clients";
import { ConfigError, loadConfig } from "../src/config";

function file(text: string): string {
    const p = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "svc-cfg-")), "config.yaml");
    fs.writeFileSync(p, text);
    return p;
}

const GUIDE = `version: "1.0.0"
llm:
  provider: "openai"
  model: "gpt-4"
  temperature: 0.7
  timeout: 30
validation:
  enabled: true
  strict_mode: true
security:
  sandbox_enabled: true
  max_execution_time: 60
redis:
  host: "redis-service"
  port: 6379
postgres:
  host: "postgres-service"
  port: 5432
  database: "cli_platform"
`;

const base = { POSTGRES_URL: "postgres://u:p@db:5432/cli_platform" };

describe("service config", () => {
    it("reads the deployment guide's config.yaml", () => {
        const c = loadConfig({ ...base, CONFIG_PATH: file(GUIDE) });
        assert.equal(c.llm.model, "gpt-4");
        assert.equal(c.llm.temperature, 0.7);
        assert.equal(c.llm.timeoutMs, 30_000);
        assert.deepEqual(c.validation, { enabled: true, strictMode: true });
        assert.deepEqual(c.security, { sandboxEnabled: true, maxExecutionTimeMs: 60_000 });
        assert.equal(c.redis.url, "redis://redis-service:6379");
        assert.equal(c.port, 8000);
        assert.equal(c.metricsPort, 8080);
        assert.equal(c.runnerPort, 8001);
    });

    it("environment variables override the file", () => {
        const c = loadConfig({
            ...base,
            CONFIG_PATH: file(GUIDE),
            REDIS_URL: "redis://:secret@cache:6380",
            OPENAI_API_KEY: "sk-abc",
            OPENAI_BASE_URL: "http://llm.local/v1/",
            API_TOKENS: "aaaaaaaaaaaaaaaa, bbbbbbbbbbbbbbbb",
            PORT: "9000",
        });
        assert.equal(c.redis.url, "redis://:secret@cache:6380");
        assert.equal(c.llm.apiKey, "sk-abc");
        assert.equal(c.llm.baseUrl, "http://llm.local/v1");
        assert.deepEqual(c.apiClients, [
            { name: "client-1", token: "aaaaaaaaaaaaaaaa" },
            { name: "client-2", token: "bbbbbbbbbbbbbbbb" },
        ]);
        assert.equal(c.port, 9000);
    });

    it("API_TOKENS names clients: name=token pairs, bare tokens as client-<n>", () => {
        const c = loadConfig({ ...base, CONFIG_PATH: file(GUIDE), API_TOKENS: "alice=aaaaaaaaaaaaaaaa, cccccccccccccccc ,ci.bot=bbbbbbbbbbbbbbbb" });
        assert.deepEqual(c.apiClients, [
            { name: "alice", token: "aaaaaaaaaaaaaaaa" },
            { name: "client-1", token: "cccccccccccccccc" },
            { name: "ci.bot", token: "bbbbbbbbbbbbbbbb" },
        ]);
        assert.deepEqual(loadConfig({ ...base, CONFIG_PATH: file(GUIDE) }).apiClients, []);
    });

    it("reads the API_TOKENS the infrastructure writes (formatApiTokens)", () => {
        const clients = [
            { name: "admin", token: "A".repeat(48) },
            { name: "team-a", token: "b".repeat(48) },
        ];
        assert.equal(formatApiTokens(clients), `admin=${"A".repeat(48)},team-a=${"b".repeat(48)}`);
        assert.deepEqual(loadConfig({ ...base, CONFIG_PATH: file(GUIDE), API_TOKENS: formatApiTokens(clients) }).apiClients, clients);
    });

    it("builds the PostgreSQL URL from the file and POSTGRES_USER/PASSWORD", () => {
        const c = loadConfig({ CONFIG_PATH: file(GUIDE), POSTGRES_USER: "cli_user", POSTGRES_PASSWORD: "p@ss word" });
        assert.equal(c.postgres.url, "postgres://cli_user:p%40ss%20word@postgres-service:5432/cli_platform");
    });

    it("the runner needs no database", () => {
        assert.equal(loadConfig({ CONFIG_PATH: file(GUIDE) }, "runner").postgres.url, "");
    });

    const errors: [string, NodeJS.ProcessEnv, RegExp][] = [
        [
            "a missing file named by CONFIG_PATH",
            { ...base, CONFIG_PATH: "/nonexistent/config.yaml" },
            /^config file \/nonexistent\/config.yaml: not found \(CONFIG_PATH\)$/,
        ],
        ["a file that is not YAML", { ...base, CONFIG_PATH: file("llm: [unclosed") }, /^config file .*: not valid YAML/],
        [
            "a wrong type in the file",
            { ...base, CONFIG_PATH: file("llm:\n  temperature: hot\n") },
            /^config file .*: llm.temperature: Invalid input: expected number, received string$/,
        ],
        ["an out-of-range value", { ...base, CONFIG_PATH: file("security:\n  max_execution_time: 9999\n") }, /security.max_execution_time: Too big/],
        ["an unknown key in the file", { ...base, CONFIG_PATH: file("llm:\n  modle: gpt-4\n") }, /llm: unknown key\(s\) modle$/],
        ["an unknown provider", { ...base, CONFIG_PATH: file("llm:\n  provider: anthropic\n") }, /llm.provider: Invalid input: expected "openai"$/],
        ["a bad REDIS_URL", { ...base, CONFIG_PATH: file(GUIDE), REDIS_URL: "http://cache" }, /^environment variable REDIS_URL: /],
        ["a bad PORT", { ...base, CONFIG_PATH: file(GUIDE), PORT: "eighty" }, /^environment variable PORT: /],
        ["no database settings", { CONFIG_PATH: file(GUIDE) }, /^environment variable POSTGRES_URL: required/],
        [
            "a short API token",
            { ...base, CONFIG_PATH: file(GUIDE), API_TOKENS: "short" },
            /^environment variable API_TOKENS: entry 1: the token must be at least 16 characters$/,
        ],
        [
            "a client name that is not allowed",
            { ...base, CONFIG_PATH: file(GUIDE), API_TOKENS: "alice=aaaaaaaaaaaaaaaa,Alice Smith=bbbbbbbbbbbbbbbb" },
            /^environment variable API_TOKENS: entry 2: what stands before "=" is not a client name \(lowercase letters, digits/,
        ],
        [
            "a bare token with '=' (never echoed)",
            { ...base, CONFIG_PATH: file(GUIDE), API_TOKENS: "c2VjcmV0LXNlY3JldC1zZWNyZXQ=" },
            /^environment variable API_TOKENS: entry 1: what stands before "=" is not a client name \(.*\); a bare token cannot contain "="$/,
        ],
        [
            "a named client with a short token",
            { ...base, CONFIG_PATH: file(GUIDE), API_TOKENS: "alice=aaaaaaaaaaaaaaaa,ci=short" },
            /^environment variable API_TOKENS: entry 2: the token must be at least 16 characters$/,
        ],
        [
            "a lowercase bare token ending in '=' (never echoed)",
            { ...base, CONFIG_PATH: file(GUIDE), API_TOKENS: "abcdefghijklmnopqrstuvwx=" },
            /^environment variable API_TOKENS: entry 1: the token must be at least 16 characters$/,
        ],
        [
            "a client listed twice",
            { ...base, CONFIG_PATH: file(GUIDE), API_TOKENS: "ci=aaaaaaaaaaaaaaaa,ci=bbbbbbbbbbbbbbbb" },
            /^environment variable API_TOKENS: client "ci" is listed twice$/,
        ],
        [
            "two clients sharing a token",
            { ...base, CONFIG_PATH: file(GUIDE), API_TOKENS: "alice=aaaaaaaaaaaaaaaa,bob=aaaaaaaaaaaaaaaa" },
            /^environment variable API_TOKENS: client "bob" has the same token as client "alice"$/,
        ],
    ];
    for (const [title, env, message] of errors) {
        it(`fails on ${title}, naming the key`, () => {
            assert.throws(
                () => loadConfig(env),
                (err: unknown) => err instanceof ConfigError && message.test(err.message),
            );
        });
    }
});
