import { Release, type ReleaseArgs } from "@pulumi/kubernetes/helm/v3/release";
import type * as pulumi from "@pulumi/pulumi";

import type { CHARTS } from "./versions";

export type ChartPin = (typeof CHARTS)[keyof typeof CHARTS];

/**
 * A pinned third-party chart as one `helm.v3.Release` (a plain resource, so its values are visible
 * to previews and tests). Chart, version and repository come only from `CHARTS` in versions.ts; an
 * OCI chart has no repository (its `chart` is the `oci://` reference).
 */
export function chartRelease(
    name: string,
    pin: ChartPin,
    args: Omit<ReleaseArgs, "chart" | "version" | "repositoryOpts">,
    opts: pulumi.CustomResourceOptions,
): Release {
    return new Release(name, { ...args, chart: pin.chart, version: pin.version, ...("repo" in pin ? { repositoryOpts: { repo: pin.repo } } : {}) }, opts);
}
