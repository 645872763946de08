/**
 * `npm run chart-keys -- <owner/name>=<git dir> ...`: writes tools/chart-keys/<chart>-<version>.json
 * for every chart pinned in components/versions.ts, from the chart's source at its release tag
 * (tools/chart-sources.ts says where), recording the commit each tag resolved to.
 *
 * A chart's keys are every key path of its values file (arrays are leaves) plus every `.Values.a.b`
 * path its templates read (keys a values.yaml only documents in comments); a subchart's keys are
 * prefixed with its name. Each git dir is a clone or mirror of https://github.com/<owner/name>
 * (`git clone --bare`); pass one per repository the charts come from.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import * as YAML from "yaml";
import { CHARTS } from "../components/versions";
import { CHART_KEYS_DIR, CHART_SOURCES, type ChartDir, type ChartKey, type ChartKeyList, dotted, keyListFile } from "./chart-sources";

/** Every key path of a parsed values document: mappings are walked, everything else is a leaf. */
export function yamlKeyPaths(doc: unknown, prefix: string[] = []): string[][] {
    if (doc === null || typeof doc !== "object" || Array.isArray(doc)) return [];
    return Object.entries(doc as Record<string, unknown>).flatMap(([k, v]) => [[...prefix, k], ...yamlKeyPaths(v, [...prefix, k])]);
}

/** `.Values.a.b.c` paths read by template text, as every prefix (a, a.b, a.b.c). */
export function templateValuePaths(text: string): string[][] {
    const out: string[][] = [];
    const add = (segments: string[]) => {
        for (let i = 1; i <= segments.length; i++) out.push(segments.slice(0, i));
    };
    for (const m of text.matchAll(/\.Values((?:\.[A-Za-z_][A-Za-z0-9_-]*)+)/g)) add(m[1].slice(1).split("."));
    // `hasKey .Values.a "b"` and `index .Values.a "b"` read a.b.
    for (const m of text.matchAll(/(?:hasKey|index)\s+\$?\.Values((?:\.[A-Za-z_][A-Za-z0-9_-]*)*)\s+"([^"]+)"/g)) {
        add([...(m[1] ? m[1].slice(1).split(".") : []), m[2]]);
    }
    return out;
}

function gitReader(gitDirs: Record<string, string>) {
    return (repo: string) => {
        const gitDir = gitDirs[repo];
        if (!gitDir) throw new Error(`no git dir given for ${repo}: clone it (git clone --bare https://github.com/${repo}) and pass ${repo}=<dir>`);
        return (...args: string[]) => execFileSync("git", ["--git-dir", gitDir, ...args], { encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
    };
}

function chartDirKeys(git: ReturnType<ReturnType<typeof gitReader>>, src: ChartDir) {
    const commit = git("rev-parse", `${src.ref}^{commit}`).trim();
    const valuesPath = `${src.dir}/${src.valuesFile ?? "values.yaml"}`;
    const keys = yamlKeyPaths(YAML.parse(git("show", `${commit}:${valuesPath}`)));
    const templates = git("ls-tree", "-r", "--name-only", commit, `${src.dir}/templates/`)
        .split("\n")
        .filter((f) => f !== "");
    for (const t of templates) keys.push(...templateValuePaths(git("show", `${commit}:${t}`)));
    return { commit, valuesPath, keys };
}

export function generate(key: ChartKey, gitDirs: Record<string, string>): ChartKeyList {
    const pin = CHARTS[key];
    const src = CHART_SOURCES[key];
    const git = gitReader(gitDirs);
    const main = chartDirKeys(git(src.repo), src);
    if (src.chartYamlHasVersion) {
        const chartYaml = YAML.parse(git(src.repo)("show", `${main.commit}:${src.dir}/Chart.yaml`)) as { version: string };
        if (String(chartYaml.version) !== pin.version)
            throw new Error(`${src.repo}@${src.ref} ${src.dir}/Chart.yaml has version ${chartYaml.version}, pinned ${pin.version}`);
    }
    const sources = [{ prefix: "", repo: src.repo, ref: src.ref, commit: main.commit, values: main.valuesPath, templates: `${src.dir}/templates/` }];
    const all = new Set(main.keys.map(dotted));
    for (const [prefix, sub] of Object.entries(src.subcharts ?? {})) {
        const s = chartDirKeys(git(sub.repo), sub);
        sources.push({ prefix, repo: sub.repo, ref: sub.ref, commit: s.commit, values: s.valuesPath, templates: `${sub.dir}/templates/` });
        all.add(prefix);
        for (const k of s.keys) all.add(dotted([prefix, ...k]));
    }
    return { chart: pin.chart, version: pin.version, sources, keys: [...all].sort() };
}

if (require.main === module) {
    const gitDirs: Record<string, string> = {};
    for (const arg of process.argv.slice(2)) {
        const m = /^([\w.-]+\/[\w.-]+)=(.+)$/.exec(arg);
        if (!m) {
            console.error("usage: npm run chart-keys -- <owner/name>=<git dir> ... (one per repository in tools/chart-sources.ts)");
            process.exit(2);
        }
        gitDirs[m[1]] = m[2];
    }
    fs.mkdirSync(CHART_KEYS_DIR, { recursive: true });
    for (const key of Object.keys(CHARTS) as ChartKey[]) {
        const list = generate(key, gitDirs);
        fs.writeFileSync(keyListFile(CHARTS[key]), `${JSON.stringify(list, null, 1)}\n`);
        console.log(
            `${path.relative(process.cwd(), keyListFile(CHARTS[key]))}: ${list.keys.length} keys from ${list.sources.map((s) => `${s.repo}@${s.ref}`).join(", ")}`,
        );
    }
}
