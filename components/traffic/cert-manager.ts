/**
 * cert-manager with Gateway API support and the `letsencrypt-prod` ClusterIssuer, whose ACME
 * HTTP-01 challenges are answered through the Gateway's HTTP listener (gatewayHTTPRoute solver).
 */
import { CustomResource } from "@pulumi/kubernetes/apiextensions/customResource";
import * as pulumi from "@pulumi/pulumi";
import { chartRelease } from "../helm";
import { CHARTS } from "../versions";

export const CERT_MANAGER_NAMESPACE = "cert-manager";
export const CLUSTER_ISSUER = "letsencrypt-prod";

export interface CertManagerArgs {
    /** Let's Encrypt account e-mail. */
    acmeEmail: string;
    /** Replicas of the controller, webhook and cainjector; PDBs when more than one. */
    replicas: number;
    /** The Gateway listener the HTTP-01 solver routes attach to. */
    solverParent: { gatewayName: string; gatewayNamespace: string; sectionName: string };
    /** Resources the chart waits for: with Gateway API support on, the Gateway API CRDs must exist when the controller starts. Default none. */
    dependsOn?: pulumi.Resource[];
}

/**
 * The URNs cert-manager's release and the ClusterIssuer had when they were children of the retired
 * `IngressControllers` component ("ingress"): as aliases, an existing stack keeps both (same Helm
 * release, same issuer and ACME account) instead of replacing them, which would collide on names.
 */
export function ingressEraUrns(): { chart: pulumi.Output<string>; issuer: pulumi.Output<string> } {
    const parent = pulumi.createUrn("ingress", "cli-platform:ingress:IngressControllers");
    return {
        chart: pulumi.createUrn("ingress-cert-manager", "kubernetes:helm.sh/v3:Release", parent),
        issuer: pulumi.createUrn("ingress-issuer", "kubernetes:cert-manager.io/v1:ClusterIssuer", parent),
    };
}

/** cert-manager values: CRDs kept on uninstall, Gateway API on, the same replicas and PDB for all three deployments. */
export function certManagerValues(replicas: number): Record<string, unknown> {
    const ha = { replicaCount: replicas, podDisruptionBudget: { enabled: replicas > 1, minAvailable: 1 } };
    return {
        crds: { enabled: true, keep: true },
        ...ha,
        // ControllerConfiguration (controller.config.cert-manager.io/v1alpha1): `gatewayAPI.enabled` replaces
        // the deprecated `enableGatewayAPI` in v1.21 (pkg/apis/config/controller/v1alpha1/types.go).
        config: { apiVersion: "controller.config.cert-manager.io/v1alpha1", kind: "ControllerConfiguration", gatewayAPI: { enabled: true } },
        webhook: { ...ha },
        cainjector: { ...ha },
    };
}

/** The letsencrypt-prod ClusterIssuer: ACME HTTP-01 through an HTTPRoute on the Gateway's HTTP listener. */
export function clusterIssuerSpec(email: string, parent: CertManagerArgs["solverParent"]): Record<string, unknown> {
    return {
        acme: {
            server: "https://acme-v02.api.letsencrypt.org/directory",
            email,
            privateKeySecretRef: { name: `${CLUSTER_ISSUER}-account-key` },
            solvers: [
                {
                    http01: {
                        gatewayHTTPRoute: {
                            parentRefs: [
                                {
                                    group: "gateway.networking.k8s.io",
                                    kind: "Gateway",
                                    name: parent.gatewayName,
                                    namespace: parent.gatewayNamespace,
                                    sectionName: parent.sectionName,
                                },
                            ],
                        },
                    },
                },
            ],
        },
    };
}

/** cert-manager (pinned chart, CRDs) and the letsencrypt-prod ClusterIssuer. */
export class CertManager extends pulumi.ComponentResource {
    public readonly clusterIssuer = CLUSTER_ISSUER;
    /** Resources a Gateway using the issuer must wait for. */
    public readonly ready: pulumi.Resource[];

    constructor(name: string, args: CertManagerArgs, opts?: pulumi.ComponentResourceOptions) {
        if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(args.acmeEmail)) throw new Error(`CertManager ${name}: acmeEmail "${args.acmeEmail}" is not an e-mail address`);
        if (args.replicas < 1) throw new Error(`CertManager ${name}: replicas must be >= 1, got ${args.replicas}`);
        super("cli-platform:traffic:CertManager", name, {}, opts);
        const k8sOpts = { parent: this };
        const previous = ingressEraUrns();
        const chart = chartRelease(
            `${name}-chart`,
            CHARTS.certManager,
            { name: "cert-manager", namespace: CERT_MANAGER_NAMESPACE, createNamespace: true, values: certManagerValues(args.replicas), atomic: true },
            { ...k8sOpts, dependsOn: args.dependsOn ?? [], aliases: [previous.chart] },
        );
        const issuer = new CustomResource(
            `${name}-issuer`,
            {
                apiVersion: "cert-manager.io/v1",
                kind: "ClusterIssuer",
                metadata: { name: CLUSTER_ISSUER },
                spec: clusterIssuerSpec(args.acmeEmail, args.solverParent),
            },
            { ...k8sOpts, dependsOn: [chart], aliases: [previous.issuer] },
        );
        this.ready = [chart, issuer];
        this.registerOutputs({ clusterIssuer: this.clusterIssuer });
    }
}
