/**
 * The traffic layer: AWS Load Balancer Controller (EKS), Envoy Gateway with the platform's Gateway,
 * cert-manager with letsencrypt-prod (TLS), external-dns (EKS, when a hosted zone is configured).
 */
import * as pulumi from "@pulumi/pulumi";
import type { OidcProvider } from "../aws/iam";
import { CertManager, CLUSTER_ISSUER } from "./cert-manager";
import { ExternalDns } from "./external-dns";
import { EnvoyGateway, GATEWAY_NAMESPACE, type GatewayHost, HTTP_LISTENER, listenerFor } from "./gateway";
import { AwsLoadBalancerController } from "./load-balancer-controller";

export interface TrafficArgs {
    /** The Gateway's hosts (api, grafana...), each admitting routes from one namespace. */
    hosts: GatewayHost[];
    /** HTTPS with Let's Encrypt (needs `acmeEmail`); off = plain HTTP (local only). */
    tls: boolean;
    acmeEmail?: string;
    /** Envoy proxy replicas. */
    proxyReplicas: number;
    /** Replicas of the controllers (Envoy Gateway, cert-manager's three deployments, the load balancer controller); PDBs when > 1. */
    controllerReplicas: number;
    /** EKS only: the NLB through the AWS Load Balancer Controller, and DNS through external-dns. */
    aws?: {
        clusterName: string;
        region: string;
        vpcId: pulumi.Input<string>;
        oidc: OidcProvider;
        /** Route 53 zone for external-dns; unset = no external-dns (records by hand). */
        hostedZoneId?: string;
        /** external-dns policy: upsert-only (prod) never deletes records, sync does. */
        dnsPolicy: "sync" | "upsert-only";
        tags?: Record<string, string>;
    };
}

export class Traffic extends pulumi.ComponentResource {
    public readonly gateway: EnvoyGateway;
    public readonly clusterIssuer?: string;
    /** Resources the routes wait for. */
    public readonly ready: pulumi.Resource[];
    private readonly hosts: GatewayHost[];

    constructor(name: string, args: TrafficArgs, opts?: pulumi.ComponentResourceOptions) {
        if (args.tls && args.acmeEmail === undefined) throw new Error(`Traffic ${name}: tls needs acmeEmail (the Let's Encrypt account)`);
        super("cli-platform:traffic:Traffic", name, {}, opts);
        const child = { parent: this };
        const lbc =
            args.aws &&
            new AwsLoadBalancerController(
                `${name}-lbc`,
                {
                    oidc: args.aws.oidc,
                    clusterName: args.aws.clusterName,
                    awsRegion: args.aws.region,
                    vpcId: args.aws.vpcId,
                    replicas: args.controllerReplicas,
                    tags: args.aws.tags,
                },
                child,
            );
        this.clusterIssuer = args.tls ? CLUSTER_ISSUER : undefined;
        this.gateway = new EnvoyGateway(
            `${name}-gateway`,
            {
                awsLoadBalancer: args.aws !== undefined,
                tls: args.tls,
                clusterIssuer: this.clusterIssuer,
                hosts: args.hosts,
                proxyReplicas: args.proxyReplicas,
                controllerReplicas: args.controllerReplicas,
                dependsOn: lbc ? [lbc.release] : [],
            },
            child,
        );
        this.ready = [...this.gateway.ready];
        if (args.tls) {
            const certManager = new CertManager(
                `${name}-cert-manager`,
                {
                    acmeEmail: args.acmeEmail!,
                    replicas: args.controllerReplicas,
                    solverParent: { gatewayName: this.gateway.gatewayName, gatewayNamespace: GATEWAY_NAMESPACE, sectionName: HTTP_LISTENER },
                    // gateway-shim needs the Gateway API CRDs (installed by the Envoy Gateway chart) when it starts.
                    dependsOn: [this.gateway.controller],
                },
                child,
            );
            this.ready.push(...certManager.ready);
        }
        if (args.aws?.hostedZoneId !== undefined) {
            new ExternalDns(
                `${name}-external-dns`,
                {
                    oidc: args.aws.oidc,
                    hostedZoneId: args.aws.hostedZoneId,
                    txtOwnerId: args.aws.clusterName,
                    policy: args.aws.dnsPolicy,
                    gatewayNamespace: GATEWAY_NAMESPACE,
                    awsRegion: args.aws.region,
                    tags: args.aws.tags,
                    dependsOn: [this.gateway.controller],
                },
                child,
            );
        }
        this.hosts = args.hosts;
        this.registerOutputs({ clusterIssuer: this.clusterIssuer });
    }

    /** The Gateway listener a host's routes attach to. */
    parentFor(hostName: string): { name: string; namespace: string; sectionName: string } {
        const host = this.hosts.find((h) => h.name === hostName);
        if (!host) throw new Error(`Traffic: no host named "${hostName}" (known: ${this.hosts.map((h) => h.name).join(", ")})`);
        return { name: this.gateway.gatewayName, namespace: GATEWAY_NAMESPACE, sectionName: listenerFor(host, this.gateway.tls) };
    }
}
