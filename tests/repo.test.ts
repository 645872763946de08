import * as assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as YAML from "yaml";
import { knownStacks } from "../tools/harness";
import { ROOT } from "./harness";

const WORKFLOWS = path.join(ROOT, ".github", "workflows");
const workflowFiles = fs.readdirSync(WORKFLOWS).filter((f) => /\.ya?ml$/.test(f));
type Step = { uses?: string; run?: string; with?: Record<string, unknown>; if?: string; id?: string; env?: Record<string, string> };
type Job = {
    steps: Step[];
    /** A job that calls a reusable workflow has `uses` (and `with`) instead of steps. */
    uses?: string;
    with?: Record<string, unknown>;
    needs?: string;
    strategy?: { matrix?: { include?: { stack: string; role?: string }[] } };
    concurrency?: unknown;
    environment?: string;
    env?: Record<string, string>;
};
type Workflow = { name: string; on: Record<string, unknown>; permissions?: Record<string, string>; env?: Record<string, string>; jobs: Record<string, Job> };
const load = (f: string) => YAML.parse(fs.readFileSync(path.join(WORKFLOWS, f), "utf8"), { strict: true, uniqueKeys: true }) as Workflow;

function tool(cmd: string, args: string[]): string {
    try {
        return execFileSync(cmd, args, { cwd: ROOT, encoding: "utf8", stdio: "pipe" });
    } catch (err) {
        const e = err as { code?: string; stdout?: string; stderr?: string };
        if (e.code === "ENOENT") assert.fail(`${cmd} is not installed: run \`npm run setup\``);
        assert.fail(`${cmd} ${args.join(" ")}:\n${e.stdout}${e.stderr}`);
    }
}

describe("repository checks", () => {
    it("the workflows exist and parse", () => {
        assert.deepEqual(workflowFiles.sort(), ["ci.yml", "deploy-stack.yml", "deploy.yml", "drift.yml", "e2e.yml", "preview.yml"]);
        for (const f of workflowFiles) {
            const wf = load(f);
            assert.ok(wf.name && wf.on && Object.keys(wf.jobs).length > 0, f);
            for (const [job, spec] of Object.entries(wf.jobs)) {
                if (spec.uses !== undefined) {
                    // A local reusable workflow that exists and can be called.
                    const called = /^\.\/\.github\/workflows\/([\w.-]+\.yml)$/.exec(spec.uses);
                    assert.ok(called && workflowFiles.includes(called[1]), `${f}: job ${job} calls ${spec.uses}, which is not a workflow here`);
                    assert.ok("workflow_call" in load(called[1]).on, `${f}: job ${job} calls ${called[1]}, which has no workflow_call trigger`);
                } else assert.ok(Array.isArray(spec.steps) && spec.steps.length > 0, `${f}: job ${job} has no steps`);
            }
        }
        // Prettier writes one space before a trailing comment (`uses: a/b@<sha> # v1.2.3`).
        tool("yamllint", [
            "-d",
            "{extends: default, rules: {line-length: disable, document-start: disable, truthy: {check-keys: false}, comments: {min-spaces-from-content: 1}}}",
            ...workflowFiles.map((f) => path.join(WORKFLOWS, f)),
            ...["tools/e2e/kind-config.yaml", "tools/e2e/fake-llm/kustomization.yaml", "tools/e2e/fake-llm/fake-llm.yaml"].map((f) => path.join(ROOT, f)),
        ]);
    });

    it("every action is pinned to a full commit SHA with its version in a comment (a tag can be moved)", () => {
        let pins = 0;
        for (const f of workflowFiles) {
            const text = fs.readFileSync(path.join(WORKFLOWS, f), "utf8");
            // Steps' actions; a job calling a local reusable workflow (`uses: ./.github/...`) pins nothing.
            const uses = text.split("\n").filter((l) => /^\s*(-\s+)?uses:/.test(l) && !/uses: \.\//.test(l));
            assert.equal(uses.length, Object.values(load(f).jobs).flatMap((j) => (j.steps ?? []).filter((s) => s.uses)).length, `${f}: one uses: per line`);
            for (const line of uses) {
                assert.match(
                    line,
                    /^\s*(-\s+)?uses: [\w.-]+\/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$/,
                    `${f}: "${line.trim()}" is not pinned as <owner>/<repo>@<40-hex sha> # vX.Y.Z`,
                );
                pins++;
            }
        }
        assert.ok(pins >= 5, `only ${pins} actions found`);
    });

    it("every stack a workflow names exists", () => {
        const stacks = new Set(knownStacks());
        const named: string[] = [];
        for (const f of workflowFiles) {
            const text = fs.readFileSync(path.join(WORKFLOWS, f), "utf8");
            for (const m of text.matchAll(/cli-platform\/(\w+)\b/g)) named.push(m[1]);
            for (const m of text.matchAll(/render -- (\w+)/g)) named.push(m[1]);
            for (const job of Object.values(load(f).jobs)) {
                for (const inc of job.strategy?.matrix?.include ?? []) named.push(inc.stack);
                if (typeof job.with?.stack === "string") named.push(job.with.stack);
            }
        }
        const real = named.filter((n) => !n.startsWith("$"));
        assert.ok(real.length >= 4);
        for (const s of real) assert.ok(stacks.has(s), `a workflow names stack "${s}", which has no Pulumi.${s}.yaml`);
    });

    it("every Pulumi CLI the workflows install is the version in .pulumi-version", () => {
        assert.match(fs.readFileSync(path.join(ROOT, ".pulumi-version"), "utf8"), /^\d+\.\d+\.\d+\n$/);
        const using = workflowFiles.filter((f) => Object.values(load(f).jobs).some((j) => (j.steps ?? []).some((s) => s.uses?.startsWith("pulumi/actions@"))));
        assert.deepEqual(using.sort(), ["deploy-stack.yml", "drift.yml", "e2e.yml", "preview.yml"]);
        for (const f of using) {
            for (const s of Object.values(load(f).jobs).flatMap((j) => (j.steps ?? []).filter((x) => x.uses?.startsWith("pulumi/actions@"))))
                assert.equal(s.with?.["pulumi-version-file"], ".pulumi-version", f);
        }
    });

    it("previews apply the policy pack and comment per stack, for every AWS stack", () => {
        const preview = load("preview.yml");
        const step = preview.jobs.preview.steps.find((s) => s.uses?.startsWith("pulumi/actions@"))!;
        assert.deepEqual(
            [step.with!.command, step.with!.policyPacks, step.with!["comment-on-pr"], step.with!["edit-pr-comment"]],
            ["preview", "policy", true, true],
        );
        assert.ok(preview.jobs.preview.steps.some((s) => s.uses?.startsWith("aws-actions/configure-aws-credentials@")));
        assert.deepEqual(
            preview.jobs.preview.strategy!.matrix!.include!.map((i) => [i.stack, i.role]),
            [
                ["dev", "AWS_ROLE_ARN_DEV"],
                ["staging", "AWS_ROLE_ARN_STAGING"],
                ["prod", "AWS_ROLE_ARN_PROD"],
            ],
        );
    });

    it("deploys promote dev -> staging -> prod (prod behind the production environment), one never-cancelled run per stack, each smoke-tested", () => {
        const deploy = load("deploy.yml");
        assert.deepEqual(deploy.on, { push: { branches: ["main"] } });
        const stages = Object.entries(deploy.jobs).map(([name, j]) => [
            name,
            j.needs,
            j.uses,
            j.with?.stack,
            j.with?.environment,
            j.with?.["role-variable"],
            j.concurrency,
        ]);
        assert.deepEqual(stages, [
            [
                "dev",
                undefined,
                "./.github/workflows/deploy-stack.yml",
                "dev",
                "development",
                "AWS_ROLE_ARN_DEV",
                { group: "pulumi-dev", "cancel-in-progress": false },
            ],
            [
                "staging",
                "dev",
                "./.github/workflows/deploy-stack.yml",
                "staging",
                "staging",
                "AWS_ROLE_ARN_STAGING",
                { group: "pulumi-staging", "cancel-in-progress": false },
            ],
            [
                "prod",
                "staging",
                "./.github/workflows/deploy-stack.yml",
                "prod",
                "production",
                "AWS_ROLE_ARN_PROD",
                { group: "pulumi-prod", "cancel-in-progress": false },
            ],
        ]);
        assert.ok(!("concurrency" in deploy), "no workflow-level concurrency that could cancel a deploy");

        const stage = load("deploy-stack.yml");
        const job = stage.jobs.deploy;
        assert.equal(job.environment, "${{ inputs.environment }}");
        const names = job.steps.map((s) => s.uses?.split("@")[0] ?? s.run!.split(" ")[0]);
        const up = job.steps.findIndex((s) => s.uses?.startsWith("pulumi/actions@"));
        assert.deepEqual([job.steps[up].with!.command, job.steps[up].with!.policyPacks], ["up", "policy"]);
        const smoke = job.steps.findIndex((s) => s.run?.includes("tools/e2e/check.ts smoke"));
        assert.ok(up >= 0 && smoke > up, `the smoke test runs after pulumi up: ${names.join(", ")}`);
        assert.equal(job.steps[smoke].if, undefined, "the smoke test runs only when up succeeded");
        assert.match(job.steps[smoke].run!, /pulumi stack output apiUrl --stack "\$PULUMI_STACK"/);
        assert.match(job.steps[smoke].run!, /echo "::add-mask::\$CLI_PLATFORM_TOKEN"/);
        assert.ok(!job.steps[smoke].run!.includes("set -x"));
    });

    it("e2e on kind: kind cluster from tools/e2e, local backend, image loaded into kind, up, check through the Gateway, destroy always, nothing left", () => {
        const e2e = load("e2e.yml");
        assert.deepEqual(Object.keys(e2e.on).sort(), ["pull_request", "push"]);
        assert.deepEqual(e2e.permissions, { contents: "read" }, "no cloud credentials, no write access");
        const job = e2e.jobs.kind;
        const kind = job.steps.find((s) => s.uses?.startsWith("helm/kind-action@"))!;
        assert.equal(kind.with!.config, "tools/e2e/kind-config.yaml");
        assert.equal(`kind-${kind.with!.cluster_name}`, job.env!.KUBE_CONTEXT);
        const run = job.steps.map((s) => s.run ?? "").join("\n");
        const order = [
            "kind load docker-image",
            "pulumi login --local",
            'pulumi stack select --create "$STACK"',
            "pulumi up --yes",
            "rollout status deployment/cli-api",
            "apply -k tools/e2e/fake-llm",
            "bash tools/e2e/e2e.sh",
            "pulumi destroy --yes",
            "tools/e2e/leftovers.ts",
        ].map((needle) => [needle, run.indexOf(needle)] as const);
        for (const [needle, at] of order) assert.ok(at >= 0, `e2e.yml never runs ${needle}`);
        assert.deepEqual(
            order.map(([n]) => n),
            [...order].sort((a, b) => a[1] - b[1]).map(([n]) => n),
            "in this order",
        );
        assert.equal(job.env!.STACK, "local");
        const destroy = job.steps.find((s) => s.run?.includes("pulumi destroy --yes"))!;
        assert.equal(destroy.if, "always() && steps.stack.outcome == 'success'");
        for (const f of [
            "tools/e2e/kind-config.yaml",
            "tools/e2e/fake-llm/kustomization.yaml",
            "tools/e2e/e2e.sh",
            "tools/e2e/check.ts",
            "tools/e2e/probes.ts",
            "tools/e2e/leftovers.ts",
        ])
            assert.ok(fs.existsSync(path.join(ROOT, f)), f);
    });

    it("drift: nightly, every AWS stack, tools/drift.sh with issues: write, never in a deploy's concurrency group", () => {
        const drift = load("drift.yml");
        const on = drift.on as { schedule: { cron: string }[] };
        assert.equal(on.schedule.length, 1);
        assert.match(on.schedule[0].cron, /^\d+ \d+ \* \* \*$/);
        assert.equal(drift.permissions!.issues, "write");
        const job = drift.jobs.drift;
        const aws = knownStacks().filter((s) => s !== "local");
        assert.deepEqual(job.strategy!.matrix!.include!.map((i) => i.stack).sort(), [...aws].sort());
        assert.deepEqual(job.concurrency, { group: "drift-${{ matrix.stack }}", "cancel-in-progress": false });
        const step = job.steps.find((s) => s.run?.includes("tools/drift.sh"))!;
        assert.equal(step.run, 'bash tools/drift.sh "$STACK" "$PULUMI_STACK"');
        assert.equal(step.env!.GH_TOKEN, "${{ github.token }}");
    });

    it("shellcheck passes on every run: block of every workflow", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "run-blocks-"));
        try {
            const files: string[] = [];
            for (const f of workflowFiles) {
                Object.entries(load(f).jobs).forEach(([job, spec]) =>
                    (spec.steps ?? []).forEach((step, i) => {
                        if (!step.run) return;
                        // GitHub substitutes ${{ }} before the shell runs; stand in a plain word.
                        const file = path.join(dir, `${f}.${job}.${i}.sh`);
                        fs.writeFileSync(file, `#!/usr/bin/env bash\nset -eo pipefail\n${step.run.replace(/\$\{\{[^}]*\}\}/g, "GHA_EXPRESSION")}`);
                        files.push(file);
                    }),
                );
            }
            assert.ok(files.length >= 15, String(files.length));
            tool("shellcheck", files);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("shellcheck passes on every shell script", () => {
        const scripts = execFileSync("git", ["ls-files", "*.sh", ".ci/run"], { cwd: ROOT, encoding: "utf8" }).split("\n").filter(Boolean);
        const untracked = ["tools/setup.sh", "tools/image-ci.sh", "tools/build-base-image.sh", "tools/manifest-diff.sh", ".ci/run"].filter((s) =>
            fs.existsSync(path.join(ROOT, s)),
        );
        const all = [...new Set([...scripts, ...untracked])];
        assert.ok(all.length >= 5, all.join(" "));
        tool("shellcheck", all);
    });

    describe("the setup scripts test for the program that is run, not a look-alike", () => {
        /**
         * Runs `script` with a PATH holding only `present` (stubs that exit 0), the coreutils it
         * needs, and an apt-get that records what it was asked to install and then fails; returns
         * the packages it asked for.
         */
        function packagesRequested(script: string, present: string[]): string[] {
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "setup-check-"));
            try {
                const bin = path.join(dir, "bin");
                fs.mkdirSync(bin);
                for (const util of ["dirname", "id", "ls"])
                    fs.symlinkSync(execFileSync("bash", ["-c", `command -v ${util}`], { encoding: "utf8" }).trim(), path.join(bin, util));
                for (const p of present) fs.writeFileSync(path.join(bin, p), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
                const log = path.join(dir, "apt.log");
                fs.writeFileSync(path.join(bin, "apt-get"), `#!/bin/sh\n[ "$1" = update ] && exit 0\necho "$@" >> ${log}\nexit 1\n`, { mode: 0o755 });
                const r = spawnSync("/bin/bash", [path.join(ROOT, script)], { env: { PATH: bin, HOME: dir }, encoding: "utf8" });
                assert.notEqual(r.status, 0, `${script} went on without the packages it needs:\n${r.stdout}${r.stderr}`);
                return fs.existsSync(log)
                    ? fs
                          .readFileSync(log, "utf8")
                          .split(/\s+/)
                          .filter((w) => w && !w.startsWith("-") && w !== "install")
                    : [];
            } finally {
                fs.rmSync(dir, { recursive: true, force: true });
            }
        }

        it("image-ci.sh installs docker.io when only a docker client (no dockerd) is present", () => {
            assert.deepEqual(packagesRequested("tools/image-ci.sh", ["docker", "debootstrap"]), ["docker.io"]);
            assert.deepEqual(packagesRequested("tools/image-ci.sh", ["dockerd", "debootstrap"]), ["docker.io"]);
        });

        it("setup.sh installs each tool the tests run when it is missing", () => {
            const all = ["redis-server", "promtool", "shellcheck", "yamllint", "python3", "jq"];
            const asked = packagesRequested("tools/setup.sh", []);
            for (const pkg of ["redis-server", "prometheus", "shellcheck", "yamllint", "python3", "jq"])
                assert.ok(asked.includes(pkg), `${pkg} not requested: ${asked.join(" ")}`);
            assert.ok(
                !packagesRequested(
                    "tools/setup.sh",
                    all.filter((t) => t !== "python3"),
                ).some((p) => p !== "python3" && p !== "postgresql"),
            );
        });
    });
});
