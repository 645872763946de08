import * as assert from "node:assert/strict";
import { CertManager } from "../../components/traffic";
import { byType, meta, type Obj, one, patchSection, render, renderWith } from "../harness";

const RELEASE = "kubernetes:helm.sh/v3:Release";

describe("CertManager", () => {
    it("prod: cert-manager v1.21.1 with CRDs kept, Gateway API on, controller, webhook and cainjector at 2 replicas with PDBs", async () => {
        const r = await render("prod");
        const cm = one(r, RELEASE, "traffic-cert-manager-chart");
        assert.deepEqual(
            [cm.inputs.chart, cm.inputs.version, cm.inputs.repositoryOpts, cm.inputs.namespace],
            ["cert-manager", "v1.21.1", { repo: "https://charts.jetstack.io" }, "cert-manager"],
        );
        const ha = { replicaCount: 2, podDisruptionBudget: { enabled: true, minAvailable: 1 } };
        assert.deepEqual(cm.inputs.values, {
            crds: { enabled: true, keep: true },
            ...ha,
            config: { apiVersion: "controller.config.cert-manager.io/v1alpha1", kind: "ControllerConfiguration", gatewayAPI: { enabled: true } },
            webhook: ha,
            cainjector: ha,
        });
        // gateway-shim starts only with the Gateway API CRDs present: they come with the Envoy Gateway chart.
        assert.ok(cm.dependsOn.includes(one(r, RELEASE, "traffic-gateway-controller").urn));
    });

    it("dev: one replica each, no PDB", async () => {
        const values = one(await render("dev"), RELEASE, "traffic-cert-manager-chart").inputs.values as Obj;
        const single = { replicaCount: 1, podDisruptionBudget: { enabled: false, minAvailable: 1 } };
        assert.deepEqual([values.replicaCount, values.podDisruptionBudget, values.webhook, values.cainjector], [1, single.podDisruptionBudget, single, single]);
    });

    it("the letsencrypt-prod ClusterIssuer answers HTTP-01 through an HTTPRoute on the Gateway's HTTP listener", async () => {
        const r = await render("prod");
        const issuer = one(r, "kubernetes:cert-manager.io/v1:ClusterIssuer");
        assert.equal(meta(issuer).name, "letsencrypt-prod");
        assert.deepEqual(issuer.inputs.spec, {
            acme: {
                server: "https://acme-v02.api.letsencrypt.org/directory",
                email: "platform-team@example.com",
                privateKeySecretRef: { name: "letsencrypt-prod-account-key" },
                solvers: [
                    {
                        http01: {
                            gatewayHTTPRoute: {
                                parentRefs: [
                                    {
                                        group: "gateway.networking.k8s.io",
                                        kind: "Gateway",
                                        name: "platform",
                                        namespace: "envoy-gateway-system",
                                        sectionName: "http",
                                    },
                                ],
                            },
                        },
                    },
                ],
            },
        });
        assert.ok(issuer.dependsOn.includes(one(r, RELEASE, "traffic-cert-manager-chart").urn));
    });

    it("an existing stack keeps its cert-manager release and issuer from the ingress-nginx layout (aliases to their old URNs)", async () => {
        const r = await render("prod");
        const old = "urn:pulumi:prod::cli-platform::cli-platform:ingress:IngressControllers$";
        assert.deepEqual(one(r, RELEASE, "traffic-cert-manager-chart").aliases, [`${old}kubernetes:helm.sh/v3:Release::ingress-cert-manager`]);
        assert.deepEqual(one(r, "kubernetes:cert-manager.io/v1:ClusterIssuer").aliases, [`${old}kubernetes:cert-manager.io/v1:ClusterIssuer::ingress-issuer`]);
    });

    it("is absent where TLS is off (local with the traffic layer on)", async () => {
        const r = await renderWith("local", patchSection("local", "cli-platform:traffic", { enabled: true, apiHost: "cli.localtest.me" }));
        assert.deepEqual(byType(r, "cli-platform:traffic:CertManager"), []);
        assert.deepEqual(byType(r, "kubernetes:cert-manager.io/v1:ClusterIssuer"), []);
    });

    it("refuses a malformed e-mail and zero replicas", () => {
        const base = {
            acmeEmail: "ops@example.com",
            replicas: 1,
            solverParent: { gatewayName: "g", gatewayNamespace: "n", sectionName: "http" },
        };
        assert.throws(() => new CertManager("c", { ...base, acmeEmail: "ops" }), /^Error: CertManager c: acmeEmail "ops" is not an e-mail address$/);
        assert.throws(() => new CertManager("c", { ...base, replicas: 0 }), /^Error: CertManager c: replicas must be >= 1, got 0$/);
    });
});
