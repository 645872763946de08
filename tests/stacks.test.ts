import * as assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as YAML from "yaml";
import * as mocks from "../tools/mocks";
import { manifestsYaml, parseArgs } from "../tools/render";
import { render, renderWith, ROOT, SECRET, STACKS } from "./harness";

// `npm run render`: the script exactly as package.json defines it, without npm's own start-up. The
// three runs are separate processes, started in a root-level hook (before any test of any file), so
// they run on the other core while the rest of the suite does; their tests await them.
const script = (JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts.render;
const exec = (command: string, args: string[], cwd = ROOT) =>
    new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = spawn(command, args, { cwd });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d) => (stdout += d));
        child.stderr.on("data", (d) => (stderr += d));
        child.on("close", (status) => resolve({ status, stdout, stderr }));
    });
const run = (args: string[], cwd = ROOT) => exec("sh", ["-c", `${script} "$@"`, "render", ...args], cwd);
/** What Pulumi's nodejs runtime does with `typescript: false`: require the project directory, no hook preloaded. */
const PULUMI_LOAD = `const program = require(process.argv[1] + "/");
console.log(JSON.stringify({ type: typeof program, tsNode: Object.keys(require.cache).some((f) => f.includes("/node_modules/ts-node/")) }));`;
/**
 * A copy of the project (its sources; node_modules and service linked) whose dev stack has a bad
 * value. It lives at one path per checkout and keeps its own .build (the compile caches, keyed by
 * file path) from run to run: a fresh copy renders from cold caches (~3 s of CPU, 12 MB written)
 * instead of ~0.7 s, and copying the checkout's .build with it was ~80 MB and 9 000 files per run.
 * A second suite running in this checkout at the same moment gets a throwaway copy instead.
 */
function brokenProject(): { dir: string; release: () => void } {
    const stable = path.join(os.tmpdir(), `cli-platform-render-broken-${crypto.createHash("sha256").update(ROOT).digest("hex").slice(0, 12)}`);
    const lock = `${stable}.lock`;
    const takeLock = () => {
        try {
            fs.mkdirSync(lock);
            return true;
        } catch {
            return false;
        }
    };
    let own = takeLock();
    if (!own && Date.now() - (fs.statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? 0) > 10 * 60_000) {
        fs.rmSync(lock, { recursive: true, force: true }); // left by a run that was killed
        own = takeLock();
    }
    const dir = own ? stable : fs.mkdtempSync(path.join(os.tmpdir(), "render-broken-"));
    fs.mkdirSync(dir, { recursive: true });
    for (const f of fs.readdirSync(dir)) if (f !== ".build") fs.rmSync(path.join(dir, f), { recursive: true, force: true });
    for (const f of fs.readdirSync(ROOT)) {
        if (!["node_modules", ".git", "out", "service", ".build"].includes(f)) fs.cpSync(path.join(ROOT, f), path.join(dir, f), { recursive: true });
    }
    fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"));
    fs.symlinkSync(path.join(ROOT, "service"), path.join(dir, "service"));
    const file = path.join(dir, "Pulumi.dev.yaml");
    fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace("cidr: 10.10.0.0/16", "cidr: 10.10.0.0/16\n        azCount: 0"));
    return { dir, release: () => fs.rmSync(own ? lock : dir, { recursive: true, force: true }) };
}

let runs: Record<"dev" | "unknown" | "broken" | "pulumi", ReturnType<typeof run>> & { out: string };
let broken: ReturnType<typeof brokenProject>;
before(() => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "render-"));
    broken = brokenProject();
    runs = {
        out,
        dev: run(["dev", "--out", out]),
        unknown: run(["nope"]),
        broken: run(["dev"], broken.dir),
        pulumi: exec(process.execPath, ["-e", PULUMI_LOAD, ROOT]),
    };
});
after(async () => {
    await Promise.all([runs.dev, runs.unknown, runs.broken, runs.pulumi]);
    fs.rmSync(runs.out, { recursive: true, force: true });
    broken.release();
});

describe("stacks evaluate offline", () => {
    for (const stack of STACKS) {
        it(`${stack}: every resource has a parent, and every child of a component is parented to it`, async () => {
            const r = await render(stack);
            assert.ok(r.resources.length > 1);
            for (const res of r.resources.filter((x) => x.type !== "pulumi:pulumi:Stack")) {
                assert.ok(res.parent, `${res.urn} has no parent`);
            }
            // Components are the only top-level children of the stack (besides providers).
            const stackUrn = r.resources.find((x) => x.type === "pulumi:pulumi:Stack")!.urn;
            for (const res of r.resources.filter((x) => x.parent === stackUrn)) {
                assert.match(res.type, /^(cli-platform:|pulumi:providers:)/, `${res.urn} should live inside a component`);
            }
        });

        it(`${stack}: every in-cluster resource uses an explicit Kubernetes provider`, async () => {
            const r = await render(stack);
            for (const res of r.resources.filter((x) => x.custom && x.type.startsWith("kubernetes:"))) {
                assert.match(res.provider ?? "", /pulumi:providers:kubernetes::/, `${res.urn} uses the default provider`);
                assert.doesNotMatch(res.provider ?? "", /::default_/, `${res.urn} uses the ambient default provider`);
            }
        });

        it(`${stack}: no secret value appears in plain text in the render`, async () => {
            const r = await render(stack);
            const text = JSON.stringify(r.resources) + JSON.stringify(r.outputs) + manifestsYaml(r);
            for (const leaked of ["mock-ecr-password", "mock-secret-", "certificate-authority-data"]) assert.ok(!text.includes(leaked), `${leaked} leaked`);
            if (stack !== "local") assert.equal(r.outputs.kubeconfig, SECRET);
        });
    }

    it("outputs are flat and named for what they are", async () => {
        const dev = await render("dev");
        for (const key of ["clusterName", "clusterEndpoint", "kubeconfig", "vpcId", "oidcProviderArn", "nodeRoleArn", "storageClassName"])
            assert.ok(key in dev.outputs, key);
        assert.equal(dev.outputs.clusterName, "cli-platform-dev");
        const local = await render("local");
        assert.deepEqual(Object.keys(local.outputs).sort(), [
            "apiToken",
            "apiTokens",
            "apiUrl",
            "environment",
            "grafanaAdminPassword",
            "grafanaUrl",
            "imageRefs",
            "kubeContext",
            "logsUrl",
            "namespace",
            "postgresUrl",
            "redisUrl",
            "storageClassName",
        ]);
        assert.equal(local.outputs.postgresUrl, SECRET);
        assert.equal(local.outputs.redisUrl, SECRET);
    });

    it("the harness answers only the invokes it knows, naming the unknown token", () => {
        assert.throws(
            () => mocks.call({ token: "aws:ec2/getAmi:getAmi", inputs: {} } as never, { region: "eu-west-1" }),
            /harness: no mock for invoke "aws:ec2\/getAmi:getAmi"/,
        );
        assert.throws(
            () => mocks.call({ token: "aws:index/getAvailabilityZones:getAvailabilityZones", inputs: {} } as never, { region: "xx-nowhere-1" }),
            /no availability-zone data for region "xx-nowhere-1"/,
        );
    });

    // The SDK's stack capture makes an evaluation ~4x dearer: it is kept on two stacks, the Structs on all four.
    for (const [stack, sdkPath] of [
        ["dev", { sdkStructs: true }],
        ["staging", { sdkStructs: true }],
        ["prod", { sdkStackCapture: true, sdkStructs: true }],
        ["local", { sdkStackCapture: true, sdkStructs: true }],
    ] as const) {
        const shortcuts = [...("sdkStackCapture" in sdkPath ? ["no stack capture"] : []), "plain structs"].join(", ");
        it(`${stack}: the harness (${shortcuts}) records exactly what the SDK's own path records (every field, resources and keys in the same order, outputs)`, async () => {
            const sdk = await renderWith(stack, {}, sdkPath);
            assert.ok(sdk.resources.length > 50);
            const fast = await render(stack);
            assert.deepEqual(fast, sdk);
            // deepEqual ignores the order of keys; resources.json and the manifests do not.
            assert.equal(JSON.stringify(fast), JSON.stringify(sdk));
        });
    }

    it("mocked outputs are deterministic across runs", () => {
        const a = mocks.newResource({ type: "aws:ec2/vpc:Vpc", name: "n-vpc", inputs: {} } as never, { region: "eu-west-1" });
        const b = mocks.newResource({ type: "aws:ec2/vpc:Vpc", name: "n-vpc", inputs: {} } as never, { region: "eu-west-1" });
        assert.deepEqual(a, b);
        assert.match(String(a.id), /^vpc-[0-9a-f]{17}$/);
    });
});

describe("npm run render", () => {
    it("writes manifests.yaml, resources.json and cost.json and prints a summary with the cost table", async () => {
        const { out } = runs;
        const res = await runs.dev;
        assert.equal(res.status, 0, res.stderr);
        assert.match(res.stdout, /Stack dev: \d+ resources/);
        assert.match(res.stdout, /aws:eks\/cluster:Cluster\s+1/);
        assert.match(res.stdout, /clusterName: cli-platform-dev/);
        assert.match(res.stdout, /kubeconfig: \[secret\]/);
        assert.match(res.stdout, /Cost of dev \(eu-west-1, on-demand USD, 730 h\/month, prices retrieved \d{4}-\d{2}-\d{2}\):/);
        assert.match(res.stdout, /EC2 +cluster-general +node group: 2 x t3\.large ON_DEMAND/);
        assert.match(res.stdout, /Total: \$\d+\.\d\d\/month/);
        const cost = JSON.parse(fs.readFileSync(path.join(out, "cost.json"), "utf8")) as { stack: string; region: string; monthly: number; lines: unknown[] };
        assert.equal(cost.stack, "dev");
        assert.equal(cost.region, "eu-west-1");
        assert.ok(cost.monthly > 0 && cost.lines.length > 0);
        const resources = JSON.parse(fs.readFileSync(path.join(out, "resources.json"), "utf8")) as { type: string }[];
        assert.ok(resources.some((r) => r.type === "aws:eks/cluster:Cluster"));
        const manifests = fs.readFileSync(path.join(out, "manifests.yaml"), "utf8");
        assert.match(manifests, /kind: StorageClass/);
        // kubectl-readable: every document parses as YAML with apiVersion and kind.
        const docs = manifests.split(/^---$/m).slice(1);
        assert.ok(docs.length > 0);
        for (const d of docs) {
            const obj = YAML.parse(d) as { apiVersion?: string; kind?: string };
            assert.ok(obj.apiVersion && obj.kind, d);
        }
    });

    it("an unknown stack is one line on stderr and exit code 1", async () => {
        const res = await runs.unknown;
        assert.equal(res.status, 1);
        assert.equal(res.stderr, `render: unknown stack "nope": no Pulumi.nope.yaml (known stacks: dev, local, prod, staging)\n`);
    });

    it("broken config is one line on stderr and exit code 1", async () => {
        const res = await runs.broken;
        assert.equal(res.status, 1);
        assert.equal(res.stderr, `render: Invalid configuration for stack "dev": cli-platform:network.azCount = 0: must be >= 1\n`);
    });

    it("pulumi up loads the same program as plain JavaScript: Pulumi.yaml turns ts-node off, package.json main compiles it", async () => {
        const project = YAML.parse(fs.readFileSync(path.join(ROOT, "Pulumi.yaml"), "utf8")) as { main?: string; runtime: { options: { typescript: boolean } } };
        assert.equal(project.runtime.options.typescript, false);
        assert.equal(project.main, undefined, "Pulumi runs the program from, and finds provider plugins under, the directory main names");
        const res = await runs.pulumi;
        assert.equal(res.status, 0, res.stderr);
        assert.deepEqual(JSON.parse(res.stdout), { type: "function", tsNode: false });
    });

    it("parses its arguments strictly", () => {
        assert.deepEqual(parseArgs(["prod", "--out", "x"]), { stack: "prod", out: "x" });
        assert.throws(() => parseArgs([]), /usage: npm run render -- <stack>/);
        assert.throws(() => parseArgs(["dev", "--force"]), /unknown option --force/);
        assert.throws(() => parseArgs(["dev", "--out"]), /--out needs a directory/);
    });
});
