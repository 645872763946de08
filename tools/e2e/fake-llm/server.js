// A fake OpenAI-compatible chat-completions endpoint for the end-to-end check (no network, no key
// check beyond "one was sent"). It answers every well-formed request with the same command, which
// the platform's strict validation accepts and which prints "e2e-ok" and its arguments.
// Runs on the service image's Node, so the kind cluster needs no image from a registry.
"use strict";
/* eslint-disable @typescript-eslint/no-require-imports -- a plain CommonJS script, run by the image's node as is */
const http = require("node:http");

const CODE = ["function main(args) {", '  console.log(["e2e-ok"].concat(args).join(" "));', "  return 0;", "}"].join("\n");

/** The reason a chat-completions request body is unusable, or undefined when it is fine. */
function problem(body, authorization) {
    if (!authorization || !/^Bearer \S+$/.test(authorization)) return "missing bearer token";
    if (typeof body !== "object" || body === null) return "body must be a JSON object";
    if (typeof body.model !== "string" || body.model === "") return "model must be a non-empty string";
    if (!Array.isArray(body.messages) || !body.messages.some((m) => m && m.role === "user" && typeof m.content === "string"))
        return "messages must include a user message";
    return undefined;
}

function send(res, status, value) {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(value));
}

function createServer() {
    let calls = 0;
    return http.createServer((req, res) => {
        if (req.method === "GET" && req.url === "/healthz") return send(res, 200, { status: "ok", calls });
        if (req.method !== "POST" || req.url !== "/v1/chat/completions") return send(res, 404, { error: { message: `no route ${req.method} ${req.url}` } });
        let raw = "";
        req.setEncoding("utf8");
        req.on("data", (c) => (raw += c));
        req.on("end", () => {
            let body;
            try {
                body = JSON.parse(raw);
            } catch {
                return send(res, 400, { error: { message: "body is not JSON" } });
            }
            const bad = problem(body, req.headers.authorization);
            if (bad) return send(res, 400, { error: { message: bad } });
            calls += 1;
            send(res, 200, {
                id: `chatcmpl-e2e-${calls}`,
                object: "chat.completion",
                created: Math.floor(Date.now() / 1000),
                model: body.model,
                choices: [{ index: 0, message: { role: "assistant", content: CODE }, finish_reason: "stop" }],
            });
        });
    });
}

module.exports = { createServer, CODE };

if (require.main === module) {
    const port = Number(process.env.PORT || 8080);
    const server = createServer().listen(port, "0.0.0.0", () => console.log(`fake LLM listening on :${port}`));
    process.on("SIGTERM", () => server.close(() => process.exit(0)));
}
