import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { CHARTS } from "../versions";
import { chartRelease } from "../helm";

export interface IngressControllersArgs {
    /** Put ingress-nginx behind an AWS Network Load Balancer (EKS), else a NodePort. */
    awsLoadBalancer: boolean;
    /** Let's Encrypt account e-mail; with it, cert-manager and the `letsencrypt-prod` ClusterIssuer are installed. */
    acmeEmail?: string;
    /** Replicas of the controller and of cert-manager. */
    replicas: number;
}

export const INGRESS_NAMESPACE = "ingress-nginx";
export const CERT_MANAGER_NAMESPACE = "cert-manager";
export const CLUSTER_ISSUER = "letsencrypt-prod";

/** ingress-nginx values: NLB on EKS, hardened defaults, metrics for Prometheus. */
export function ingressNginxValues(awsLoadBalancer: boolean, replicas: number): Record<string, unknown> {
    return {
        controller: {
            replicaCount: replicas,
            ingressClassResource: { name: "nginx", default: true },
            service: awsLoadBalancer
                ? {
                      type: "LoadBalancer",
                      externalTrafficPolicy: "Local",
                      annotations: {
                          "service.beta.kubernetes.io/aws-load-balancer-type": "nlb",
                          "service.beta.kubernetes.io/aws-load-balancer-scheme": "internet-facing",
                          "service.beta.kubernetes.io/aws-load-balancer-cross-zone-load-balancing-enabled": "true",
                      },
                  }
                : { type: "NodePort" },
            config: {
                "use-forwarded-headers": "false",
                "server-tokens": "false",
                hsts: "true",
                "ssl-protocols": "TLSv1.2 TLSv1.3",
                "allow-snippet-annotations": "false",
            },
            resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "512Mi" } },
            podDisruptionBudget: { enabled: replicas > 1, maxUnavailable: 1 },
            metrics: { enabled: true, serviceMonitor: { enabled: false } },
            admissionWebhooks: { enabled: true },
        },
    };
}

/** The letsencrypt-prod ClusterIssuer (ACME, HTTP-01 through the nginx class). */
export function clusterIssuerSpec(email: string): Record<string, unknown> {
    return {
        acme: {
            server: "https://acme-v02.api.letsencrypt.org/directory",
            email,
            privateKeySecretRef: { name: `${CLUSTER_ISSUER}-account-key` },
            solvers: [{ http01: { ingress: { ingressClassName: "nginx" } } }],
        },
    };
}

/**
 * ingress-nginx (behind an NLB on EKS) and, for TLS, cert-manager with its CRDs and the
 * `letsencrypt-prod` ClusterIssuer. Both from their maintained Helm charts, pinned.
 */
export class IngressControllers extends pulumi.ComponentResource {
    public readonly ingressClassName = "nginx";
    public readonly clusterIssuer?: string;
    /** Resources an Ingress using TLS must wait for. */
    public readonly ready: pulumi.Resource[];

    constructor(name: string, args: IngressControllersArgs, opts?: pulumi.ComponentResourceOptions) {
        const replicas = args.replicas;
        if (args.acmeEmail !== undefined && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(args.acmeEmail)) {
            throw new Error(`IngressControllers ${name}: acmeEmail "${args.acmeEmail}" is not an e-mail address`);
        }
        super("cli-platform:ingress:IngressControllers", name, {}, opts);
        const k8sOpts = { parent: this };
        const nginx = chartRelease(
            `${name}-nginx`,
            CHARTS.ingressNginx,
            {
                name: "ingress-nginx",
                namespace: INGRESS_NAMESPACE,
                createNamespace: true,
                values: ingressNginxValues(args.awsLoadBalancer, replicas),
                atomic: true,
            },
            k8sOpts,
        );
        this.ready = [nginx];
        if (args.acmeEmail !== undefined) {
            const certManager = chartRelease(
                `${name}-cert-manager`,
                CHARTS.certManager,
                {
                    name: "cert-manager",
                    namespace: CERT_MANAGER_NAMESPACE,
                    createNamespace: true,
                    values: { crds: { enabled: true, keep: true }, replicaCount: replicas, podDisruptionBudget: { enabled: replicas > 1 } },
                    atomic: true,
                },
                k8sOpts,
            );
            const issuer = new k8s.apiextensions.CustomResource(
                `${name}-issuer`,
                { apiVersion: "cert-manager.io/v1", kind: "ClusterIssuer", metadata: { name: CLUSTER_ISSUER }, spec: clusterIssuerSpec(args.acmeEmail) },
                { ...k8sOpts, dependsOn: [certManager] },
            );
            this.clusterIssuer = CLUSTER_ISSUER;
            this.ready.push(certManager, issuer);
        }
        this.registerOutputs({ ingressClassName: this.ingressClassName, clusterIssuer: this.clusterIssuer });
    }
}
