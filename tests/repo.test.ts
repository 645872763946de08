import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
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

    it("every action is pinned to a version or a commit", () => {
        for (const f of workflowFiles) {
            for (const job of Object.values(load(f).jobs)) {
                for (const step of job.steps.filter((s) => s.uses))
                    assert.match(step.uses!, /^[\w.-]+\/[\w./-]+@(v\d+(\.\d+){0,2}|[0-9a-f]{40})$/, `${f}: ${step.uses}`);
            }
        }
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
});
