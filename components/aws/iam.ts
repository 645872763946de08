/**
 * IAM building blocks: trust policies as pure functions, and `IrsaRole`, an IAM role that exactly
 * one Kubernetes service account can assume through the cluster's OIDC provider (IRSA).
 */
import { Role } from "@pulumi/aws/iam/role";
import { RolePolicy } from "@pulumi/aws/iam/rolePolicy";
import { RolePolicyAttachment } from "@pulumi/aws/iam/rolePolicyAttachment";
import * as pulumi from "@pulumi/pulumi";

export interface PolicyStatement {
    Sid?: string;
    Effect: "Allow" | "Deny";
    Action: string | string[];
    Resource?: string | string[];
    Principal?: Record<string, string | string[]>;
    Condition?: Record<string, Record<string, string>>;
}
export type PolicyDocument = { Version: "2012-10-17"; Statement: PolicyStatement[] };

/** Permissions to write to one CloudWatch log group only (its streams and events). */
export function logGroupWriterPolicy(logGroupArn: string): PolicyDocument {
    return {
        Version: "2012-10-17",
        Statement: [
            {
                Effect: "Allow",
                Action: ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                Resource: [logGroupArn, `${logGroupArn}:log-stream:*`],
            },
        ],
    };
}

/** Trust policy letting an AWS service (e.g. "eks.amazonaws.com") assume a role. */
export function serviceTrustPolicy(service: string): PolicyDocument {
    return { Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { Service: service }, Action: "sts:AssumeRole" }] };
}

/**
 * Trust policy for IRSA: the OIDC provider may assume the role only for `system:serviceaccount:
 * <namespace>:<serviceAccount>` with the STS audience. Both conditions are StringEquals (no
 * wildcards), so no other service account can use the role.
 */
export function irsaTrustPolicy(oidcProviderArn: string, oidcIssuerUrl: string, namespace: string, serviceAccount: string): PolicyDocument {
    const issuer = oidcIssuerUrl.replace(/^https:\/\//, "");
    return {
        Version: "2012-10-17",
        Statement: [
            {
                Effect: "Allow",
                Principal: { Federated: oidcProviderArn },
                Action: "sts:AssumeRoleWithWebIdentity",
                Condition: {
                    StringEquals: {
                        [`${issuer}:sub`]: `system:serviceaccount:${namespace}:${serviceAccount}`,
                        [`${issuer}:aud`]: "sts.amazonaws.com",
                    },
                },
            },
        ],
    };
}

/** The cluster's OIDC identity, as IrsaRole needs it. */
export interface OidcProvider {
    arn: pulumi.Input<string>;
    /** Issuer URL, `https://oidc.eks.<region>.amazonaws.com/id/<id>`. */
    issuerUrl: pulumi.Input<string>;
}

export interface IrsaRoleArgs {
    oidc: OidcProvider;
    /** Namespace of the service account. */
    namespace: string;
    /** Name of the service account. */
    serviceAccount: string;
    /** AWS-managed policy ARNs to attach. Default none. */
    managedPolicyArns?: string[];
    /** Inline policy document (JSON object or a string Output). Default none. */
    inlinePolicy?: pulumi.Input<string>;
    tags?: Record<string, string>;
}

/** An IAM role for exactly one Kubernetes service account. */
export class IrsaRole extends pulumi.ComponentResource {
    public readonly roleArn: pulumi.Output<string>;
    public readonly roleName: pulumi.Output<string>;

    constructor(name: string, args: IrsaRoleArgs, opts?: pulumi.ComponentResourceOptions) {
        if (!args.managedPolicyArns?.length && args.inlinePolicy === undefined) {
            throw new Error(`IrsaRole ${name}: give managedPolicyArns or inlinePolicy; a role with no permissions is a mistake`);
        }
        super("cli-platform:iam:IrsaRole", name, {}, opts);
        const role = new Role(
            `${name}-role`,
            {
                assumeRolePolicy: pulumi
                    .all([args.oidc.arn, args.oidc.issuerUrl])
                    .apply(([arn, url]) => JSON.stringify(irsaTrustPolicy(arn, url, args.namespace, args.serviceAccount))),
                description: `IRSA role for ${args.namespace}/${args.serviceAccount}`,
                tags: args.tags,
            },
            { parent: this },
        );
        (args.managedPolicyArns ?? []).forEach((policyArn, i) => {
            new RolePolicyAttachment(`${name}-attach-${i}`, { role: role.name, policyArn }, { parent: this });
        });
        if (args.inlinePolicy !== undefined) {
            new RolePolicy(`${name}-policy`, { role: role.id, policy: args.inlinePolicy }, { parent: this });
        }
        this.roleArn = role.arn;
        this.roleName = role.name;
        this.registerOutputs({ roleArn: this.roleArn, roleName: this.roleName });
    }
}
