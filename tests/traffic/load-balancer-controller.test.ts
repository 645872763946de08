import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import { LBC_POLICY_FILE } from "../../components/traffic";
import { byType, json, one, patchSection, render, renderWith } from "../harness";

const RELEASE = "kubernetes:helm.sh/v3:Release";

describe("AwsLoadBalancerController", () => {
    for (const stack of ["dev", "prod"] as const) {
        it(`${stack}: the pinned chart in kube-system, told its cluster, region and VPC, with IRSA; the Envoy Gateway chart waits for it`, async () => {
            const r = await render(stack);
            const release = one(r, RELEASE, "traffic-lbc-chart");
            assert.deepEqual(
                [release.inputs.chart, release.inputs.version, release.inputs.repositoryOpts, release.inputs.namespace],
                ["aws-load-balancer-controller", "1.17.1", { repo: "https://aws.github.io/eks-charts" }, "kube-system"],
            );
            const v = release.inputs.values as Record<string, unknown> & { serviceAccount: { name: string; annotations: Record<string, string> } };
            assert.deepEqual(
                [v.clusterName, v.region, v.createIngressClassResource, v.replicaCount],
                [`cli-platform-${stack}`, "eu-west-1", false, stack === "prod" ? 2 : 1],
            );
            assert.match(String(v.vpcId), /^vpc-[0-9a-f]{17}$/);
            assert.equal(v.serviceAccount.name, "aws-load-balancer-controller");
            assert.match(v.serviceAccount.annotations["eks.amazonaws.com/role-arn"], /^arn:aws:iam::\d{12}:role\/traffic-lbc-irsa-role-/);
            assert.deepEqual(v.podDisruptionBudget, stack === "prod" ? { maxUnavailable: 1 } : undefined);
            assert.ok(one(r, RELEASE, "traffic-gateway-controller").dependsOn.includes(release.urn));
        });
    }

    it("its role carries the controller's upstream IAM policy, unchanged", async () => {
        const policy = json(one(await render("prod"), "aws:iam/rolePolicy:RolePolicy", "traffic-lbc-irsa-policy").inputs.policy);
        assert.deepEqual(policy, JSON.parse(fs.readFileSync(LBC_POLICY_FILE, "utf8")));
        assert.ok(JSON.stringify(policy).length < 10240, "fits an inline role policy");
    });

    it("is absent off AWS", async () => {
        const r = await renderWith("local", patchSection("local", "cli-platform:traffic", { enabled: true, apiHost: "cli.localtest.me" }));
        assert.deepEqual(byType(r, "cli-platform:traffic:AwsLoadBalancerController"), []);
    });
});
