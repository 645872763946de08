import * as assert from "node:assert/strict";
import { GatewayRoute, limitedRouteName, rateLimitPolicySpec } from "../../components/traffic";
import { byType, meta, type Obj, patchSection, render, renderWith } from "../harness";

const ROUTE = "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute";
const BTP = "kubernetes:gateway.envoyproxy.io/v1alpha1:BackendTrafficPolicy";
const parent = (sectionName: string) => ({
    group: "gateway.networking.k8s.io",
    kind: "Gateway",
    name: "platform",
    namespace: "envoy-gateway-system",
    sectionName,
});
const backend = { group: "", kind: "Service", name: "cli-api", port: 80 };
/** HTTPS answers carry HSTS (as ingress-nginx's `hsts` did). */
const hsts = { type: "ResponseHeaderModifier", responseHeaderModifier: { set: [{ name: "Strict-Transport-Security", value: "max-age=31536000" }] } };

describe("GatewayRoute (api) and the POST /evolve rate limit", () => {
    for (const [stack, host, limit] of [
        ["dev", "cli.dev.example.com", 30],
        ["prod", "cli.example.com", 60],
    ] as const) {
        it(`${stack}: every path of ${host} goes to cli-api; POST /evolve alone is limited to ${limit}/min per client IP`, async () => {
            const r = await render(stack);
            const routes = byType(r, ROUTE).filter((x) => meta(x).namespace === "cli-platform");
            assert.deepEqual(
                routes.map((x) => meta(x).name),
                ["cli-api", "cli-api-post-evolve"],
            );
            assert.deepEqual(routes[0].inputs.spec, {
                parentRefs: [parent("https-api")],
                hostnames: [host],
                rules: [{ matches: [{ path: { type: "PathPrefix", value: "/" } }], filters: [hsts], backendRefs: [backend] }],
            });
            // Exact path + method outranks the prefix route for this request only (Gateway API route precedence).
            assert.deepEqual(routes[1].inputs.spec, {
                parentRefs: [parent("https-api")],
                hostnames: [host],
                rules: [{ matches: [{ path: { type: "Exact", value: "/evolve" }, method: "POST" }], filters: [hsts], backendRefs: [backend] }],
            });
            const policies = byType(r, BTP);
            assert.equal(policies.length, 1, "one traffic policy, on the /evolve route only");
            assert.deepEqual(meta(policies[0]).namespace, "cli-platform");
            assert.deepEqual(policies[0].inputs.spec, {
                targetRefs: [{ group: "gateway.networking.k8s.io", kind: "HTTPRoute", name: "cli-api-post-evolve" }],
                rateLimit: {
                    local: {
                        rules: [
                            { clientSelectors: [{ sourceCIDR: { type: "Distinct", value: "0.0.0.0/0" } }], limit: { requests: limit, unit: "Minute" } },
                            { clientSelectors: [{ sourceCIDR: { type: "Distinct", value: "::/0" } }], limit: { requests: limit, unit: "Minute" } },
                        ],
                    },
                },
            });
            assert.ok(policies[0].dependsOn.includes(routes[1].urn));
        });
    }

    it("follows traffic.evolveRateLimitPerMinute; 0 removes the limit and its route", async () => {
        const r = await renderWith("prod", patchSection("prod", "cli-platform:traffic", { evolveRateLimitPerMinute: 5 }));
        const rules = ((byType(r, BTP)[0].inputs.spec as Obj).rateLimit as { local: { rules: { limit: Obj }[] } }).local.rules;
        assert.deepEqual(
            rules.map((x) => x.limit),
            [
                { requests: 5, unit: "Minute" },
                { requests: 5, unit: "Minute" },
            ],
        );
        const off = await renderWith("dev", patchSection("dev", "cli-platform:traffic", { evolveRateLimitPerMinute: 0 }));
        assert.deepEqual(byType(off, BTP), []);
        assert.deepEqual(
            byType(off, ROUTE)
                .filter((x) => meta(x).namespace === "cli-platform")
                .map((x) => meta(x).name),
            ["cli-api"],
        );
    });

    it("local (traffic off by default): no routes, no policies, the api is reached by port-forward", async () => {
        const r = await render("local");
        assert.deepEqual([byType(r, ROUTE), byType(r, BTP)], [[], []]);
    });

    it("refuses a limit that could not work", () => {
        const args = {
            namespace: "ns",
            host: "a.example.com",
            service: { name: "svc", port: 80 },
            gateway: { name: "gw", namespace: "gwns", sectionName: "http" },
        };
        assert.throws(
            () => new GatewayRoute("r", { ...args, rateLimits: [{ method: "POST", path: "/evolve?x=1", requestsPerMinute: 5 }] }),
            /^Error: GatewayRoute r: rate limit path "\/evolve\?x=1" must be an absolute path without query$/,
        );
        assert.throws(
            () => new GatewayRoute("r", { ...args, rateLimits: [{ method: "POST", path: "/evolve", requestsPerMinute: 0 }] }),
            /^Error: GatewayRoute r: requestsPerMinute for POST \/evolve must be an integer >= 1, got 0$/,
        );
    });

    it("pure helpers", () => {
        assert.equal(limitedRouteName("cli-api", { method: "POST", path: "/evolve", requestsPerMinute: 1 }), "cli-api-post-evolve");
        assert.equal(limitedRouteName("cli-api", { method: "GET", path: "/commands/run", requestsPerMinute: 1 }), "cli-api-get-commands-run");
        assert.deepEqual((rateLimitPolicySpec("x", 7).targetRefs as Obj[])[0], { group: "gateway.networking.k8s.io", kind: "HTTPRoute", name: "x" });
    });
});
