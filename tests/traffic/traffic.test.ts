/** components/traffic/traffic.ts: which parts of the traffic layer each kind of stack gets. */
import * as assert from "node:assert/strict";
import { patchSection, render, renderWith, type StackRender } from "../harness";

/** The components the Traffic component owns, as `type::name`; undefined when the stack has no traffic layer. */
function parts(r: StackRender): string[] | undefined {
    const traffic = r.resources.filter((x) => x.type === "cli-platform:traffic:Traffic");
    if (traffic.length === 0) return undefined;
    assert.equal(traffic.length, 1);
    return r.resources
        .filter((x) => x.parent === traffic[0].urn)
        .map((x) => `${x.type}::${x.name}`)
        .sort();
}

describe("Traffic", () => {
    it("prod (EKS, TLS, a hosted zone): load balancer controller, Envoy Gateway, cert-manager and external-dns", async () => {
        assert.deepEqual(parts(await render("prod")), [
            "cli-platform:traffic:AwsLoadBalancerController::traffic-lbc",
            "cli-platform:traffic:CertManager::traffic-cert-manager",
            "cli-platform:traffic:EnvoyGateway::traffic-gateway",
            "cli-platform:traffic:ExternalDns::traffic-external-dns",
        ]);
    });

    for (const stack of ["dev", "staging"] as const)
        it(`${stack} (EKS, TLS, no hosted zone): no external-dns`, async () => {
            assert.deepEqual(parts(await render(stack)), [
                "cli-platform:traffic:AwsLoadBalancerController::traffic-lbc",
                "cli-platform:traffic:CertManager::traffic-cert-manager",
                "cli-platform:traffic:EnvoyGateway::traffic-gateway",
            ]);
        });

    it("local: no traffic layer by default; switched on, Envoy Gateway alone (no AWS, no TLS)", async () => {
        assert.equal(parts(await render("local")), undefined);
        const on = await renderWith("local", patchSection("local", "cli-platform:traffic", { enabled: true, apiHost: "cli.localtest.me" }));
        assert.deepEqual(parts(on), ["cli-platform:traffic:EnvoyGateway::traffic-gateway"]);
    });
});
