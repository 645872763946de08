import { LogGroup } from "@pulumi/aws/cloudwatch/logGroup";
import { Role } from "@pulumi/aws/iam/role";
import { RolePolicy } from "@pulumi/aws/iam/rolePolicy";
import * as ec2 from "@pulumi/aws/ec2";
import { getAvailabilityZones } from "@pulumi/aws/getAvailabilityZones";
import * as pulumi from "@pulumi/pulumi";
import { logGroupWriterPolicy, serviceTrustPolicy } from "./iam";

export interface NetworkArgs {
    /** VPC CIDR (validated by config). */
    cidr: string;
    /** Availability zone names to use, one subnet pair each; resolve with `availableZones()`. */
    availabilityZones: string[];
    /** Public subnet CIDRs, one per AZ, in AZ order. */
    publicSubnetCidrs: string[];
    /** Private subnet CIDRs, one per AZ, in AZ order. */
    privateSubnetCidrs: string[];
    /** `single` (one NAT gateway, cheaper, one AZ's failure cuts egress) or `perAz`. */
    natGateways: "single" | "perAz";
    /** VPC flow logs (all traffic) to a CloudWatch log group with this retention in days, or off. */
    flowLogs: { retentionDays: number } | "off";
    /** EKS cluster name, for the `kubernetes.io/cluster/<name>` subnet tag. */
    clusterName: string;
    /** Tags on every resource. @default {} */
    tags?: Record<string, string>;
}

/** Availability zones in `region` that need no opt-in (no Local/Wavelength zones). */
export async function availableZones(azCount: number, region: string, opts?: pulumi.InvokeOptions): Promise<string[]> {
    const zones = await getAvailabilityZones({ state: "available", filters: [{ name: "opt-in-status", values: ["opt-in-not-required"] }] }, opts);
    if (zones.names.length < azCount) {
        throw new Error(
            `cli-platform:network.azCount = ${azCount}: region "${region}" has only ${zones.names.length} available AZs (${zones.names.join(", ")}); ` +
                `allowed: 1..${zones.names.length}`,
        );
    }
    return zones.names.slice(0, azCount);
}

/** Subnet tags EKS and the AWS load balancer integrations look for. */
export function subnetTags(kind: "public" | "private", clusterName: string): Record<string, string> {
    return {
        [kind === "public" ? "kubernetes.io/role/elb" : "kubernetes.io/role/internal-elb"]: "1",
        [`kubernetes.io/cluster/${clusterName}`]: "shared",
        tier: kind,
    };
}

/**
 * A VPC for EKS: public and private subnets in each AZ, an internet gateway, NAT gateway(s),
 * route tables, load-balancer subnet tags, a locked-down default security group and optional
 * flow logs.
 */
export class Network extends pulumi.ComponentResource {
    public readonly vpcId: pulumi.Output<string>;
    public readonly publicSubnetIds: pulumi.Output<string>[];
    public readonly privateSubnetIds: pulumi.Output<string>[];
    public readonly natGatewayIds: pulumi.Output<string>[];
    public readonly availabilityZones: string[];

    constructor(name: string, args: NetworkArgs, opts?: pulumi.ComponentResourceOptions) {
        const a = args;
        const azs = a.availabilityZones;
        for (const key of ["publicSubnetCidrs", "privateSubnetCidrs"] as const) {
            if (a[key].length !== azs.length) {
                throw new Error(`Network ${name}: ${key} has ${a[key].length} entries; expected one per availability zone (${azs.length})`);
            }
        }
        super("cli-platform:network:Network", name, {}, opts);
        const tags = a.tags ?? {};
        const parent = { parent: this };

        const vpc = new ec2.Vpc(
            `${name}-vpc`,
            { cidrBlock: a.cidr, enableDnsHostnames: true, enableDnsSupport: true, tags: { ...tags, Name: `${name}-vpc` } },
            parent,
        );

        // CIS: the default security group allows nothing.
        new ec2.DefaultSecurityGroup(`${name}-default-sg`, { vpcId: vpc.id, tags: { ...tags, Name: `${name}-default-deny` } }, parent);

        const igw = new ec2.InternetGateway(`${name}-igw`, { vpcId: vpc.id, tags: { ...tags, Name: `${name}-igw` } }, parent);

        const publicRt = new ec2.RouteTable(
            `${name}-public-rt`,
            { vpcId: vpc.id, routes: [{ cidrBlock: "0.0.0.0/0", gatewayId: igw.id }], tags: { ...tags, Name: `${name}-public` } },
            parent,
        );

        const publicSubnets = azs.map((az, i) => {
            const subnet = new ec2.Subnet(
                `${name}-public-${i}`,
                {
                    vpcId: vpc.id,
                    cidrBlock: a.publicSubnetCidrs[i],
                    availabilityZone: az,
                    mapPublicIpOnLaunch: false,
                    tags: { ...tags, ...subnetTags("public", a.clusterName), Name: `${name}-public-${az}` },
                },
                parent,
            );
            new ec2.RouteTableAssociation(`${name}-public-${i}`, { subnetId: subnet.id, routeTableId: publicRt.id }, parent);
            return subnet;
        });

        const natCount = a.natGateways === "perAz" ? azs.length : 1;
        const nats = Array.from({ length: natCount }, (_, i) => {
            const eip = new ec2.Eip(`${name}-nat-${i}`, { domain: "vpc", tags: { ...tags, Name: `${name}-nat-${azs[i]}` } }, parent);
            return new ec2.NatGateway(
                `${name}-nat-${i}`,
                { allocationId: eip.id, subnetId: publicSubnets[i].id, tags: { ...tags, Name: `${name}-nat-${azs[i]}` } },
                { parent: this, dependsOn: [igw] },
            );
        });

        const privateSubnets = azs.map((az, i) => {
            const subnet = new ec2.Subnet(
                `${name}-private-${i}`,
                {
                    vpcId: vpc.id,
                    cidrBlock: a.privateSubnetCidrs[i],
                    availabilityZone: az,
                    mapPublicIpOnLaunch: false,
                    tags: { ...tags, ...subnetTags("private", a.clusterName), Name: `${name}-private-${az}` },
                },
                parent,
            );
            const rt = new ec2.RouteTable(
                `${name}-private-rt-${i}`,
                {
                    vpcId: vpc.id,
                    routes: [{ cidrBlock: "0.0.0.0/0", natGatewayId: nats[Math.min(i, natCount - 1)].id }],
                    tags: { ...tags, Name: `${name}-private-${az}` },
                },
                parent,
            );
            new ec2.RouteTableAssociation(`${name}-private-${i}`, { subnetId: subnet.id, routeTableId: rt.id }, parent);
            return subnet;
        });

        if (a.flowLogs !== "off") {
            const logGroup = new LogGroup(`${name}-flow-logs`, { retentionInDays: a.flowLogs.retentionDays, tags }, parent);
            const role = new Role(`${name}-flow-logs`, { assumeRolePolicy: JSON.stringify(serviceTrustPolicy("vpc-flow-logs.amazonaws.com")), tags }, parent);
            new RolePolicy(`${name}-flow-logs`, { role: role.id, policy: logGroup.arn.apply((arn) => JSON.stringify(logGroupWriterPolicy(arn))) }, parent);
            new ec2.FlowLog(
                `${name}-flow-logs`,
                {
                    vpcId: vpc.id,
                    trafficType: "ALL",
                    logDestinationType: "cloud-watch-logs",
                    logDestination: logGroup.arn,
                    iamRoleArn: role.arn,
                    maxAggregationInterval: 60,
                    tags,
                },
                parent,
            );
        }

        this.vpcId = vpc.id;
        this.publicSubnetIds = publicSubnets.map((s) => s.id);
        this.privateSubnetIds = privateSubnets.map((s) => s.id);
        this.natGatewayIds = nats.map((n) => n.id);
        this.availabilityZones = azs;
        this.registerOutputs({
            vpcId: this.vpcId,
            publicSubnetIds: this.publicSubnetIds,
            privateSubnetIds: this.privateSubnetIds,
            natGatewayIds: this.natGatewayIds,
            availabilityZones: this.availabilityZones,
        });
    }
}
