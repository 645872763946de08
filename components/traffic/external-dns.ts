/**
 * external-dns: keeps Route 53 records for the hosts of HTTPRoutes attached to the platform's
 * Gateway, in one hosted zone, through an IRSA role that may change records only in that zone.
 */
import * as pulumi from "@pulumi/pulumi";
import { chartRelease } from "../helm";
import { IrsaRole, type OidcProvider, type PolicyDocument } from "../aws/iam";
import { CHARTS } from "../versions";

export const EXTERNAL_DNS_NAMESPACE = "external-dns";
export const EXTERNAL_DNS_SERVICE_ACCOUNT = "external-dns";

export interface ExternalDnsArgs {
    oidc: OidcProvider;
    /** Route 53 hosted zone the records live in (the only zone the role may change). */
    hostedZoneId: string;
    /** TXT registry owner: the cluster's name, so two clusters never fight over a record. */
    txtOwnerId: string;
    /** `sync` deletes records whose routes are gone; `upsert-only` never deletes. */
    policy: "sync" | "upsert-only";
    /** Only Gateways in this namespace are followed. */
    gatewayNamespace: string;
    awsRegion: string;
    tags?: Record<string, string>;
    /** Resources the chart waits for (the Gateway API CRDs its source watches). Default none. */
    dependsOn?: pulumi.Resource[];
}

/**
 * Route 53 permissions from external-dns's AWS tutorial (docs/tutorials/aws.md, v0.21.0), narrowed
 * to one zone: record changes and listings only on `hostedzone/<id>`; ListHostedZones (which
 * supports no resource scoping) to find it.
 */
export function externalDnsPolicy(hostedZoneId: string): PolicyDocument {
    return {
        Version: "2012-10-17",
        Statement: [
            {
                Sid: "RecordsInOneZone",
                Effect: "Allow",
                Action: ["route53:ChangeResourceRecordSets", "route53:ListResourceRecordSets", "route53:ListTagsForResources"],
                Resource: [`arn:aws:route53:::hostedzone/${hostedZoneId}`],
            },
            { Sid: "FindZones", Effect: "Allow", Action: ["route53:ListHostedZones"], Resource: "*" },
        ],
    };
}

/** external-dns values: the gateway-httproute source only, TXT registry owned by the cluster, one zone. */
export function externalDnsValues(a: Omit<ExternalDnsArgs, "oidc" | "tags" | "dependsOn"> & { roleArn: string }): Record<string, unknown> {
    return {
        provider: { name: "aws" },
        sources: ["gateway-httproute"],
        gatewayNamespace: a.gatewayNamespace,
        policy: a.policy,
        registry: "txt",
        txtOwnerId: a.txtOwnerId,
        extraArgs: { "zone-id-filter": a.hostedZoneId, "aws-zone-type": "public" },
        env: [{ name: "AWS_DEFAULT_REGION", value: a.awsRegion }],
        serviceAccount: { create: true, name: EXTERNAL_DNS_SERVICE_ACCOUNT, annotations: { "eks.amazonaws.com/role-arn": a.roleArn } },
        resources: { requests: { cpu: "20m", memory: "64Mi" }, limits: { cpu: "200m", memory: "128Mi" } },
    };
}

export class ExternalDns extends pulumi.ComponentResource {
    public readonly roleArn: pulumi.Output<string>;

    constructor(name: string, args: ExternalDnsArgs, opts?: pulumi.ComponentResourceOptions) {
        if (!/^Z[A-Z0-9]{1,32}$/.test(args.hostedZoneId)) throw new Error(`ExternalDns ${name}: hostedZoneId "${args.hostedZoneId}" is not a Route 53 zone id`);
        super("cli-platform:traffic:ExternalDns", name, {}, opts);
        const role = new IrsaRole(
            `${name}-irsa`,
            {
                oidc: args.oidc,
                namespace: EXTERNAL_DNS_NAMESPACE,
                serviceAccount: EXTERNAL_DNS_SERVICE_ACCOUNT,
                inlinePolicy: JSON.stringify(externalDnsPolicy(args.hostedZoneId)),
                tags: args.tags,
            },
            { parent: this },
        );
        chartRelease(
            `${name}-chart`,
            CHARTS.externalDns,
            {
                name: "external-dns",
                namespace: EXTERNAL_DNS_NAMESPACE,
                createNamespace: true,
                values: role.roleArn.apply((roleArn) =>
                    externalDnsValues({
                        hostedZoneId: args.hostedZoneId,
                        txtOwnerId: args.txtOwnerId,
                        policy: args.policy,
                        gatewayNamespace: args.gatewayNamespace,
                        awsRegion: args.awsRegion,
                        roleArn,
                    }),
                ),
                atomic: true,
            },
            { parent: this, dependsOn: args.dependsOn ?? [] },
        );
        this.roleArn = role.roleArn;
        this.registerOutputs({ roleArn: this.roleArn });
    }
}
