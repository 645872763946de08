/**
 * The layer under the cluster: where the in-cluster layer goes. On AWS stacks the VPC, EKS and the
 * autoscaler; on local the existing cluster named by the kubeconfig context.
 */
import { Provider } from "@pulumi/kubernetes/provider";
import * as pulumi from "@pulumi/pulumi";
import { availableZones, ClusterAutoscaler, EksCluster, type ManagedPlacement, Network } from "../components";
import type { AwsPlatformConfig, LocalPlatformConfig } from "../config";
import { awsTags, clusterNameFor } from "../lib/naming";

/** Stack outputs, by name. */
export type Outputs = Record<string, pulumi.Input<unknown> | undefined>;

/** Where the in-cluster layer goes: the Kubernetes provider, the StorageClass, the cluster's name. */
export interface Target {
    provider: Provider;
    storageClassName: pulumi.Input<string>;
    clusterName: string;
}

/** local: the existing cluster named by the configured kubeconfig context. */
export function localLayer(cfg: LocalPlatformConfig): { target: Target; aws: undefined; outputs: Outputs } {
    const { context, storageClassName } = cfg.kubernetes;
    const provider = new Provider("local-k8s", { context, enableServerSideApply: true });
    return {
        target: { provider, storageClassName, clusterName: context },
        aws: undefined,
        outputs: {
            /** The kubeconfig context the stack deploys into. */
            kubeContext: context,
        },
    };
}

/** dev/staging/prod: VPC, EKS and the autoscaler. Resolves AZs before declaring anything. */
export async function awsLayer(cfg: AwsPlatformConfig) {
    const { network, cluster: clusterCfg, awsRegion: region } = cfg;
    const tags = awsTags(cfg.stack);
    const clusterName = clusterNameFor(cfg.stack);
    // Resolved before any resource is declared: too many AZs for the region fails here.
    const zones = await availableZones(network.azCount, region);

    const vpc = new Network("network", {
        cidr: network.cidr,
        availabilityZones: zones,
        publicSubnetCidrs: network.publicSubnetCidrs,
        privateSubnetCidrs: network.privateSubnetCidrs,
        natGateways: network.natGateways,
        flowLogs: network.flowLogs && network.flowLogRetentionDays !== undefined ? { retentionDays: network.flowLogRetentionDays } : "off",
        clusterName,
        tags,
    });
    const cluster = new EksCluster("cluster", {
        clusterName,
        kubernetesVersion: clusterCfg.kubernetesVersion,
        region,
        privateSubnetIds: vpc.privateSubnetIds,
        publicAccess: clusterCfg.endpointPublicAccess ? { cidrs: clusterCfg.publicAccessCidrs } : "off",
        adminPrincipalArns: clusterCfg.adminPrincipalArns,
        logTypes: clusterCfg.logTypes,
        logRetentionDays: clusterCfg.logRetentionDays,
        nodeGroups: clusterCfg.nodeGroups,
        retainVolumes: cfg.protectStatefulResources,
        tags,
    });
    const autoscaler = clusterCfg.autoscaler
        ? new ClusterAutoscaler(
              "autoscaler",
              {
                  clusterName,
                  kubernetesVersion: clusterCfg.kubernetesVersion,
                  awsRegion: region,
                  oidc: { arn: cluster.oidcProviderArn, issuerUrl: cluster.oidcIssuerUrl },
                  tags,
              },
              { provider: cluster.provider },
          )
        : undefined;
    const managed: ManagedPlacement = { vpcId: vpc.vpcId, subnetIds: vpc.privateSubnetIds, clientSecurityGroupId: cluster.clusterSecurityGroupId, tags };

    const outputs: Outputs = {
        /** AWS region. */
        awsRegion: region,
        /** VPC id. */
        vpcId: vpc.vpcId,
        /** Private subnets (nodes, control-plane ENIs, data services). */
        privateSubnetIds: vpc.privateSubnetIds,
        /** Public subnets (load balancers, NAT). */
        publicSubnetIds: vpc.publicSubnetIds,
        /** EKS cluster name. */
        clusterName: cluster.clusterName,
        /** EKS API endpoint. */
        clusterEndpoint: cluster.endpoint,
        /** IAM OIDC provider ARN for IRSA roles. */
        oidcProviderArn: cluster.oidcProviderArn,
        /** IAM role of the managed nodes. */
        nodeRoleArn: cluster.nodeRoleArn,
        /** kubeconfig using `aws eks get-token` (secret). */
        kubeconfig: cluster.kubeconfig,
        /** IRSA role of the cluster-autoscaler (absent when disabled). */
        ...(autoscaler ? { autoscalerRoleArn: autoscaler.roleArn } : {}),
    };
    const aws = { cfg, vpc, vpcCidr: network.cidr, cluster, managed, tags };
    const target: Target = { provider: cluster.provider, storageClassName: cluster.storageClassName, clusterName };
    return { target, aws, outputs };
}

/** What the in-cluster layers use of the AWS layer (undefined on local). */
export type AwsLayer = Awaited<ReturnType<typeof awsLayer>>["aws"];
