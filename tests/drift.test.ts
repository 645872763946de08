/**
 * tools/drift.sh, offline: the real script with stand-ins for `pulumi` (a preview that is clean,
 * drifted or broken) and `gh` (open issues in, calls recorded; its --jq filter run by jq, as gh does).
 */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ROOT } from "./harness";

const DRIFT_OUTPUT = [
    "Previewing update (prod):",
    "    ~ aws:ec2/securityGroup:SecurityGroup: (update)",
    "        ~ ingress: [ ... ]",
    "Resources:",
    "    ~ 1 to update",
    "error: no changes were expected but changes were proposed",
].join("\n");

interface Run {
    status: number | null;
    stdout: string;
    stderr: string;
    /** Each gh call's arguments; `--body-file` is replaced by the file's content. */
    gh: string[][];
    /** The arguments pulumi got. */
    pulumi: string[];
}

function drift(args: string[], preview: { rc: number; output: string }, openIssues: { number: number; title: string }[]): Run {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "drift-"));
    try {
        const bin = path.join(dir, "bin");
        fs.mkdirSync(bin);
        fs.writeFileSync(path.join(dir, "preview.txt"), preview.output);
        fs.writeFileSync(path.join(dir, "issues.json"), JSON.stringify(openIssues));
        fs.writeFileSync(
            path.join(bin, "pulumi"),
            `#!/usr/bin/env bash\nprintf '%s\\n' "$@" > "${dir}/pulumi-args"\ncat "${dir}/preview.txt"\nexit ${preview.rc}\n`,
            { mode: 0o755 },
        );
        // gh: records its arguments (body files inlined) as JSON lines; `issue list` applies --jq to the open issues.
        // A bash script (jq writes the JSON): a node stand-in cost a node start-up, ~0.1 s of CPU, per call.
        fs.writeFileSync(
            path.join(bin, "gh"),
            [
                "#!/usr/bin/env bash",
                "set -e", // a failing jq fails the call, as gh's does
                'args=(); prev=""; filter=""',
                'for a in "$@"; do',
                // `$(cat; echo .)` and the strip keep the body's trailing newlines.
                '    if [[ "$prev" == --body-file ]]; then body="$(cat "$a"; echo .)"; args+=("FILE:${body%.}"); else args+=("$a"); fi',
                '    if [[ "$prev" == --jq ]]; then filter="$a"; fi',
                '    prev="$a"',
                "done",
                `jq -cn '$ARGS.positional' --args -- "\${args[@]}" >> ${JSON.stringify(path.join(dir, "gh.log"))}`,
                `if [[ "$1" == issue && "$2" == list ]]; then jq -r "$filter" ${JSON.stringify(path.join(dir, "issues.json"))}; fi`,
                'if [[ "$1" == issue && "$2" == create ]]; then echo https://github.com/o/r/issues/99; fi',
            ].join("\n"),
            { mode: 0o755 },
        );
        const r = spawnSync("bash", [path.join(ROOT, "tools", "drift.sh"), ...args], {
            encoding: "utf8",
            env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, GITHUB_SERVER_URL: "https://github.com", GITHUB_REPOSITORY: "o/r", GITHUB_RUN_ID: "42" },
        });
        const log = path.join(dir, "gh.log");
        const gh = fs.existsSync(log)
            ? fs
                  .readFileSync(log, "utf8")
                  .split("\n")
                  .filter(Boolean)
                  .map((l) => JSON.parse(l) as string[])
            : [];
        const pulumiArgs = path.join(dir, "pulumi-args");
        return { ...r, gh, pulumi: fs.existsSync(pulumiArgs) ? fs.readFileSync(pulumiArgs, "utf8").split("\n").filter(Boolean) : [] };
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

const TITLE = "Drift: stack prod differs from its program";
const OTHER = { number: 7, title: "Drift: stack dev differs from its program" };
const verbs = (r: Run) => r.gh.map((c) => c.slice(0, 2).join(" "));

describe("drift detection (tools/drift.sh)", () => {
    it("previews the fully qualified stack with a refresh, expecting no changes", () => {
        const r = drift(["prod", "acme/cli-platform/prod"], { rc: 0, output: "Resources:\n    42 unchanged" }, []);
        assert.equal(r.status, 0, r.stderr);
        assert.deepEqual(r.pulumi, [
            "preview",
            "--refresh",
            "--expect-no-changes",
            "--diff",
            "--non-interactive",
            "--color",
            "never",
            "--stack",
            "acme/cli-platform/prod",
        ]);
    });

    it("drift with no open issue: opens one, labelled, with the preview output and the run", () => {
        const r = drift(["prod"], { rc: 255, output: DRIFT_OUTPUT }, [OTHER]);
        assert.equal(r.status, 0, r.stderr);
        assert.deepEqual(verbs(r), ["issue list", "label create", "issue create"]);
        const create = r.gh[2];
        assert.equal(create[create.indexOf("--title") + 1], TITLE);
        assert.equal(create[create.indexOf("--label") + 1], "drift");
        const body = create[create.indexOf("--body-file") + 1];
        assert.ok(body.includes("of stack **prod** proposes changes"), body);
        assert.ok(body.includes("https://github.com/o/r/actions/runs/42"), body);
        assert.ok(body.includes(`\`\`\`\`\n${DRIFT_OUTPUT}\n\`\`\`\``), body);
    });

    it("drift with the stack's issue open: updates its body and comments; other stacks' issues untouched", () => {
        const r = drift(["prod"], { rc: 255, output: DRIFT_OUTPUT }, [OTHER, { number: 12, title: TITLE }]);
        assert.equal(r.status, 0, r.stderr);
        assert.deepEqual(verbs(r), ["issue list", "label create", "issue edit", "issue comment"]);
        assert.equal(r.gh[2][2], "12");
        assert.deepEqual(r.gh[3], ["issue", "comment", "12", "--body", "Still drifting (https://github.com/o/r/actions/runs/42)."]);
    });

    it("the newer wording of the error (`... for preview ...`) is drift too", () => {
        const r = drift(["prod"], { rc: 255, output: "error: no changes were expected for preview but changes were proposed" }, []);
        assert.deepEqual(verbs(r), ["issue list", "label create", "issue create"]);
    });

    it("clean: closes the stack's open issue, and only that one", () => {
        const r = drift(["prod"], { rc: 0, output: "Resources:\n    42 unchanged" }, [OTHER, { number: 12, title: TITLE }]);
        assert.equal(r.status, 0, r.stderr);
        assert.deepEqual(verbs(r), ["issue list", "issue close"]);
        assert.equal(r.gh[1][2], "12");
        const clean = drift(["prod"], { rc: 0, output: "Resources:\n    42 unchanged" }, [OTHER]);
        assert.deepEqual(verbs(clean), ["issue list"]);
    });

    it("a preview that fails for another reason fails the run and touches no issue", () => {
        const r = drift(["prod"], { rc: 255, output: "error: failed to refresh: AccessDenied" }, [{ number: 12, title: TITLE }]);
        assert.equal(r.status, 1);
        assert.deepEqual(r.gh, []);
        assert.match(r.stderr, /^drift: the preview of stack prod failed \(exit 255\) for another reason than drift/);
    });

    it("keeps the issue body under GitHub's limit: the end of a long output", () => {
        const long = `${"x".repeat(100_000)}\n${DRIFT_OUTPUT}`;
        const r = drift(["prod"], { rc: 255, output: long }, []);
        const body = r.gh[2][r.gh[2].indexOf("--body-file") + 1];
        assert.ok(body.length < 65536, String(body.length));
        assert.ok(body.includes("(the output is cut to its last 60000 bytes)"));
        assert.ok(body.includes("error: no changes were expected but changes were proposed\n````"));
    });
});
