/**
 * The cost price table (tools/cost/prices.json) and its regeneration from AWS's offer files
 * (tools/cost/update-prices.ts): sources, retrieval date, regions of every stack, and which offer
 * rows the script keeps.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import * as YAML from "yaml";
import { loadPriceTable, validatePriceTable } from "../tools/cost/price-table";
import { ROOT } from "./harness";

const TABLE = loadPriceTable();
const REGION = "eu-west-1";

describe("cost: price table", () => {
    it("names a known source for every price, states its retrieval date, and uses 730 hours a month", () => {
        validatePriceTable(TABLE);
        assert.equal(TABLE.hoursPerMonth, 730);
        assert.match(TABLE.retrieved, /^\d{4}-\d{2}-\d{2}$/);
        for (const source of Object.values(TABLE.sources)) assert.ok(["aws-offer-file", "aws-doc", "secondary"].includes(source.kind));
    });

    it("has a section for the region of every stack that has one (a new stack in a new region fails here)", () => {
        const stacks = fs.readdirSync(ROOT).filter((f) => /^Pulumi\.[^.]+\.yaml$/.test(f));
        for (const file of stacks) {
            const region = (YAML.parse(fs.readFileSync(path.join(ROOT, file), "utf8")) as { config: Record<string, unknown> }).config["aws:region"];
            if (region !== undefined) assert.ok(TABLE.regions[region as string], `${file}: no prices for ${String(region)}`);
        }
        assert.ok(TABLE.regions["us-east-1"], "us-east-1 is in the table");
    });

    it("rejects an entry without a known source or with an unknown cross-check", () => {
        const broken = structuredClone(TABLE);
        broken.regions[REGION]["ec2:t3.large"] = { usd: 0.1, unit: "hour", source: "nowhere" };
        assert.throws(() => validatePriceTable(broken), /eu-west-1 ec2:t3\.large: unknown source "nowhere"/);
        const badCheck = structuredClone(TABLE);
        badCheck.regions[REGION]["nat:hour"] = { ...badCheck.regions[REGION]["nat:hour"], crossChecked: ["elsewhere"] };
        assert.throws(() => validatePriceTable(badCheck), /eu-west-1 nat:hour: unknown cross-check source "elsewhere"/);
    });
});

describe("cost: regenerating the table from AWS's offer files (update-prices.ts)", () => {
    // A synthetic offer file in the Price List CSV layout (metadata lines, header, rows); the prices
    // are made up for the test.
    const csv = [
        `"FormatVersion","v1.0"`,
        `"Disclaimer","This pricing list is for informational purposes only."`,
        `"Publication Date","2026-09-25T17:45:21Z"`,
        `"Version","20260925174521"`,
        `"OfferCode","AmazonEC2"`,
        `"SKU","OfferTermCode","RateCode","TermType","PriceDescription","EffectiveDate","StartingRange","EndingRange","Unit","PricePerUnit","Currency","Product Family","Instance Type","Operating System","Tenancy","Pre Installed S/W","CapacityStatus","Volume API Name","usageType"`,
        `"A1","JRTCKXETXF","A1.1","OnDemand","$0.5 per On Demand Linux t3.large Instance Hour","2026-09-01","0","Inf","Hrs","0.5000000000","USD","Compute Instance","t3.large","Linux","Shared","NA","Used","","EU-BoxUsage:t3.large"`,
        `"A2","JRTCKXETXF","A2.1","OnDemand","$0.9 per On Demand Windows t3.large Instance Hour","2026-09-01","0","Inf","Hrs","0.9000000000","USD","Compute Instance","t3.large","Windows","Shared","NA","Used","","EU-BoxUsage:t3.large"`,
        `"A3","4NA7Y494T4","A3.1","Reserved","Linux t3.large reserved","2026-09-01","0","Inf","Hrs","0.3000000000","USD","Compute Instance","t3.large","Linux","Shared","NA","Used","","EU-BoxUsage:t3.large"`,
        `"N1","JRTCKXETXF","N1.1","OnDemand","$0.7 per NAT Gateway Hour","2026-09-01","0","Inf","Hrs","0.7000000000","USD","NAT Gateway","","","","","","","EU-NatGateway-Hours"`,
        `"N2","JRTCKXETXF","N2.1","OnDemand","$0.8 per Regional NAT Gateway Hour","2026-09-01","0","Inf","Hrs","0.8000000000","USD","NAT Gateway","","","","","","","EU-RegionalNatGateway-Hours"`,
        `"V1","JRTCKXETXF","V1.1","OnDemand","$0.2 per GB-month of gp3, ""General Purpose""","2026-09-01","0","Inf","GB-Mo","0.2000000000","USD","Storage","","","","","","gp3","EU-EBS:VolumeUsage.gp3"`,
    ];

    it("keeps exactly the on-demand Linux/shared instance row, the zonal NAT row and the gp3 row; reads the publication date", async () => {
        const { readOfferCsv, scanOffer, pickPrice } = await import("../tools/cost/update-prices");
        const meta: { publicationDate?: string } = {};
        const found = await scanOffer(readOfferCsv(csv, meta), ["ec2:t3.large", "nat:hour", "ebs:gp3", "ec2:m6i.xlarge"]);
        assert.equal(meta.publicationDate, "2026-09-25T17:45:21Z");
        assert.equal(pickPrice(found.get("ec2:t3.large")!), 0.5);
        assert.equal(pickPrice(found.get("nat:hour")!), 0.7);
        assert.equal(pickPrice(found.get("ebs:gp3")!), 0.2);
        assert.equal(pickPrice(found.get("ec2:m6i.xlarge")!), "no matching on-demand row");
    });

    it("rows that disagree are reported, not averaged", async () => {
        const { pickPrice } = await import("../tools/cost/update-prices");
        assert.equal(
            pickPrice([
                { PricePerUnit: "0.1", StartingRange: "0" },
                { PricePerUnit: "0.2", StartingRange: "0" },
            ]),
            "matching rows disagree (0.1, 0.2)",
        );
    });

    it("knows which offer file prices every key of the committed table", async () => {
        const { keySpec, wantedKeys } = await import("../tools/cost/update-prices");
        const offers = new Map(wantedKeys(TABLE).map((k) => [k, keySpec(k)!.offer]));
        assert.equal(offers.get("ec2:t3.large"), "AmazonEC2");
        assert.equal(offers.get("rds:postgres:db.r6g.large"), "AmazonRDS");
        assert.equal(offers.get("opensearch:r6g.large.search"), "AmazonES");
        for (const region of Object.values(TABLE.regions)) for (const k of Object.keys(region)) assert.ok(keySpec(k), `no offer mapping for ${k}`);
    });
});
