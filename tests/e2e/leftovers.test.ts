/**
 * tools/e2e/leftovers.ts: what a destroyed stack left in the cluster, against a recorded state.
 */
import * as assert from "node:assert/strict";
import { boundVolumes, CLUSTER_SCOPED_KINDS, createdObjects, leftovers, type Kubectl } from "../../tools/e2e/leftovers";

describe("leftovers after pulumi destroy", () => {
    const state = {
        version: 3,
        deployment: {
            resources: [
                { type: "pulumi:pulumi:Stack", custom: false },
                { type: "pulumi:providers:kubernetes", custom: true, outputs: { context: "kind-cli-platform" } },
                {
                    type: "kubernetes:core/v1:Namespace",
                    custom: true,
                    outputs: { apiVersion: "v1", kind: "Namespace", metadata: { name: "cli-platform" } },
                },
                {
                    type: "kubernetes:apps/v1:Deployment",
                    custom: true,
                    outputs: { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "cli-api", namespace: "cli-platform" } },
                },
                {
                    type: "kubernetes:monitoring.coreos.com/v1:ServiceMonitor",
                    custom: true,
                    outputs: { apiVersion: "monitoring.coreos.com/v1", kind: "ServiceMonitor", metadata: { name: "cli-api", namespace: "monitoring" } },
                },
                {
                    type: "kubernetes:helm.sh/v3:Release",
                    custom: true,
                    outputs: { name: "kube-prometheus-stack", namespace: "monitoring", status: { name: "kube-prometheus-stack", namespace: "monitoring" } },
                },
                {
                    type: "kubernetes:helm.sh/v3:Release",
                    custom: true,
                    outputs: { name: "ingress-nginx", namespace: "ingress-nginx", status: { name: "ingress-nginx", namespace: "ingress-nginx" } },
                },
                {
                    type: "kubernetes:helm.sh/v3:Release",
                    custom: true,
                    outputs: { name: "metrics", status: { name: "metrics", namespace: "kube-system" } },
                },
                { type: "random:index/randomPassword:RandomPassword", custom: true, outputs: { result: "[secret]" } },
            ],
        },
    };

    it("lists the stack's Kubernetes objects, Helm releases and namespaces from the exported state", () => {
        const created = createdObjects(state);
        assert.deepEqual(created.objects, [
            { apiVersion: "v1", kind: "Namespace", name: "cli-platform" },
            { apiVersion: "apps/v1", kind: "Deployment", name: "cli-api", namespace: "cli-platform" },
            { apiVersion: "monitoring.coreos.com/v1", kind: "ServiceMonitor", name: "cli-api", namespace: "monitoring" },
        ]);
        assert.deepEqual(created.releases, [
            { name: "kube-prometheus-stack", namespace: "monitoring" },
            { name: "ingress-nginx", namespace: "ingress-nginx" },
            { name: "metrics", namespace: "kube-system" },
        ]);
        assert.deepEqual(created.namespaces, ["cli-platform", "ingress-nginx", "kube-system", "monitoring"]);
        assert.throws(() => createdObjects({ version: 3 }), /not a `pulumi stack export` document/);
    });

    it("reports what the cluster still has: objects, release records, chart-made cluster objects and namespaces, bound volumes; a removed CRD counts as gone", () => {
        const created = createdObjects(state);
        const pvs = [
            { metadata: { name: "pvc-1" }, spec: { claimRef: { namespace: "monitoring", name: "prometheus-db" } } },
            { metadata: { name: "pvc-2" }, spec: { claimRef: { namespace: "other", name: "data" } } },
        ];
        /** A cluster holding `present` (plus kube-system, and a volume of another namespace). */
        const cluster =
            (present: Set<string>): Kubectl =>
            (args, stdin) => {
                const found = (key: string, line: string) => ({ status: 0, stdout: present.has(key) ? `${line}\n` : "", stderr: "" });
                if (args[1] === "-f") {
                    const o = JSON.parse(stdin!) as { kind: string; metadata: { name: string; namespace?: string } };
                    if (o.kind === "ServiceMonitor")
                        return {
                            status: 1,
                            stdout: "",
                            stderr: 'error: resource mapping not found for name: "cli-api": no matches for kind "ServiceMonitor" in version "monitoring.coreos.com/v1"',
                        };
                    return found(`${o.kind} ${o.metadata.namespace ?? ""}/${o.metadata.name}`, `${o.kind.toLowerCase()}/${o.metadata.name}`);
                }
                if (args[1] === "secrets") return found(`release ${args[3]} ${args[5]}`, "secret/sh.helm.release.v1.x.v1");
                if (args[1] === "namespace") return found(`Namespace /${args[2]}`, `namespace/${args[2]}`);
                if (args[1] === "pv") return { status: 0, stdout: JSON.stringify({ items: present.has("pv") ? pvs : [pvs[1]] }), stderr: "" };
                assert.equal(args[1], CLUSTER_SCOPED_KINDS);
                return found(`cluster-scoped ${args[3]}`, "clusterrole.rbac.authorization.k8s.io/kube-prometheus-stack-operator");
            };
        const everything = new Set([
            "Namespace /cli-platform",
            "Deployment cli-platform/cli-api",
            "release monitoring owner=helm,name=kube-prometheus-stack",
            "cluster-scoped app.kubernetes.io/instance=kube-prometheus-stack",
            "Namespace /ingress-nginx",
            "pv",
        ]);
        assert.deepEqual(leftovers(created, cluster(everything)), [
            "Namespace cli-platform",
            "Deployment cli-platform/cli-api",
            "Helm release monitoring/kube-prometheus-stack",
            "clusterrole.rbac.authorization.k8s.io/kube-prometheus-stack-operator (Helm release kube-prometheus-stack)",
            "Namespace ingress-nginx (Helm release namespace: ingress-nginx)",
            "PersistentVolume pvc-1 (claim monitoring/prometheus-db)",
        ]);
        assert.deepEqual(leftovers(created, cluster(new Set())), []);
        const broken: Kubectl = () => ({ status: 1, stdout: "", stderr: "error: You must be logged in to the server (Unauthorized)" });
        assert.throws(
            () => leftovers(created, broken),
            /^Error: kubectl get Namespace cli-platform: error: You must be logged in to the server \(Unauthorized\)$/,
        );
        assert.deepEqual(boundVolumes({ items: [] }, ["cli-platform"]), []);
    });
});
