import * as assert from "node:assert/strict";
import { cidrContains, cidrsOverlap, cidrSubnet, defaultSubnetPlan, formatCidr, parseCidr } from "../../lib/cidr";

describe("lib/cidr", () => {
    it("parses valid CIDRs and rejects malformed ones", () => {
        assert.deepEqual(parseCidr("10.0.0.0/16"), { base: 10 * 2 ** 24, prefix: 16 });
        for (const bad of ["10.0.0.0", "10.0.0.0/33", "10.0.0.256/24", "10.0.0.1/24", "a.b.c.d/8", "10.0.0.0/-1"]) assert.equal(parseCidr(bad), undefined, bad);
    });

    it("computes containment and overlap", () => {
        const vpc = parseCidr("10.0.0.0/16")!;
        assert.ok(cidrContains(vpc, parseCidr("10.0.255.0/24")!));
        assert.ok(!cidrContains(vpc, parseCidr("10.1.0.0/24")!));
        assert.ok(!cidrContains(parseCidr("10.0.0.0/24")!, vpc));
        assert.ok(cidrsOverlap(parseCidr("10.0.0.0/23")!, parseCidr("10.0.1.0/24")!));
        assert.ok(!cidrsOverlap(parseCidr("10.0.0.0/24")!, parseCidr("10.0.1.0/24")!));
    });

    it("subdivides like Terraform's cidrsubnet", () => {
        assert.equal(formatCidr(cidrSubnet(parseCidr("10.0.0.0/16")!, 8, 2)), "10.0.2.0/24");
        assert.equal(formatCidr(cidrSubnet(parseCidr("172.16.0.0/12")!, 4, 15)), "172.31.0.0/16");
        assert.throws(() => cidrSubnet(parseCidr("10.0.0.0/16")!, 3, 8), /index 8 does not fit in 3 bits/);
        assert.throws(() => cidrSubnet(parseCidr("10.0.0.0/30")!, 3, 0), /exceeds \/32/);
    });

    it("plans disjoint subnets inside the VPC for up to 6 AZs", () => {
        for (const cidr of ["10.0.0.0/16", "10.8.0.0/20"]) {
            const plan = defaultSubnetPlan(cidr, 6);
            const all = [...plan.public, ...plan.private].map((c) => parseCidr(c)!);
            assert.equal(all.length, 12);
            all.forEach((a, i) => {
                assert.ok(cidrContains(parseCidr(cidr)!, a));
                all.slice(i + 1).forEach((b) => assert.ok(!cidrsOverlap(a, b), `${formatCidr(a)} overlaps ${formatCidr(b)}`));
            });
        }
    });
});
