import * as assert from "node:assert/strict";
import { CHARTS } from "../../components/versions";
import { byType, meta, named, type Obj, one, render } from "../harness";

describe("IngressControllers", () => {
    it("prod: ingress-nginx behind an NLB, cert-manager with CRDs, the letsencrypt-prod issuer, TLS with ssl-redirect", async () => {
        const r = await render("prod");
        const nginx = one(r, "kubernetes:helm.sh/v3:Release", "ingress-nginx");
        assert.equal(nginx.inputs.version, CHARTS.ingressNginx.version);
        const svc = ((nginx.inputs.values as Obj).controller as Obj).service as { type: string; annotations: Record<string, string> };
        assert.equal(svc.type, "LoadBalancer");
        assert.equal(svc.annotations["service.beta.kubernetes.io/aws-load-balancer-type"], "nlb");
        const cm = one(r, "kubernetes:helm.sh/v3:Release", "ingress-cert-manager");
        assert.equal(cm.inputs.version, CHARTS.certManager.version);
        assert.deepEqual((cm.inputs.values as Obj).crds, { enabled: true, keep: true });
        const issuer = one(r, "kubernetes:cert-manager.io/v1:ClusterIssuer");
        assert.equal(meta(issuer).name, "letsencrypt-prod");
        assert.equal(((issuer.inputs.spec as Obj).acme as Obj).email, "platform-team@example.com");
        assert.ok(issuer.dependsOn.includes(cm.urn));

        const ing = named(r, "kubernetes:networking.k8s.io/v1:Ingress", "cli-api");
        assert.deepEqual(meta(ing).annotations, {
            "nginx.ingress.kubernetes.io/ssl-redirect": "true",
            "nginx.ingress.kubernetes.io/proxy-body-size": "64k",
            "cert-manager.io/cluster-issuer": "letsencrypt-prod",
        });
        const spec = ing.inputs.spec as { tls: Obj[]; rules: { host: string }[]; ingressClassName: string };
        assert.deepEqual(spec.tls, [{ hosts: ["cli.example.com"], secretName: "cli-api-tls" }]);
        assert.equal(spec.rules[0].host, "cli.example.com");
        assert.equal(spec.ingressClassName, "nginx");
        assert.equal(r.outputs.apiUrl, "https://cli.example.com");
    });

    it("dev: plain HTTP ingress, no cert-manager; local: no ingress, a port-forward URL", async () => {
        const dev = await render("dev");
        assert.equal(byType(dev, "kubernetes:cert-manager.io/v1:ClusterIssuer").length, 0);
        assert.equal(meta(named(dev, "kubernetes:networking.k8s.io/v1:Ingress", "cli-api")).annotations!["nginx.ingress.kubernetes.io/ssl-redirect"], "false");
        assert.equal(dev.outputs.apiUrl, "http://cli.dev.example.com");
        const local = await render("local");
        assert.equal(byType(local, "kubernetes:networking.k8s.io/v1:Ingress").length, 0);
        assert.match(String(local.outputs.apiUrl), /^http:\/\/localhost:8000 \(kubectl -n cli-platform port-forward svc\/cli-api 8000:80\)$/);
    });
});
