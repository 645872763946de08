/** components/aws/security-group.ts: the cluster-only security group of the managed data services. */
import * as assert from "node:assert/strict";
import { byType, one, render } from "../harness";

describe("clusterOnlySecurityGroup (RDS, ElastiCache)", () => {
    for (const stack of ["staging", "prod"] as const)
        it(`${stack}: security groups admit 5432 and 6379 only from the cluster's security group`, async () => {
            const r = await render(stack);
            const sources = new Set<string>();
            for (const [name, port] of [
                ["postgres-sg", 5432],
                ["redis-sg", 6379],
            ] as const) {
                const sg = one(r, "aws:ec2/securityGroup:SecurityGroup", name).inputs;
                const ingress = sg.ingress as { fromPort: number; toPort: number; securityGroups?: string[]; cidrBlocks?: string[] }[];
                assert.equal(ingress.length, 1);
                assert.deepEqual([ingress[0].fromPort, ingress[0].toPort], [port, port]);
                assert.equal(ingress[0].cidrBlocks, undefined);
                assert.match(ingress[0].securityGroups![0], /^sg-[0-9a-f]{17}$/);
                assert.deepEqual(sg.egress, []);
                sources.add(ingress[0].securityGroups![0]);
            }
            // One source for both: the EKS-managed cluster security group, not a group this program made.
            assert.equal(sources.size, 1);
            const own = byType(r, "aws:ec2/securityGroup:SecurityGroup").map((g) => g.id);
            assert.ok(![...sources].some((s) => own.includes(s)));
        });
});
