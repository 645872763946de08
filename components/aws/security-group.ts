import * as ec2 from "@pulumi/aws/ec2";
import type * as pulumi from "@pulumi/pulumi";

/** A security group for a managed service: `port` only from the EKS cluster's security group, no egress. */
export function clusterOnlySecurityGroup(
    name: string,
    a: {
        what: string;
        vpcId: pulumi.Input<string>;
        port: number;
        clientSecurityGroupId: pulumi.Input<string>;
        tags?: Record<string, string>;
        parent: pulumi.Resource;
    },
): ec2.SecurityGroup {
    return new ec2.SecurityGroup(
        name,
        {
            vpcId: a.vpcId,
            description: `${a.what}: ${a.port} from the EKS cluster only`,
            ingress: [{ protocol: "tcp", fromPort: a.port, toPort: a.port, securityGroups: [a.clientSecurityGroupId], description: "EKS cluster" }],
            egress: [],
            tags: a.tags,
        },
        { parent: a.parent },
    );
}
