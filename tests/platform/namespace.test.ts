/** components/platform/namespace.ts: the platform's namespace. */
import * as assert from "node:assert/strict";
import { podSecurityLabels } from "../../components/platform/namespace";
import { meta, named, render, STACKS } from "../harness";

describe("PlatformNamespace", () => {
    for (const stack of STACKS)
        it(`${stack}: the namespace enforces Pod Security restricted and denies all traffic by default`, async () => {
            const r = await render(stack);
            const ns = named(r, "kubernetes:core/v1:Namespace", "cli-platform");
            assert.equal(meta(ns).labels!["pod-security.kubernetes.io/enforce"], "restricted");
            assert.deepEqual(named(r, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "default-deny").inputs.spec, {
                podSelector: {},
                policyTypes: ["Ingress", "Egress"],
            });
        });

    it("Pod Security labels: enforce, audit and warn at one level, enforce pinned to latest", () => {
        assert.deepEqual(podSecurityLabels("baseline"), {
            "pod-security.kubernetes.io/enforce": "baseline",
            "pod-security.kubernetes.io/enforce-version": "latest",
            "pod-security.kubernetes.io/audit": "baseline",
            "pod-security.kubernetes.io/warn": "baseline",
        });
    });
});
