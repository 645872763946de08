/**
 * AWS Load Balancer Controller: turns the Gateway's `LoadBalancer` Service (annotated
 * `aws-load-balancer-type: external`) into an internet-facing NLB with IP targets.
 */
import * as pulumi from "@pulumi/pulumi";
import * as fs from "node:fs";
import * as path from "node:path";
import { chartRelease } from "../helm";
import { IrsaRole, type OidcProvider } from "../aws/iam";
import { CHARTS } from "../versions";

export const LBC_NAMESPACE = "kube-system";
export const LBC_SERVICE_ACCOUNT = "aws-load-balancer-controller";
/** The controller's IAM policy, verbatim from kubernetes-sigs/aws-load-balancer-controller v2.17.1 docs/install/iam_policy.json. */
export const LBC_POLICY_FILE = path.join(__dirname, "assets", "aws-load-balancer-controller-iam-policy.json");

export interface AwsLoadBalancerControllerArgs {
    oidc: OidcProvider;
    clusterName: string;
    awsRegion: string;
    vpcId: pulumi.Input<string>;
    /** Replicas; a PDB (maxUnavailable 1) when more than one. */
    replicas: number;
    tags?: Record<string, string>;
}

/** Chart values: the cluster, region and VPC (no IMDS lookups), IRSA, no IngressClass (Ingress is not used). */
export function loadBalancerControllerValues(a: { clusterName: string; awsRegion: string; vpcId: string; roleArn: string; replicas: number }) {
    return {
        clusterName: a.clusterName,
        region: a.awsRegion,
        vpcId: a.vpcId,
        replicaCount: a.replicas,
        createIngressClassResource: false,
        serviceAccount: { create: true, name: LBC_SERVICE_ACCOUNT, annotations: { "eks.amazonaws.com/role-arn": a.roleArn } },
        resources: { requests: { cpu: "50m", memory: "128Mi" }, limits: { cpu: "500m", memory: "256Mi" } },
        ...(a.replicas > 1 ? { podDisruptionBudget: { maxUnavailable: 1 } } : {}),
    };
}

export class AwsLoadBalancerController extends pulumi.ComponentResource {
    public readonly roleArn: pulumi.Output<string>;
    /** The release; Services it should own must wait for its webhook. */
    public readonly release: pulumi.Resource;

    constructor(name: string, args: AwsLoadBalancerControllerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("cli-platform:traffic:AwsLoadBalancerController", name, {}, opts);
        const role = new IrsaRole(
            `${name}-irsa`,
            {
                oidc: args.oidc,
                namespace: LBC_NAMESPACE,
                serviceAccount: LBC_SERVICE_ACCOUNT,
                // Minified: an inline role policy may hold at most 10,240 non-whitespace characters.
                inlinePolicy: JSON.stringify(JSON.parse(fs.readFileSync(LBC_POLICY_FILE, "utf8"))),
                tags: args.tags,
            },
            { parent: this },
        );
        this.release = chartRelease(
            `${name}-chart`,
            CHARTS.awsLoadBalancerController,
            {
                name: "aws-load-balancer-controller",
                namespace: LBC_NAMESPACE,
                values: pulumi.all([role.roleArn, args.vpcId]).apply(([roleArn, vpcId]) => loadBalancerControllerValues({ ...args, roleArn, vpcId })),
                atomic: true,
            },
            { parent: this },
        );
        this.roleArn = role.roleArn;
        this.registerOutputs({ roleArn: this.roleArn });
    }
}
