/**
 * Defaults live in one place (config/defaults.ts): a stack file holds only what differs from its
 * environment's defaults. (That every leaf of a stack's config does something is
 * tests/stacks-config-leaves.test.ts.)
 */
import * as assert from "node:assert/strict";
import { isDeepStrictEqual } from "node:util";
import { DEFAULTS, type Environment, NODE_GROUP_DEFAULTS } from "../../config";
import { stackFile, STACKS } from "../harness";

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** Stack-file values equal to the environment's default, as "section.key" paths. */
export function restatedDefaults(file: Obj, environment: Environment): string[] {
    const defaults = DEFAULTS[environment] as Obj;
    const out: string[] = [];
    const walk = (value: unknown, base: unknown, path: string) => {
        if (isObj(value) && isObj(base)) {
            for (const [k, v] of Object.entries(value)) walk(v, base[k], `${path}.${k}`);
        } else if (isDeepStrictEqual(value, base)) out.push(path);
    };
    for (const [fullKey, value] of Object.entries(file)) {
        if (!fullKey.startsWith("cli-platform:")) continue;
        const key = fullKey.slice("cli-platform:".length);
        if (key === "cluster" && isObj(value) && Array.isArray(value.nodeGroups)) {
            // Node groups replace the default list as a whole; each group's fields are completed from NODE_GROUP_DEFAULTS.
            const complete = (groups: unknown) => (groups as Obj[] | undefined)?.map((g) => ({ ...NODE_GROUP_DEFAULTS, ...g }));
            if (isDeepStrictEqual(complete(value.nodeGroups), complete((defaults.cluster as Obj | undefined)?.nodeGroups))) out.push("cluster.nodeGroups");
            (value.nodeGroups as Obj[]).forEach((g, i) => {
                for (const [k, v] of Object.entries(g)) {
                    if (isDeepStrictEqual(v, (NODE_GROUP_DEFAULTS as Obj)[k])) out.push(`cluster.nodeGroups[${i}].${k}`);
                }
            });
            const { nodeGroups: _groups, ...rest } = value;
            walk(rest, defaults.cluster, key);
            continue;
        }
        walk(value, defaults[key], key);
    }
    return out;
}

describe("config: defaults in one place", () => {
    for (const stack of STACKS) {
        it(`Pulumi.${stack}.yaml restates no default of its environment`, () => {
            assert.deepEqual(restatedDefaults(stackFile(stack), stack), []);
        });
    }

    it("the check finds a restated default, nested or in a node group", () => {
        const file = {
            "cli-platform:environment": "dev",
            "cli-platform:protectStatefulResources": false,
            "cli-platform:network": { cidr: "10.10.0.0/16", azCount: 2 },
            "cli-platform:service": { api: { maxReplicas: 3, minReplicas: 2 } },
            "cli-platform:cluster": { nodeGroups: [{ name: "big", instanceTypes: ["m6i.large"], minSize: 1, desiredSize: 1, maxSize: 2, diskSizeGiB: 50 }] },
        };
        assert.deepEqual(restatedDefaults(file, "dev"), [
            "protectStatefulResources",
            "network.azCount",
            "service.api.maxReplicas",
            "cluster.nodeGroups[0].diskSizeGiB",
        ]);
    });
});
