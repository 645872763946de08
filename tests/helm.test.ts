import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import { CHARTS } from "../components/versions";
import { CHART_SOURCES, type ChartKey, keyListFile, readKeyList, unknownValuePaths } from "../tools/chart-sources";
import { templateValuePaths, yamlKeyPaths } from "../tools/chart-keys";
import { byType, patchSection, render, renderWith, STACKS, type StackRender } from "./harness";

const RELEASE = "kubernetes:helm.sh/v3:Release";
const chartKeys = Object.keys(CHARTS) as ChartKey[];

/** The pinned chart a recorded release installs (fails on a chart or version not pinned in CHARTS). */
function pinOf(release: StackRender["resources"][number]): ChartKey {
    const found = chartKeys.find((k) => CHARTS[k].chart === release.inputs.chart && CHARTS[k].version === release.inputs.version);
    assert.ok(found, `release ${release.name} installs ${String(release.inputs.chart)}@${String(release.inputs.version)}, which is not pinned in CHARTS`);
    return found;
}

/** Every stack, plus variants that switch on what the stack files leave off (traffic on local, DNS on dev). */
async function renders(): Promise<{ label: string; r: StackRender }[]> {
    const out: { label: string; r: StackRender }[] = [];
    for (const stack of STACKS) out.push({ label: stack, r: await render(stack) });
    out.push({
        label: "local+traffic",
        r: await renderWith("local", patchSection("local", "cli-platform:traffic", { enabled: true, apiHost: "cli.localtest.me" })),
    });
    out.push({ label: "dev+dns", r: await renderWith("dev", { "cli-platform:dns": { hostedZoneId: "Z0DEVZONE0000000000" } }) });
    return out;
}

describe("Helm values are checked against each pinned chart's own keys", () => {
    it("every pinned chart has a committed key list for exactly its version, with the source commit it was generated from", () => {
        for (const key of chartKeys) {
            assert.ok(fs.existsSync(keyListFile(CHARTS[key])), `${key}: no key list ${keyListFile(CHARTS[key])}; run npm run chart-keys`);
            const list = readKeyList(CHARTS[key]);
            assert.deepEqual([list.chart, list.version], [CHARTS[key].chart, CHARTS[key].version], key);
            assert.equal(list.sources[0].repo, CHART_SOURCES[key].repo);
            assert.equal(list.sources[0].ref, CHART_SOURCES[key].ref);
            for (const s of list.sources) assert.match(s.commit, /^[0-9a-f]{40}$/, `${key} ${s.repo}`);
            assert.ok(list.keys.length > 20, `${key}: only ${list.keys.length} keys`);
        }
    });

    it("every declared free-form map is a key of its chart (so it cannot whitelist a key the chart lacks)", () => {
        for (const key of chartKeys) {
            const keys = new Set(readKeyList(CHARTS[key]).keys);
            for (const f of CHART_SOURCES[key].freeForm)
                assert.ok(keys.has(f), `${key}: free-form "${f}" is not a key of ${CHARTS[key].chart}@${CHARTS[key].version}`);
        }
    });

    it("every values key path every release sets, in every stack, exists in its chart version (or lies in a declared free-form map)", async () => {
        const problems: string[] = [];
        const seen = new Set<ChartKey>();
        for (const { label, r } of await renders()) {
            for (const release of byType(r, RELEASE)) {
                const key = pinOf(release);
                seen.add(key);
                const keys = new Set(readKeyList(CHARTS[key]).keys);
                for (const p of unknownValuePaths(release.inputs.values, keys, CHART_SOURCES[key].freeForm)) {
                    problems.push(`${label} ${release.name} (${CHARTS[key].chart}@${CHARTS[key].version}): ${p}`);
                }
            }
        }
        assert.deepEqual(problems, []);
        // Every pinned chart was exercised by some render: none escapes the check.
        assert.deepEqual([...seen].sort(), [...chartKeys].sort());
    });

    it("reports a key the chart does not have, as the ingress-nginx PDB keys would have been", () => {
        const certManager = new Set(readKeyList(CHARTS.certManager).keys);
        const free = CHART_SOURCES.certManager.freeForm;
        assert.deepEqual(
            unknownValuePaths(
                {
                    replicaCount: 2,
                    // commented out in values.yaml, read by templates/poddisruptionbudget.yaml: a key
                    podDisruptionBudget: { enabled: true, minAvailable: 1 },
                    webhook: { podDisruptionBudget: { enabeld: true }, replicas: 2 },
                    resources: { requests: { cpu: "10m" } },
                    controller: { podDisruptionBudget: { enabled: true } },
                },
                certManager,
                free,
            ),
            ["webhook.podDisruptionBudget.enabeld", "webhook.replicas", "controller.podDisruptionBudget.enabled"],
        );
        const gateway = new Set(readKeyList(CHARTS.envoyGateway).keys);
        assert.deepEqual(
            unknownValuePaths({ deployment: { replicas: 2, replicaCount: 2 }, crds: { gatewayAPI: { safeUpgradePolicy: { enabled: true } } } }, gateway, []),
            ["deployment.replicaCount"],
        );
    });

    it("key lists take values.yaml's mappings (arrays are leaves) and the .Values paths templates read", () => {
        assert.deepEqual(yamlKeyPaths({ a: { b: 1, c: [{ d: 1 }] }, e: {} }), [["a"], ["a", "b"], ["a", "c"], ["e"]]);
        assert.deepEqual(templateValuePaths("{{- if .Values.pdb.minAvailable }}{{ $.Values.x }}"), [["pdb"], ["pdb", "minAvailable"], ["x"]]);
        assert.deepEqual(templateValuePaths('{{- if hasKey .Values.pdb "maxUnavailable" }}'), [["pdb"], ["pdb"], ["pdb", "maxUnavailable"]]);
    });
});
