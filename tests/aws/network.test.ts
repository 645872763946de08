import * as assert from "node:assert/strict";
import { logGroupWriterPolicy, type PolicyDocument } from "../../components/aws/iam";
import { subnetTags } from "../../components/aws/network";
import { byType, json, one, render, renderError, patchSection, stackFile } from "../harness";

const SUBNET = "aws:ec2/subnet:Subnet";
const tagged = (tier: string) => (r: { inputs: Record<string, unknown> }) => (r.inputs.tags as Record<string, string>).tier === tier;

describe("Network", () => {
    for (const [stack, azCount, nats] of [
        ["dev", 2, 1],
        ["staging", 3, 1],
        ["prod", 3, 3],
    ] as const) {
        it(`${stack}: public and private subnets in ${azCount} distinct AZs, ${nats} NAT gateway(s)`, async () => {
            const r = await render(stack);
            const subnets = byType(r, SUBNET);
            for (const tier of ["public", "private"]) {
                const zones = subnets.filter(tagged(tier)).map((s) => s.inputs.availabilityZone);
                assert.equal(zones.length, azCount);
                assert.equal(new Set(zones).size, azCount, `${tier} subnets share an AZ`);
                assert.ok(zones.every((z) => String(z).startsWith("eu-west-1")));
            }
            assert.equal(byType(r, "aws:ec2/natGateway:NatGateway").length, nats);
            assert.equal(byType(r, "aws:ec2/eip:Eip").length, nats);
        });
    }

    it("subnets carry the load-balancer and cluster tags", async () => {
        const r = await render("prod");
        for (const s of byType(r, SUBNET)) {
            const tags = s.inputs.tags as Record<string, string>;
            assert.equal(tags["kubernetes.io/cluster/cli-platform-prod"], "shared");
            assert.equal(tags[tags.tier === "public" ? "kubernetes.io/role/elb" : "kubernetes.io/role/internal-elb"], "1");
            assert.equal(s.inputs.mapPublicIpOnLaunch, false);
        }
        assert.deepEqual(subnetTags("private", "c"), { "kubernetes.io/role/internal-elb": "1", "kubernetes.io/cluster/c": "shared", tier: "private" });
    });

    it("uses the subnet CIDRs planned from the VPC CIDR", async () => {
        const r = await render("dev");
        assert.equal(one(r, "aws:ec2/vpc:Vpc").inputs.cidrBlock, "10.10.0.0/16");
        assert.deepEqual(
            byType(r, SUBNET)
                .filter(tagged("private"))
                .map((s) => s.inputs.cidrBlock),
            ["10.10.0.0/19", "10.10.32.0/19"],
        );
        assert.deepEqual(
            byType(r, SUBNET)
                .filter(tagged("public"))
                .map((s) => s.inputs.cidrBlock),
            ["10.10.192.0/21", "10.10.200.0/21"],
        );
    });

    it("private subnets route to the internet only through a NAT gateway; public ones through the IGW", async () => {
        const r = await render("prod");
        const tables = byType(r, "aws:ec2/routeTable:RouteTable");
        const routes = tables.map((t) => (t.inputs.routes as Record<string, string>[])[0]);
        assert.equal(routes.filter((x) => x.gatewayId?.startsWith("igw-")).length, 1);
        const natRoutes = routes.filter((x) => x.natGatewayId?.startsWith("nat-"));
        assert.equal(natRoutes.length, 3);
        assert.equal(new Set(natRoutes.map((x) => x.natGatewayId)).size, 3, "prod: each AZ routes through its own NAT");
        assert.equal(byType(r, "aws:ec2/routeTableAssociation:RouteTableAssociation").length, 6);
    });

    it("the default security group is emptied (CIS)", async () => {
        const sg = one(await render("dev"), "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup");
        assert.equal(sg.inputs.ingress, undefined);
        assert.equal(sg.inputs.egress, undefined);
    });

    it("flow logs exist in staging and prod (not dev), delivered by a role that can write only to their log group", async () => {
        assert.equal(byType(await render("dev"), "aws:ec2/flowLog:FlowLog").length, 0);
        assert.equal(one(await render("staging"), "aws:cloudwatch/logGroup:LogGroup", "network-flow-logs").inputs.retentionInDays, 14);
        const r = await render("prod");
        const flow = one(r, "aws:ec2/flowLog:FlowLog");
        assert.equal(flow.inputs.trafficType, "ALL");
        const group = one(r, "aws:cloudwatch/logGroup:LogGroup", "network-flow-logs");
        assert.equal(group.inputs.retentionInDays, 90);
        const policy = json<PolicyDocument>(one(r, "aws:iam/rolePolicy:RolePolicy", "network-flow-logs").inputs.policy);
        assert.ok(([] as string[]).concat(policy.Statement[0].Resource!).every((arn) => arn.includes(":log-group:network-flow-logs")));
        const trust = json<PolicyDocument>(one(r, "aws:iam/role:Role", "network-flow-logs").inputs.assumeRolePolicy);
        assert.equal(trust.Statement[0].Principal!.Service, "vpc-flow-logs.amazonaws.com");
        assert.deepEqual(logGroupWriterPolicy("arn:x").Statement[0], {
            Effect: "Allow",
            Action: ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            Resource: ["arn:x", "arn:x:log-stream:*"],
        });
    });

    it("more AZs than the region has fails before any resource is declared", async () => {
        const cluster = stackFile("prod")["cli-platform:cluster"];
        const err = await renderError("prod", { ...patchSection("prod", "cli-platform:network", { azCount: 4 }), "cli-platform:cluster": cluster });
        assert.equal(
            err.message,
            `cli-platform:network.azCount = 4: region "eu-west-1" has only 3 available AZs (eu-west-1a, eu-west-1b, eu-west-1c); allowed: 1..3`,
        );
        assert.deepEqual(
            err.resources.map((r) => r.type),
            ["pulumi:pulumi:Stack"],
        );
    });
});
