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
type Step = { uses?: string; run?: string; with?: Record<string, unknown> };
type Workflow = {
    name: string;
    on: unknown;
    jobs: Record<string, { steps: Step[]; strategy?: { matrix?: { include?: { stack: string }[] } }; concurrency?: unknown; environment?: string }>;
};
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
    it("the three workflows exist and parse", () => {
        assert.deepEqual(workflowFiles.sort(), ["ci.yml", "deploy.yml", "preview.yml"]);
        for (const f of workflowFiles) {
            const wf = load(f);
            assert.ok(wf.name && wf.on && Object.keys(wf.jobs).length > 0, f);
            for (const [job, spec] of Object.entries(wf.jobs)) assert.ok(Array.isArray(spec.steps) && spec.steps.length > 0, `${f}: job ${job} has no steps`);
        }
        tool("yamllint", [
            "-d",
            "{extends: default, rules: {line-length: disable, document-start: disable, truthy: {check-keys: false}}}",
            ...workflowFiles.map((f) => path.join(WORKFLOWS, f)),
        ]);
    });

    it("every action is pinned to a full commit SHA with its version in a comment (a tag can be moved)", () => {
        let pins = 0;
        for (const f of workflowFiles) {
            const text = fs.readFileSync(path.join(WORKFLOWS, f), "utf8");
            const uses = text.split("\n").filter((l) => /^\s*(-\s+)?uses:/.test(l));
            assert.equal(uses.length, Object.values(load(f).jobs).flatMap((j) => j.steps.filter((s) => s.uses)).length, `${f}: one uses: per line`);
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
            for (const job of Object.values(load(f).jobs)) for (const inc of job.strategy?.matrix?.include ?? []) named.push(inc.stack);
        }
        const real = named.filter((n) => !n.startsWith("$"));
        assert.ok(real.length >= 4);
        for (const s of real) assert.ok(stacks.has(s), `a workflow names stack "${s}", which has no Pulumi.${s}.yaml`);
    });

    it("previews apply the policy pack and comment per stack; deploys run dev, then prod behind an environment, one run per stack", () => {
        const preview = load("preview.yml");
        const step = preview.jobs.preview.steps.find((s) => s.uses?.startsWith("pulumi/actions@"))!;
        assert.deepEqual(
            [step.with!.command, step.with!.policyPacks, step.with!["comment-on-pr"], step.with!["edit-pr-comment"]],
            ["preview", "policy", true, true],
        );
        assert.ok(preview.jobs.preview.steps.some((s) => s.uses?.startsWith("aws-actions/configure-aws-credentials@")));
        const deploy = load("deploy.yml") as Workflow & { jobs: Record<string, { needs?: string }> };
        assert.equal(deploy.jobs.prod.needs, "dev");
        assert.equal(deploy.jobs.prod.environment, "production");
        assert.deepEqual(deploy.jobs.dev.concurrency, { group: "pulumi-dev", "cancel-in-progress": false });
        assert.deepEqual(deploy.jobs.prod.concurrency, { group: "pulumi-prod", "cancel-in-progress": false });
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
            const all = ["redis-server", "promtool", "shellcheck", "yamllint", "python3"];
            const asked = packagesRequested("tools/setup.sh", []);
            for (const pkg of ["redis-server", "prometheus", "shellcheck", "yamllint", "python3"])
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
