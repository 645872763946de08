import { LogGroup } from "@pulumi/aws/cloudwatch/logGroup";
import { OpenIdConnectProvider } from "@pulumi/aws/iam/openIdConnectProvider";
import { Role } from "@pulumi/aws/iam/role";
import { RolePolicyAttachment } from "@pulumi/aws/iam/rolePolicyAttachment";
import * as ec2 from "@pulumi/aws/ec2";
import * as eks from "@pulumi/aws/eks";
import * as kms from "@pulumi/aws/kms";
import * as storagev1 from "@pulumi/kubernetes/storage/v1";
import { Provider } from "@pulumi/kubernetes/provider";
import * as pulumi from "@pulumi/pulumi";
import { autoscalerOwnershipTag } from "./autoscaler";
import { IrsaRole, serviceTrustPolicy } from "./iam";
import { EKS_ADDON_NAMES, EKS_VERSIONS, type EksAddonName, type EksVersion } from "../versions";

/** One managed node group. */
export interface NodeGroupArgs {
    /** Node group name, unique within the cluster. */
    name: string;
    /** EC2 instance types; several allow SPOT diversification. */
    instanceTypes: string[];
    capacityType: "ON_DEMAND" | "SPOT";
    minSize: number;
    desiredSize: number;
    maxSize: number;
    /** Root volume size (GiB, gp3, encrypted). */
    diskSizeGiB: number;
    /** Kubernetes node labels. */
    labels: Record<string, string>;
    /** Kubernetes node taints. */
    taints: { key: string; value?: string; effect: "NO_SCHEDULE" | "NO_EXECUTE" | "PREFER_NO_SCHEDULE" }[];
}

export interface EksClusterArgs {
    /** The cluster's fixed name (subnet tags and autoscaler discovery use it). */
    clusterName: string;
    /** Kubernetes minor version, one of `SUPPORTED_EKS_VERSIONS`. */
    kubernetesVersion: EksVersion;
    /** AWS region, for the kubeconfig's `aws eks get-token`. */
    region: string;
    /** Private subnets for the control-plane ENIs and the nodes. */
    privateSubnetIds: pulumi.Input<string>[];
    /** The public endpoint, open to these CIDRs, or "off". Private access is always on. */
    publicAccess: { cidrs: string[] } | "off";
    /** IAM principals granted AmazonEKSClusterAdminPolicy through access entries. */
    adminPrincipalArns: string[];
    /** Control-plane log types. */
    logTypes: string[];
    /** Control-plane log retention in days. */
    logRetentionDays: number;
    /** Managed node groups (at least one). */
    nodeGroups: NodeGroupArgs[];
    /** The default StorageClass keeps volumes (reclaimPolicy Retain) when their claim is deleted. */
    retainVolumes: boolean;
    /** Tags on every AWS resource. @default {} */
    tags?: Record<string, string>;
}

/** The EBS StorageClass every stateful workload on EKS uses: gp3, encrypted, expandable (Retain in prod). */
export const STORAGE_CLASS = "gp3-encrypted";

export const MANAGED_POLICIES = {
    cluster: "arn:aws:iam::aws:policy/AmazonEKSClusterPolicy",
    workerNode: "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    ecrPull: "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly",
    ssm: "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
    cni: "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
    ebsCsi: "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy",
    clusterAdminAccess: "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy",
} as const;

/** Tags cluster-autoscaler auto-discovery matches, and its IAM condition keys on. */
export function autoscalerDiscoveryTags(clusterName: string): Record<string, string> {
    const owned = autoscalerOwnershipTag(clusterName);
    return { "k8s.io/cluster-autoscaler/enabled": "true", [owned.key]: owned.value };
}

/** Add-ons whose controller needs AWS permissions: the service account and the policy it gets. */
export const ADDON_IRSA: Partial<Record<EksAddonName, { serviceAccount: string; policyArn: string }>> = {
    "vpc-cni": { serviceAccount: "aws-node", policyArn: MANAGED_POLICIES.cni },
    "aws-ebs-csi-driver": { serviceAccount: "ebs-csi-controller-sa", policyArn: MANAGED_POLICIES.ebsCsi },
};

/** Add-on configuration: vpc-cni enforces NetworkPolicies (its network policy agent). */
export function addonConfiguration(addon: EksAddonName): object | undefined {
    return addon === "vpc-cni" ? { enableNetworkPolicy: "true" } : undefined;
}

/** A kubeconfig that authenticates with `aws eks get-token` (no static credentials). */
export function kubeconfigFor(clusterName: string, endpoint: string, caData: string, region: string): object {
    return {
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: clusterName, cluster: { server: endpoint, "certificate-authority-data": caData } }],
        contexts: [{ name: clusterName, context: { cluster: clusterName, user: clusterName } }],
        "current-context": clusterName,
        users: [
            {
                name: clusterName,
                user: {
                    exec: {
                        apiVersion: "client.authentication.k8s.io/v1beta1",
                        command: "aws",
                        args: ["eks", "get-token", "--cluster-name", clusterName, "--region", region, "--output", "json"],
                        interactiveMode: "Never",
                    },
                },
            },
        ],
    };
}

/** Launch-template settings every node gets: IMDSv2 only, pods cut off from IMDS, encrypted gp3 root. */
export function nodeLaunchTemplate(diskSizeGiB: number) {
    return {
        metadataOptions: { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 1, instanceMetadataTags: "disabled" },
        blockDeviceMappings: [{ deviceName: "/dev/xvda", ebs: { volumeSize: diskSizeGiB, volumeType: "gp3", encrypted: "true", deleteOnTermination: "true" } }],
    };
}

/**
 * An EKS cluster with the defaults a security review expects: KMS envelope encryption of secrets
 * (rotating key), control-plane logs with retention, private endpoint (public only for listed
 * CIDRs), API authentication mode with access entries (no aws-auth ConfigMap), an OIDC provider
 * for IRSA, managed node groups on IMDSv2-only launch templates, pinned core add-ons (vpc-cni with
 * NetworkPolicy enforcement, coredns, kube-proxy, EBS CSI with its own IRSA role, metrics-server),
 * a default encrypted gp3 StorageClass, and the Kubernetes provider the rest of the program uses.
 */
export class EksCluster extends pulumi.ComponentResource {
    public readonly clusterName: pulumi.Output<string>;
    public readonly endpoint: pulumi.Output<string>;
    public readonly oidcProviderArn: pulumi.Output<string>;
    public readonly oidcIssuerUrl: pulumi.Output<string>;
    public readonly nodeRoleArn: pulumi.Output<string>;
    public readonly clusterSecurityGroupId: pulumi.Output<string>;
    /** kubeconfig JSON (secret). */
    public readonly kubeconfig: pulumi.Output<string>;
    public readonly provider: Provider;
    public readonly storageClassName: pulumi.Output<string>;

    constructor(name: string, args: EksClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        const a = args;
        if (!EKS_VERSIONS[a.kubernetesVersion]) {
            throw new Error(
                `EksCluster ${name}: kubernetesVersion "${a.kubernetesVersion}" is not supported; allowed: ${Object.keys(EKS_VERSIONS).join(", ")}`,
            );
        }
        if (a.nodeGroups.length === 0) throw new Error(`EksCluster ${name}: nodeGroups is empty; at least one node group is required`);
        if (a.privateSubnetIds.length < 2) throw new Error(`EksCluster ${name}: EKS needs subnets in at least 2 AZs; got ${a.privateSubnetIds.length}`);
        super("cli-platform:cluster:EksCluster", name, {}, opts);
        const tags = a.tags ?? {};
        const parent = { parent: this };
        const pins = EKS_VERSIONS[a.kubernetesVersion];

        const kmsKey = new kms.Key(
            `${name}-secrets`,
            { description: `Envelope encryption of Kubernetes secrets in ${a.clusterName}`, enableKeyRotation: true, deletionWindowInDays: 30, tags },
            parent,
        );
        new kms.Alias(`${name}-secrets`, { name: `alias/${a.clusterName}-secrets`, targetKeyId: kmsKey.keyId }, parent);

        // EKS writes to this fixed group; creating it first lets us own its retention.
        const logGroup = new LogGroup(
            `${name}-control-plane`,
            { name: `/aws/eks/${a.clusterName}/cluster`, retentionInDays: a.logRetentionDays, tags },
            parent,
        );

        const clusterRole = new Role(`${name}-cluster`, { assumeRolePolicy: JSON.stringify(serviceTrustPolicy("eks.amazonaws.com")), tags }, parent);
        const clusterPolicy = new RolePolicyAttachment(`${name}-cluster`, { role: clusterRole.name, policyArn: MANAGED_POLICIES.cluster }, parent);

        const cluster = new eks.Cluster(
            `${name}-eks`,
            {
                name: a.clusterName,
                version: a.kubernetesVersion,
                roleArn: clusterRole.arn,
                vpcConfig: {
                    subnetIds: a.privateSubnetIds,
                    endpointPrivateAccess: true,
                    endpointPublicAccess: a.publicAccess !== "off",
                    publicAccessCidrs: a.publicAccess === "off" ? undefined : a.publicAccess.cidrs,
                },
                encryptionConfig: { provider: { keyArn: kmsKey.arn }, resources: ["secrets"] },
                enabledClusterLogTypes: a.logTypes,
                accessConfig: { authenticationMode: "API", bootstrapClusterCreatorAdminPermissions: true },
                bootstrapSelfManagedAddons: false,
                tags,
            },
            { parent: this, dependsOn: [logGroup, clusterPolicy] },
        );

        a.adminPrincipalArns.forEach((principalArn, i) => {
            const entry = new eks.AccessEntry(`${name}-admin-${i}`, { clusterName: cluster.name, principalArn, type: "STANDARD", tags }, parent);
            new eks.AccessPolicyAssociation(
                `${name}-admin-${i}`,
                { clusterName: cluster.name, principalArn, policyArn: MANAGED_POLICIES.clusterAdminAccess, accessScope: { type: "cluster" } },
                { parent: this, dependsOn: [entry] },
            );
        });

        const issuerUrl = cluster.identities.apply((ids) => ids[0].oidcs![0].issuer!);
        const oidcProvider = new OpenIdConnectProvider(`${name}-oidc`, { url: issuerUrl, clientIdLists: ["sts.amazonaws.com"], tags }, parent);
        const oidc = { arn: oidcProvider.arn, issuerUrl };

        const addonRoles: Partial<Record<EksAddonName, IrsaRole>> = {};
        for (const addon of EKS_ADDON_NAMES) {
            const irsa = ADDON_IRSA[addon];
            if (irsa) {
                addonRoles[addon] = new IrsaRole(
                    `${name}-${addon}`,
                    { oidc, namespace: "kube-system", serviceAccount: irsa.serviceAccount, managedPolicyArns: [irsa.policyArn], tags },
                    parent,
                );
            }
        }
        const addon = (addonName: EksAddonName, dependsOn: pulumi.Resource[]) =>
            new eks.Addon(
                `${name}-${addonName}`,
                {
                    clusterName: cluster.name,
                    addonName,
                    addonVersion: pins.addons[addonName],
                    serviceAccountRoleArn: addonRoles[addonName]?.roleArn,
                    configurationValues: addonConfiguration(addonName) ? JSON.stringify(addonConfiguration(addonName)) : undefined,
                    resolveConflictsOnCreate: "OVERWRITE",
                    resolveConflictsOnUpdate: "OVERWRITE",
                    tags,
                },
                { parent: this, dependsOn },
            );
        // Networking add-ons first: nodes do not become Ready without a CNI.
        const networking = [addon("vpc-cni", []), addon("kube-proxy", [])];

        const nodeRole = new Role(`${name}-node`, { assumeRolePolicy: JSON.stringify(serviceTrustPolicy("ec2.amazonaws.com")), tags }, parent);
        const nodePolicies = [MANAGED_POLICIES.workerNode, MANAGED_POLICIES.ecrPull, MANAGED_POLICIES.ssm].map(
            (policyArn, i) => new RolePolicyAttachment(`${name}-node-${i}`, { role: nodeRole.name, policyArn }, parent),
        );

        const nodeGroups = a.nodeGroups.map((ng) => {
            const lt = new ec2.LaunchTemplate(
                `${name}-${ng.name}`,
                {
                    description: `Nodes of ${a.clusterName}/${ng.name}`,
                    updateDefaultVersion: true,
                    ...nodeLaunchTemplate(ng.diskSizeGiB),
                    tagSpecifications: [
                        { resourceType: "instance", tags: { ...tags, Name: `${a.clusterName}-${ng.name}` } },
                        { resourceType: "volume", tags },
                    ],
                    tags,
                },
                parent,
            );
            return new eks.NodeGroup(
                `${name}-${ng.name}`,
                {
                    clusterName: cluster.name,
                    version: a.kubernetesVersion,
                    nodeRoleArn: nodeRole.arn,
                    subnetIds: a.privateSubnetIds,
                    instanceTypes: ng.instanceTypes,
                    capacityType: ng.capacityType,
                    scalingConfig: { minSize: ng.minSize, desiredSize: ng.desiredSize, maxSize: ng.maxSize },
                    updateConfig: { maxUnavailable: 1 },
                    labels: { ...ng.labels, "cli-platform/node-group": ng.name },
                    taints: ng.taints,
                    launchTemplate: { id: lt.id, version: lt.latestVersion.apply(String) },
                    tags: { ...tags, ...autoscalerDiscoveryTags(a.clusterName) },
                },
                // The cluster-autoscaler owns desiredSize once the group exists.
                { parent: this, dependsOn: [...networking, ...nodePolicies], ignoreChanges: ["scalingConfig.desiredSize"] },
            );
        });

        // These run as pods: they need nodes.
        for (const name of ["coredns", "aws-ebs-csi-driver", "metrics-server"] as const) addon(name, nodeGroups);

        this.kubeconfig = pulumi.secret(
            pulumi
                .all([cluster.name, cluster.endpoint, cluster.certificateAuthority])
                .apply(([n, endpoint, ca]) => JSON.stringify(kubeconfigFor(n, endpoint, ca.data!, a.region))),
        );
        this.provider = new Provider(`${name}-k8s`, { kubeconfig: this.kubeconfig, enableServerSideApply: true }, { parent: this, dependsOn: nodeGroups });

        const storageClass = new storagev1.StorageClass(
            `${name}-gp3`,
            {
                metadata: { name: STORAGE_CLASS, annotations: { "storageclass.kubernetes.io/is-default-class": "true" } },
                provisioner: "ebs.csi.aws.com",
                parameters: { type: "gp3", encrypted: "true", "csi.storage.k8s.io/fstype": "ext4" },
                volumeBindingMode: "WaitForFirstConsumer",
                allowVolumeExpansion: true,
                reclaimPolicy: a.retainVolumes ? "Retain" : "Delete",
            },
            { parent: this, provider: this.provider },
        );

        this.clusterName = cluster.name;
        this.endpoint = cluster.endpoint;
        this.oidcProviderArn = oidcProvider.arn;
        this.oidcIssuerUrl = issuerUrl;
        this.nodeRoleArn = nodeRole.arn;
        this.clusterSecurityGroupId = cluster.vpcConfig.apply((v) => v.clusterSecurityGroupId);
        this.storageClassName = storageClass.metadata.name;
        this.registerOutputs({
            clusterName: this.clusterName,
            endpoint: this.endpoint,
            oidcProviderArn: this.oidcProviderArn,
            oidcIssuerUrl: this.oidcIssuerUrl,
            nodeRoleArn: this.nodeRoleArn,
            clusterSecurityGroupId: this.clusterSecurityGroupId,
            kubeconfig: this.kubeconfig,
            provider: this.provider,
            storageClassName: this.storageClassName,
        });
    }
}
