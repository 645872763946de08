/**
 * Envoy Gateway (Gateway API) as the platform's one entry point: the controller from its OCI chart,
 * an EnvoyProxy per environment (NLB on EKS, NodePort elsewhere), the GatewayClass, one Gateway
 * with an HTTP listener (redirect to HTTPS when TLS is on) and an HTTPS listener per host, and on
 * EKS a ClientTrafficPolicy that reads the NLB's PROXY protocol header (the client's real address,
 * which the per-client-IP rate limit counts).
 */
import { CustomResource } from "@pulumi/kubernetes/apiextensions/customResource";
import * as pulumi from "@pulumi/pulumi";
import { PART_OF } from "../../lib/naming";
import { chartRelease } from "../helm";
import { PlatformNamespace } from "../platform/namespace";
import { CHARTS } from "../versions";

/** Namespace of the Envoy Gateway controller, its proxies (the data plane) and the Gateway. */
export const GATEWAY_NAMESPACE = "envoy-gateway-system";
export const GATEWAY_CLASS = "envoy-gateway";
export const GATEWAY_NAME = "platform";
/** The Gateway's plain-HTTP listener (redirect and ACME HTTP-01 when TLS is on). */
export const HTTP_LISTENER = "http";
/** Labels Envoy Gateway v1.9 puts on every proxy pod (internal/infrastructure/kubernetes/proxy/resource.go, EnvoyAppLabel). */
export const PROXY_POD_LABELS = {
    "app.kubernetes.io/name": "envoy",
    "app.kubernetes.io/component": "proxy",
    "app.kubernetes.io/managed-by": "envoy-gateway",
} as const;
/** The NetworkPolicy peer of the Gateway's proxy pods (for the backends' ingress rules). */
export function gatewayProxyPeer(): { namespaceSelector: { matchLabels: Record<string, string> }; podSelector: { matchLabels: Record<string, string> } } {
    return { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": GATEWAY_NAMESPACE } }, podSelector: { matchLabels: { ...PROXY_POD_LABELS } } };
}
/** Selector of the Envoy Gateway controller's Service (gateway-helm templates/envoy-gateway-service.yaml). */
export const CONTROLLER_SERVICE_LABELS = { "control-plane": "envoy-gateway" } as const;
/** The proxies' Prometheus stats: container port "metrics" (19001, bootstrap.EnvoyStatsPort) at Envoy's stats path. */
export const PROXY_METRICS = { port: "metrics", path: "/stats/prometheus" } as const;
/** uid/gid of the Envoy Gateway images (distroless nonroot). */
const ENVOY_UID = 65532;

/** One public host of the Gateway: its HTTPS listener admits routes from exactly one namespace. */
export interface GatewayHost {
    /** Short name: the listener is `https-<name>`, the certificate Secret `<name>-tls`. */
    name: string;
    host: string;
    /** The namespace whose HTTPRoutes may attach to this host's listener. */
    routeNamespace: string;
}

export interface EnvoyGatewayArgs {
    /** EKS: an internet-facing NLB (AWS Load Balancer Controller, IP targets, PROXY protocol v2). Otherwise a NodePort Service. */
    awsLoadBalancer: boolean;
    /** HTTPS listeners (certificates from `clusterIssuer`) and an HTTP-to-HTTPS redirect; off = one plain HTTP listener. */
    tls: boolean;
    /** cert-manager ClusterIssuer named in the Gateway's annotation; required with `tls`. */
    clusterIssuer?: string;
    hosts: GatewayHost[];
    /** Envoy proxy replicas; a PDB (minAvailable 1) when more than one. */
    proxyReplicas: number;
    /** Controller replicas; a PDB (minAvailable 1) when more than one. Default 1. */
    controllerReplicas?: number;
    /** Resources that must exist before the Gateway (e.g. the load balancer controller, cert-manager). Default none. */
    dependsOn?: pulumi.Resource[];
}

/** The listener a host's routes attach to. */
export function listenerFor(host: GatewayHost, tls: boolean): string {
    return tls ? `https-${host.name}` : HTTP_LISTENER;
}

const restrictedContainer = {
    allowPrivilegeEscalation: false,
    capabilities: { drop: ["ALL"] },
    privileged: false,
    readOnlyRootFilesystem: true,
    runAsNonRoot: true,
    runAsUser: ENVOY_UID,
    runAsGroup: ENVOY_UID,
    seccompProfile: { type: "RuntimeDefault" },
};

/** gateway-helm values: controller replicas, PDB, resources; the chart's restricted security contexts are kept. */
export function envoyGatewayValues(controllerReplicas: number): Record<string, unknown> {
    return {
        deployment: {
            replicas: controllerReplicas,
            envoyGateway: { resources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { cpu: "1", memory: "1024Mi" } } },
        },
        podDisruptionBudget: { minAvailable: controllerReplicas > 1 ? 1 : 0 },
        config: { envoyGateway: { logging: { level: { default: "info" } } } },
    };
}

/** Annotations of the proxies' Service on EKS, read by the AWS Load Balancer Controller. */
export const NLB_ANNOTATIONS = {
    "service.beta.kubernetes.io/aws-load-balancer-type": "external",
    "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "ip",
    "service.beta.kubernetes.io/aws-load-balancer-scheme": "internet-facing",
    // PROXY protocol v2 carries the client's address to Envoy (IP targets do not preserve it).
    "service.beta.kubernetes.io/aws-load-balancer-proxy-protocol": "*",
    "service.beta.kubernetes.io/aws-load-balancer-attributes": "load_balancing.cross_zone.enabled=true",
} as const;

/** EnvoyProxy spec (gateway.envoyproxy.io/v1alpha1): Service, replicas, PDB, resources, restricted pods. */
export function envoyProxySpec(a: { awsLoadBalancer: boolean; replicas: number }): Record<string, unknown> {
    return {
        provider: {
            type: "Kubernetes",
            kubernetes: {
                envoyService: a.awsLoadBalancer ? { type: "LoadBalancer", annotations: { ...NLB_ANNOTATIONS } } : { type: "NodePort" },
                envoyDeployment: {
                    replicas: a.replicas,
                    pod: {
                        labels: { "app.kubernetes.io/part-of": PART_OF },
                        securityContext: {
                            runAsNonRoot: true,
                            runAsUser: ENVOY_UID,
                            runAsGroup: ENVOY_UID,
                            fsGroup: ENVOY_UID,
                            seccompProfile: { type: "RuntimeDefault" },
                        },
                        topologySpreadConstraints: ["topology.kubernetes.io/zone", "kubernetes.io/hostname"].map((topologyKey) => ({
                            maxSkew: 1,
                            topologyKey,
                            whenUnsatisfiable: "ScheduleAnyway",
                            labelSelector: { matchLabels: { ...PROXY_POD_LABELS } },
                        })),
                    },
                    // Applies to the envoy and shutdown-manager containers (it replaces EG's default context).
                    container: {
                        resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { cpu: "1", memory: "512Mi" } },
                        securityContext: restrictedContainer,
                    },
                },
                ...(a.replicas > 1 ? { envoyPDB: { minAvailable: 1 } } : {}),
            },
        },
    };
}

/** Gateway spec: an HTTP listener and, with TLS, one HTTPS listener per host, each open to one namespace's HTTPRoutes. */
export function gatewaySpec(a: { tls: boolean; hosts: GatewayHost[] }): Record<string, unknown> {
    const fromNamespaces = (namespaces: string[]) => ({
        namespaces: {
            from: "Selector",
            selector: { matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "In", values: [...new Set(namespaces)].sort() }] },
        },
        kinds: [{ group: "gateway.networking.k8s.io", kind: "HTTPRoute" }],
    });
    const http = {
        name: HTTP_LISTENER,
        protocol: "HTTP",
        port: 80,
        // With TLS only the redirect and cert-manager's HTTP-01 solver routes (both in the Gateway's namespace) attach here.
        allowedRoutes: a.tls
            ? { namespaces: { from: "Same" }, kinds: [{ group: "gateway.networking.k8s.io", kind: "HTTPRoute" }] }
            : fromNamespaces(a.hosts.map((h) => h.routeNamespace)),
    };
    if (!a.tls) return { gatewayClassName: GATEWAY_CLASS, listeners: [http] };
    return {
        gatewayClassName: GATEWAY_CLASS,
        listeners: [
            http,
            ...a.hosts.map((h) => ({
                name: listenerFor(h, true),
                protocol: "HTTPS",
                port: 443,
                hostname: h.host,
                tls: { mode: "Terminate", certificateRefs: [{ group: "", kind: "Secret", name: `${h.name}-tls` }] },
                allowedRoutes: fromNamespaces([h.routeNamespace]),
            })),
        ],
    };
}

/** The HTTP listener's one route: a 301 to HTTPS for every host and path (ACME's exact-path routes take precedence). */
export function httpsRedirectRouteSpec(): Record<string, unknown> {
    return {
        parentRefs: [{ group: "gateway.networking.k8s.io", kind: "Gateway", name: GATEWAY_NAME, sectionName: HTTP_LISTENER }],
        rules: [{ filters: [{ type: "RequestRedirect", requestRedirect: { scheme: "https", statusCode: 301 } }] }],
    };
}

/** ClientTrafficPolicy: the Gateway's listeners require the NLB's PROXY protocol header (no header, no connection). */
export function proxyProtocolPolicySpec(): Record<string, unknown> {
    return {
        targetRefs: [{ group: "gateway.networking.k8s.io", kind: "Gateway", name: GATEWAY_NAME }],
        proxyProtocol: {},
    };
}

/**
 * Envoy Gateway and the platform's Gateway. Routes attach from their own namespaces
 * (`GatewayRoute`), to the listener `listenerFor(host, tls)`.
 */
export class EnvoyGateway extends pulumi.ComponentResource {
    public readonly gatewayName = GATEWAY_NAME;
    public readonly gatewayNamespace = GATEWAY_NAMESPACE;
    public readonly tls: boolean;
    /** The controller release (it installs the Gateway API CRDs that cert-manager's gateway-shim needs at start). */
    public readonly controller: pulumi.Resource;
    /** Resources a route must wait for (CRDs, the Gateway). */
    public readonly ready: pulumi.Resource[];

    constructor(name: string, args: EnvoyGatewayArgs, opts?: pulumi.ComponentResourceOptions) {
        if (args.tls && !args.clusterIssuer) throw new Error(`EnvoyGateway ${name}: tls needs a clusterIssuer`);
        if (args.hosts.length === 0) throw new Error(`EnvoyGateway ${name}: hosts must list at least one host`);
        const names = args.hosts.map((h) => h.name);
        const dup = names.find((n, i) => names.indexOf(n) !== i);
        if (dup !== undefined) throw new Error(`EnvoyGateway ${name}: host name "${dup}" is listed twice; listener names must be unique`);
        if (args.proxyReplicas < 1) throw new Error(`EnvoyGateway ${name}: proxyReplicas must be >= 1, got ${args.proxyReplicas}`);
        super("cli-platform:traffic:EnvoyGateway", name, {}, opts);
        const k8sOpts = { parent: this };
        this.tls = args.tls;

        const ns = new PlatformNamespace(`${name}-ns`, { namespace: GATEWAY_NAMESPACE, defaultDeny: false }, { parent: this });
        const chart = chartRelease(
            `${name}-controller`,
            CHARTS.envoyGateway,
            {
                name: "eg",
                namespace: ns.name,
                // Installs the Gateway API (v1.6.1) and Envoy Gateway CRDs through its `crds` subchart.
                values: envoyGatewayValues(args.controllerReplicas ?? 1),
                atomic: true,
                timeout: 600,
            },
            { ...k8sOpts, dependsOn: args.dependsOn ?? [] },
        );
        const after = { ...k8sOpts, dependsOn: [chart] };
        const labels = { "app.kubernetes.io/part-of": PART_OF };
        const proxyConfig = new CustomResource(
            `${name}-proxy-config`,
            {
                apiVersion: "gateway.envoyproxy.io/v1alpha1",
                kind: "EnvoyProxy",
                metadata: { name: "platform-proxy", namespace: GATEWAY_NAMESPACE, labels },
                spec: envoyProxySpec({ awsLoadBalancer: args.awsLoadBalancer, replicas: args.proxyReplicas }),
            },
            after,
        );
        const gatewayClass = new CustomResource(
            `${name}-class`,
            {
                apiVersion: "gateway.networking.k8s.io/v1",
                kind: "GatewayClass",
                metadata: { name: GATEWAY_CLASS, labels },
                spec: {
                    controllerName: "gateway.envoyproxy.io/gatewayclass-controller",
                    parametersRef: { group: "gateway.envoyproxy.io", kind: "EnvoyProxy", name: "platform-proxy", namespace: GATEWAY_NAMESPACE },
                },
            },
            { ...k8sOpts, dependsOn: [chart, proxyConfig] },
        );
        const gateway = new CustomResource(
            `${name}-gateway`,
            {
                apiVersion: "gateway.networking.k8s.io/v1",
                kind: "Gateway",
                metadata: {
                    name: GATEWAY_NAME,
                    namespace: GATEWAY_NAMESPACE,
                    labels,
                    // cert-manager's gateway-shim issues a Certificate per HTTPS listener (hostname -> certificateRefs Secret).
                    ...(args.tls ? { annotations: { "cert-manager.io/cluster-issuer": args.clusterIssuer! } } : {}),
                },
                spec: gatewaySpec({ tls: args.tls, hosts: args.hosts }),
            },
            { ...k8sOpts, dependsOn: [gatewayClass] },
        );
        this.controller = chart;
        this.ready = [chart, gateway];
        if (args.tls) {
            new CustomResource(
                `${name}-https-redirect`,
                {
                    apiVersion: "gateway.networking.k8s.io/v1",
                    kind: "HTTPRoute",
                    metadata: { name: "https-redirect", namespace: GATEWAY_NAMESPACE, labels },
                    spec: httpsRedirectRouteSpec(),
                },
                { ...k8sOpts, dependsOn: [gateway] },
            );
        }
        if (args.awsLoadBalancer) {
            new CustomResource(
                `${name}-proxy-protocol`,
                {
                    apiVersion: "gateway.envoyproxy.io/v1alpha1",
                    kind: "ClientTrafficPolicy",
                    metadata: { name: "proxy-protocol", namespace: GATEWAY_NAMESPACE, labels },
                    spec: proxyProtocolPolicySpec(),
                },
                { ...k8sOpts, dependsOn: [gateway] },
            );
        }
        this.registerOutputs({ gatewayName: this.gatewayName, gatewayNamespace: this.gatewayNamespace });
    }
}
