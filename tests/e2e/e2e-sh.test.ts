/**
 * tools/e2e/e2e.sh with stand-ins for kubectl and pulumi; its port-forwards are real TCP proxies to the stand-in platform.
 */
import * as assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { CLI, E2E, GATEWAY_HOST, TOKEN, useStandIns, type Platform } from "./stand-in";

/** `text` as one bash word. */
const shellQuote = (text: string) => `'${text.replaceAll("'", `'\\''`)}'`;

describe("tools/e2e/e2e.sh (stand-ins for kubectl and pulumi; port-forwards are real TCP proxies to the stand-in platform)", () => {
    let platform: Platform;
    useStandIns({ platform: (p) => (platform = p) });

    interface ScriptRun {
        code: number | null;
        stdout: string;
        stderr: string;
        calls: string[][];
    }
    const ENVOY = "envoy-gateway-system envoy-cli-platform-gateway-1a2b3c 443 80\n";

    async function e2eScript(args: string[], fake: { gateways: string; apiUrl: string }): Promise<ScriptRun> {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "e2e-sh-"));
        const bin = path.join(dir, "bin");
        fs.mkdirSync(bin);
        const log = path.join(dir, "calls.log");
        // The stand-ins are bash (jq records each call's arguments as a JSON line): a node start-up is ~0.1 s
        // of CPU, and a run makes up to three calls besides its port-forwards. A port-forward, a TCP proxy, runs node.
        const record = (name: string) => `jq -cn '$ARGS.positional' --args -- ${name} "$@" >> ${JSON.stringify(log)}`;
        const proxy = `const net = require("node:net");
const [ns, ...a] = process.argv.slice(1);
const svc = a[3].replace(/^svc\\//, ""); const [local, remote] = a[4].split(":");
const target = JSON.parse(process.env.FAKE_TARGETS)[ns + "/" + svc + ":" + remote];
if (!target) { console.error('error: services "' + svc + '" not found'); process.exit(1); }
const u = new URL(target);
net.createServer((c) => { const t = net.connect(Number(u.port), u.hostname); c.pipe(t).pipe(c); t.on("error", () => c.destroy()); c.on("error", () => t.destroy()); })
    .listen(Number(local), "127.0.0.1", () => console.log("Forwarding from 127.0.0.1:" + local + " -> " + remote));`;
        fs.writeFileSync(
            path.join(bin, "kubectl"),
            `#!/usr/bin/env bash
set -e
${record("kubectl")}
a=("$@")
if [[ "\${a[0]-}" == --context ]]; then a=("\${a[@]:2}"); fi
ns=""
if [[ "\${a[0]-}" == -n ]]; then ns="\${a[1]}"; a=("\${a[@]:2}"); fi
if [[ "\${a[0]-}" == port-forward ]]; then exec node -e ${shellQuote(proxy)} "$ns" "\${a[@]}"; fi
if [[ "\${a[0]-}" == get && "\${a[1]-}" == svc ]]; then printf '%s' "$FAKE_GATEWAYS"; exit 0; fi
echo "fake kubectl: unexpected \${a[*]}" >&2
exit 1
`,
            { mode: 0o755 },
        );
        fs.writeFileSync(
            path.join(bin, "pulumi"),
            `#!/usr/bin/env bash
set -e
${record("pulumi")}
case "$*" in
"stack output apiToken --show-secrets --stack local") echo ${shellQuote(TOKEN)} ;;
"stack output apiUrl --stack local") echo "$FAKE_API_URL" ;;
*) echo "fake pulumi: unexpected $*" >&2; exit 1 ;;
esac
`,
            { mode: 0o755 },
        );
        const env: NodeJS.ProcessEnv = {
            ...process.env,
            PATH: `${bin}:${process.env.PATH}`,
            CLI_PLATFORM_CLI: CLI.join(" "),
            FAKE_GATEWAYS: fake.gateways,
            FAKE_API_URL: fake.apiUrl,
            FAKE_TARGETS: JSON.stringify({
                "cli-platform/cli-api:80": platform.url,
                "cli-platform/cli-api:8080": platform.metricsUrl,
                "monitoring/kube-prometheus-stack-prometheus:9090": platform.prometheusUrl,
                "envoy-gateway-system/envoy-cli-platform-gateway-1a2b3c:80": platform.gatewayUrl,
            }),
        };
        delete env.CLI_PLATFORM_TOKEN;
        delete env.GITHUB_ACTIONS;
        try {
            const child = spawn("bash", [path.join(E2E, "e2e.sh"), ...args], { cwd: os.tmpdir(), env });
            let stdout = "";
            let stderr = "";
            child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
            child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
            const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
            const calls = fs.existsSync(log)
                ? fs
                      .readFileSync(log, "utf8")
                      .split("\n")
                      .filter(Boolean)
                      .map((l) => JSON.parse(l) as string[])
                : [];
            return { code, stdout, stderr, calls };
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    }
    const canConnect = (port: number) =>
        new Promise<boolean>((resolve) => {
            const c = net.connect(port, "127.0.0.1", () => (c.destroy(), resolve(true)));
            c.on("error", () => resolve(false));
        });

    it("through the Gateway: finds Envoy's Service, takes token and host from the stack, passes every check, and stops its port-forwards", async () => {
        const r = await e2eScript(["--context", "kind-cli-platform", "--stack", "local"], { gateways: ENVOY, apiUrl: "http://cli.localtest.me" });
        assert.equal(r.code, 0, r.stdout + r.stderr);
        assert.match(r.stdout, /e2e: through the Gateway \(envoy-gateway-system\/envoy-cli-platform-gateway-1a2b3c:80, Host: cli\.localtest\.me\)/);
        assert.match(r.stdout, /^e2e: all 9 checks passed$/m);
        const name = /ok {4}evolve: 201 (e2e-[a-z0-9]+) /.exec(r.stdout)![1];
        assert.deepEqual(
            platform.seen.filter((x) => x.gateway).map((x) => [x.path, x.host]),
            [
                ["/health", GATEWAY_HOST],
                ["/ready", GATEWAY_HOST],
                ["/commands", GATEWAY_HOST],
                ["/evolve", GATEWAY_HOST],
                [`/commands/${name}/run`, GATEWAY_HOST],
            ],
        );
        const kubectl = r.calls.filter((c) => c[0] === "kubectl");
        assert.ok(
            kubectl.every((c) => c[1] === "--context" && c[2] === "kind-cli-platform"),
            JSON.stringify(kubectl),
        );
        const forwards = kubectl.filter((c) => c.includes("port-forward")).map((c) => [c[4], c[9].split(":")[1]]);
        assert.deepEqual(forwards.map((f) => f.join(" ")).sort(), ["cli-platform 80", "cli-platform 8080", "envoy-gateway-system 80", "monitoring 9090"]);
        for (const c of kubectl.filter((k) => k.includes("port-forward"))) {
            assert.deepEqual(c.slice(5, 8), ["port-forward", "--address", "127.0.0.1"]);
            assert.equal(await canConnect(Number(c[9].split(":")[0])), false, `port-forward ${c.join(" ")} still listens`);
        }
    });

    it("--via service: straight to cli-api, no Gateway needed", async () => {
        const r = await e2eScript(["--stack", "local", "--via", "service"], { gateways: "", apiUrl: "not used" });
        assert.equal(r.code, 0, r.stdout + r.stderr);
        assert.match(r.stdout, /e2e: straight to cli-platform\/svc\/cli-api \(no Gateway\)/);
        assert.equal(platform.seen.filter((x) => x.gateway).length, 0);
        assert.ok(r.calls.filter((c) => c[0] === "kubectl").every((c) => c[1] !== "--context"));
    });

    it("clear errors: no Gateway in the cluster, an apiUrl that is not a URL, a bad --via", async () => {
        // Four independent runs (each its own stand-ins and ports), at once.
        const [none, two, text, via] = await Promise.all([
            e2eScript(["--stack", "local"], { gateways: "", apiUrl: "http://cli.localtest.me" }),
            e2eScript(["--stack", "local"], { gateways: ENVOY + "other envoy-other 80\n", apiUrl: "http://cli.localtest.me" }),
            e2eScript(["--stack", "local"], { gateways: ENVOY, apiUrl: "http://localhost:8000 (kubectl port-forward ...)" }),
            e2eScript(["--via", "ingress"], { gateways: "", apiUrl: "" }),
        ]);
        assert.equal(none.code, 1);
        assert.match(
            none.stderr,
            /e2e: no Envoy Gateway data-plane Service \(label gateway\.envoyproxy\.io\/owning-gateway-name\) in the cluster; use --via service/,
        );
        assert.equal(two.code, 1);
        assert.match(two.stderr, /more than one Gateway data-plane Service/);
        assert.equal(text.code, 2);
        assert.match(text.stderr, /e2e: the stack's apiUrl "http:\/\/localhost:8000 \(kubectl port-forward \.\.\.\)" is not a URL; pass --host/);
        assert.equal(via.code, 2);
        assert.equal(via.stderr, 'e2e: --via must be gateway or service, got "ingress"\n');
    });
});
