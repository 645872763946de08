import { getCallerIdentityOutput } from "@pulumi/aws/getCallerIdentity";
import * as pulumi from "@pulumi/pulumi";
import { type OidcProvider, IrsaRole, type PolicyDocument } from "./iam";
import { CHARTS, EKS_VERSIONS, type EksVersion } from "../versions";
import { chartRelease } from "../helm";

export interface ClusterAutoscalerArgs {
    clusterName: string;
    /** Selects the autoscaler image matching the control plane. */
    kubernetesVersion: EksVersion;
    awsRegion: string;
    oidc: OidcProvider;
    /** Namespace. @default "kube-system" */
    namespace?: string;
    /** Tags on the IAM role. @default {} */
    tags?: Record<string, string>;
}

const DEFAULTS = { namespace: "kube-system" };
export const AUTOSCALER_SERVICE_ACCOUNT = "cluster-autoscaler";

/**
 * The tag marking an Auto Scaling group as this cluster's: the node groups carry it, auto-discovery
 * matches it and the IAM policy allows writes only on groups that have it.
 */
export function autoscalerOwnershipTag(clusterName: string): { key: string; value: string } {
    return { key: `k8s.io/cluster-autoscaler/${clusterName}`, value: "owned" };
}

/** Write actions: allowed only on Auto Scaling groups tagged as owned by this cluster. */
export const AUTOSCALER_WRITE_ACTIONS = ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"];
/** Read actions the autoscaler needs that AWS authorizes only on "*" (no resource-level permissions). */
export const AUTOSCALER_READ_ACTIONS = [
    "autoscaling:DescribeAutoScalingGroups",
    "autoscaling:DescribeAutoScalingInstances",
    "autoscaling:DescribeLaunchConfigurations",
    "autoscaling:DescribeScalingActivities",
    "autoscaling:DescribeTags",
    "ec2:DescribeImages",
    "ec2:DescribeInstanceTypes",
    "ec2:DescribeLaunchTemplateVersions",
    "ec2:GetInstanceTypesFromInstanceRequirements",
];
/** Read actions scoped to this cluster's node groups. */
export const AUTOSCALER_NODEGROUP_ACTIONS = ["eks:DescribeNodegroup"];

/** The least-privilege policy from the cluster-autoscaler's AWS documentation, node group reads scoped to this cluster. */
export function autoscalerPolicy(a: { clusterName: string; region: string; accountId: string }): PolicyDocument {
    const { clusterName } = a;
    const owned = autoscalerOwnershipTag(clusterName);
    return {
        Version: "2012-10-17",
        Statement: [
            {
                Sid: "ScaleOwnedGroups",
                Effect: "Allow",
                Action: AUTOSCALER_WRITE_ACTIONS,
                Resource: "*",
                Condition: { StringEquals: { [`aws:ResourceTag/${owned.key}`]: owned.value } },
            },
            { Sid: "Describe", Effect: "Allow", Action: AUTOSCALER_READ_ACTIONS, Resource: "*" },
            {
                Sid: "DescribeOwnNodegroups",
                Effect: "Allow",
                Action: AUTOSCALER_NODEGROUP_ACTIONS,
                Resource: `arn:aws:eks:${a.region}:${a.accountId}:nodegroup/${clusterName}/*/*`,
            },
        ],
    };
}

/** Helm values: the deployment guide's flags, discovery by cluster name, IRSA, critical priority. */
export function autoscalerValues(args: { clusterName: string; awsRegion: string; kubernetesVersion: EksVersion; roleArn: string }): Record<string, unknown> {
    return {
        cloudProvider: "aws",
        awsRegion: args.awsRegion,
        autoDiscovery: { clusterName: args.clusterName },
        image: { tag: EKS_VERSIONS[args.kubernetesVersion].clusterAutoscalerTag },
        rbac: {
            serviceAccount: { create: true, name: AUTOSCALER_SERVICE_ACCOUNT, annotations: { "eks.amazonaws.com/role-arn": args.roleArn } },
        },
        extraArgs: {
            expander: "least-waste",
            "balance-similar-node-groups": true,
            "skip-nodes-with-local-storage": false,
            "skip-nodes-with-system-pods": false,
            "scale-down-delay-after-add": "10m",
            "scale-down-unneeded-time": "10m",
            stderrthreshold: "info",
            v: 4,
        },
        priorityClassName: "system-cluster-critical",
        resources: { requests: { cpu: "100m", memory: "300Mi" }, limits: { memory: "600Mi" } },
        podDisruptionBudget: { maxUnavailable: 1 },
        serviceMonitor: { enabled: false },
    };
}

/**
 * The official cluster-autoscaler Helm chart (installed through the Kubernetes provider in `opts`) with auto-discovery of this cluster's node groups and
 * an IRSA role that can only scale groups tagged as owned by this cluster.
 */
export class ClusterAutoscaler extends pulumi.ComponentResource {
    public readonly roleArn: pulumi.Output<string>;
    public readonly releaseName: pulumi.Output<string>;

    constructor(name: string, args: ClusterAutoscalerArgs, opts?: pulumi.ComponentResourceOptions) {
        const a = { ...DEFAULTS, ...args };
        if (!EKS_VERSIONS[a.kubernetesVersion]) {
            throw new Error(
                `ClusterAutoscaler ${name}: no autoscaler image pinned for Kubernetes "${a.kubernetesVersion}"; allowed: ${Object.keys(EKS_VERSIONS).join(", ")}`,
            );
        }
        super("cli-platform:cluster:ClusterAutoscaler", name, {}, opts);
        const role = new IrsaRole(
            `${name}-irsa`,
            {
                oidc: a.oidc,
                namespace: a.namespace,
                serviceAccount: AUTOSCALER_SERVICE_ACCOUNT,
                inlinePolicy: getCallerIdentityOutput({}, { parent: this }).accountId.apply((accountId) =>
                    JSON.stringify(autoscalerPolicy({ clusterName: a.clusterName, region: a.awsRegion, accountId })),
                ),
                tags: a.tags,
            },
            { parent: this },
        );
        const release = chartRelease(
            `${name}-release`,
            CHARTS.clusterAutoscaler,
            {
                name: "cluster-autoscaler",
                namespace: a.namespace,
                values: role.roleArn.apply((roleArn) => autoscalerValues({ ...a, roleArn })),
                atomic: true,
                cleanupOnFail: true,
            },
            { parent: this },
        );
        this.roleArn = role.roleArn;
        this.releaseName = release.name;
        this.registerOutputs({ roleArn: this.roleArn, releaseName: this.releaseName });
    }
}
