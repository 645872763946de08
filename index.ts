/**
 * Composition root: config -> components -> stack outputs. Nothing else happens here.
 *
 * The module exports a function; Pulumi calls it and publishes what it returns as stack outputs.
 * (The offline harness calls it the same way, once per stack.)
 */
import * as k8s from "@pulumi/kubernetes";
import { availableZones, ClusterAutoscaler, EksCluster, Network } from "./components";
import { loadConfig } from "./config";
import { awsTags, clusterNameFor } from "./lib/naming";

export = async (): Promise<Record<string, unknown>> => {
    const cfg = loadConfig();

    if (!cfg.onAws) {
        // local: an existing cluster, addressed by an explicit kubeconfig context. No AWS at all.
        // Every in-cluster component deploys through this provider (none reads the ambient default context).
        new k8s.Provider("local-k8s", { context: cfg.kubernetes!.context, enableServerSideApply: true });
        return {
            /** Which environment's defaults this stack runs with. */
            environment: cfg.environment,
            /** The kubeconfig context the stack deploys into. */
            kubeContext: cfg.kubernetes!.context,
            /** The StorageClass persistent volumes use. */
            storageClassName: cfg.kubernetes!.storageClassName,
        };
    }

    const network = cfg.network!;
    const clusterCfg = cfg.cluster!;
    const region = cfg.awsRegion!;
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
        flowLogs: network.flowLogs,
        flowLogRetentionDays: network.flowLogRetentionDays,
        clusterName,
        tags,
    });

    const cluster = new EksCluster("cluster", {
        clusterName,
        kubernetesVersion: clusterCfg.kubernetesVersion,
        region,
        privateSubnetIds: vpc.privateSubnetIds,
        endpointPublicAccess: clusterCfg.endpointPublicAccess,
        publicAccessCidrs: clusterCfg.publicAccessCidrs,
        adminPrincipalArns: clusterCfg.adminPrincipalArns,
        logTypes: clusterCfg.logTypes,
        logRetentionDays: clusterCfg.logRetentionDays,
        nodeGroups: clusterCfg.nodeGroups,
        tags,
    });

    const autoscaler = clusterCfg.autoscaler
        ? new ClusterAutoscaler("autoscaler", {
              clusterName,
              kubernetesVersion: clusterCfg.kubernetesVersion,
              awsRegion: region,
              oidc: { arn: cluster.oidcProviderArn, issuerUrl: cluster.oidcIssuerUrl },
              provider: cluster.provider,
              tags,
          })
        : undefined;

    return {
        /** Which environment's defaults this stack runs with. */
        environment: cfg.environment,
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
        /** The StorageClass persistent volumes use. */
        storageClassName: cluster.storageClassName,
        /** IRSA role of the cluster-autoscaler (absent when disabled). */
        ...(autoscaler ? { autoscalerRoleArn: autoscaler.roleArn } : {}),
    };
};
