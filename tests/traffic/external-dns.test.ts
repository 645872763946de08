import * as assert from "node:assert/strict";
import type { PolicyDocument } from "../../components/aws/iam";
import { byType, json, one, render, renderWith } from "../harness";

const RELEASE = "kubernetes:helm.sh/v3:Release";

describe("ExternalDns", () => {
    it("prod: the pinned chart follows the Gateway's HTTPRoutes, owns its TXT records by cluster name, never deletes (upsert-only), one zone", async () => {
        const r = await render("prod");
        const release = one(r, RELEASE, "traffic-external-dns-chart");
        assert.deepEqual(
            [release.inputs.chart, release.inputs.version, release.inputs.repositoryOpts, release.inputs.namespace],
            ["external-dns", "1.21.1", { repo: "https://kubernetes-sigs.github.io/external-dns" }, "external-dns"],
        );
        const values = release.inputs.values as Record<string, unknown> & { serviceAccount: { annotations: Record<string, string> } };
        assert.match(values.serviceAccount.annotations["eks.amazonaws.com/role-arn"], /^arn:aws:iam::\d{12}:role\/traffic-external-dns-irsa-role-/);
        assert.deepEqual(values, {
            provider: { name: "aws" },
            sources: ["gateway-httproute"],
            gatewayNamespace: "envoy-gateway-system",
            policy: "upsert-only",
            registry: "txt",
            txtOwnerId: "cli-platform-prod",
            extraArgs: { "zone-id-filter": "Z0123456789EXAMPLE00", "aws-zone-type": "public" },
            env: [{ name: "AWS_DEFAULT_REGION", value: "eu-west-1" }],
            serviceAccount: { create: true, name: "external-dns", annotations: values.serviceAccount.annotations },
            resources: { requests: { cpu: "20m", memory: "64Mi" }, limits: { cpu: "200m", memory: "128Mi" } },
        });
    });

    it("its IRSA role changes records only in the configured zone", async () => {
        const policy = json<PolicyDocument>(one(await render("prod"), "aws:iam/rolePolicy:RolePolicy", "traffic-external-dns-irsa-policy").inputs.policy);
        assert.deepEqual(policy.Statement, [
            {
                Sid: "RecordsInOneZone",
                Effect: "Allow",
                Action: ["route53:ChangeResourceRecordSets", "route53:ListResourceRecordSets", "route53:ListTagsForResources"],
                Resource: ["arn:aws:route53:::hostedzone/Z0123456789EXAMPLE00"],
            },
            { Sid: "FindZones", Effect: "Allow", Action: ["route53:ListHostedZones"], Resource: "*" },
        ]);
    });

    it("dev: absent without dns.hostedZoneId (records by hand); with one, policy sync", async () => {
        assert.deepEqual(byType(await render("dev"), "cli-platform:traffic:ExternalDns"), []);
        const r = await renderWith("dev", { "cli-platform:dns": { hostedZoneId: "Z0DEVZONE0000000000" } });
        const values = one(r, RELEASE, "traffic-external-dns-chart").inputs.values as Record<string, unknown>;
        assert.deepEqual(
            [values.policy, values.txtOwnerId, values.extraArgs],
            ["sync", "cli-platform-dev", { "zone-id-filter": "Z0DEVZONE0000000000", "aws-zone-type": "public" }],
        );
    });
});
