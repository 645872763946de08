/**
 * A Service exposed on the platform's Gateway: an HTTPRoute in the Service's own namespace for
 * its host, and optionally per-client-IP rate limits on chosen method + exact path pairs.
 *
 * A limited request gets its own HTTPRoute (an exact path and method match, which Gateway API
 * ranks above the catch-all prefix route) and a BackendTrafficPolicy targeting only that route:
 * Envoy matches routes on the normalised path without the query string, so `/evolve?x=1` or
 * `//evolve` cannot slip past the limit, and no other request is counted.
 */
import { CustomResource } from "@pulumi/kubernetes/apiextensions/customResource";
import * as pulumi from "@pulumi/pulumi";
import { PART_OF } from "../../lib/naming";

export interface RateLimit {
    method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
    /** Exact request path, e.g. "/evolve". */
    path: string;
    /** Requests per minute per client IP, per Envoy replica (a local limit; see docs). Above it: 429. */
    requestsPerMinute: number;
}

export interface GatewayRouteArgs {
    /** Namespace of the Service and of the routes (the listener must admit it). */
    namespace: pulumi.Input<string>;
    host: string;
    service: { name: pulumi.Input<string>; port: number };
    /** The Gateway and the listener the routes attach to. */
    gateway: { name: string; namespace: string; sectionName: string };
    /** Answer with `Strict-Transport-Security` (HTTPS listeners only). Default false. */
    hsts?: boolean;
    /** Rate-limited method + path pairs. Default none. */
    rateLimits?: RateLimit[];
    /** Resources the routes wait for (the Gateway, its CRDs). Default none. */
    dependsOn?: pulumi.Resource[];
}

type Spec = Record<string, unknown>;

/** HSTS for a year: browsers never try plain HTTP on the host again. */
export const HSTS = { name: "Strict-Transport-Security", value: "max-age=31536000" } as const;

/** An HTTPRoute spec for `host` sending `matches` (default: every path) to one Service port. */
export function httpRouteSpec(a: Omit<GatewayRouteArgs, "namespace" | "rateLimits" | "dependsOn">, matches?: Spec[]): Spec {
    return {
        parentRefs: [
            { group: "gateway.networking.k8s.io", kind: "Gateway", name: a.gateway.name, namespace: a.gateway.namespace, sectionName: a.gateway.sectionName },
        ],
        hostnames: [a.host],
        rules: [
            {
                matches: matches ?? [{ path: { type: "PathPrefix", value: "/" } }],
                ...(a.hsts ? { filters: [{ type: "ResponseHeaderModifier", responseHeaderModifier: { set: [{ ...HSTS }] } }] } : {}),
                backendRefs: [{ group: "", kind: "Service", name: a.service.name, port: a.service.port }],
            },
        ],
    };
}

/** BackendTrafficPolicy spec: a local rate limit on one HTTPRoute, one bucket per client address (IPv4 and IPv6). */
export function rateLimitPolicySpec(routeName: string, requestsPerMinute: number): Spec {
    return {
        targetRefs: [{ group: "gateway.networking.k8s.io", kind: "HTTPRoute", name: routeName }],
        rateLimit: {
            local: {
                rules: ["0.0.0.0/0", "::/0"].map((cidr) => ({
                    clientSelectors: [{ sourceCIDR: { type: "Distinct", value: cidr } }],
                    limit: { requests: requestsPerMinute, unit: "Minute" },
                })),
            },
        },
    };
}

/** The route name of a rate-limited method + path, e.g. cli-api + POST /evolve -> cli-api-post-evolve. */
export function limitedRouteName(base: string, limit: RateLimit): string {
    return `${base}-${limit.method.toLowerCase()}-${limit.path
        .replace(/[^a-z0-9]+/gi, "-")
        .replace(/^-|-$/g, "")
        .toLowerCase()}`;
}

export class GatewayRoute extends pulumi.ComponentResource {
    /** Names of the HTTPRoutes (the catch-all first). */
    public readonly routeNames: string[];

    constructor(name: string, args: GatewayRouteArgs, opts?: pulumi.ComponentResourceOptions) {
        for (const l of args.rateLimits ?? []) {
            if (!/^\/[A-Za-z0-9._~\-/]*$/.test(l.path))
                throw new Error(`GatewayRoute ${name}: rate limit path "${l.path}" must be an absolute path without query`);
            if (!Number.isInteger(l.requestsPerMinute) || l.requestsPerMinute < 1) {
                throw new Error(`GatewayRoute ${name}: requestsPerMinute for ${l.method} ${l.path} must be an integer >= 1, got ${l.requestsPerMinute}`);
            }
        }
        super("cli-platform:traffic:GatewayRoute", name, {}, opts);
        const k8sOpts = { parent: this, dependsOn: args.dependsOn ?? [] };
        const labels = { "app.kubernetes.io/name": name, "app.kubernetes.io/part-of": PART_OF };
        const route = (logical: string, routeName: string, spec: Spec) =>
            new CustomResource(
                logical,
                { apiVersion: "gateway.networking.k8s.io/v1", kind: "HTTPRoute", metadata: { name: routeName, namespace: args.namespace, labels }, spec },
                k8sOpts,
            );
        route(`${name}-route`, name, httpRouteSpec(args));
        this.routeNames = [name];
        for (const limit of args.rateLimits ?? []) {
            const routeName = limitedRouteName(name, limit);
            const limited = route(`${routeName}-route`, routeName, httpRouteSpec(args, [{ path: { type: "Exact", value: limit.path }, method: limit.method }]));
            new CustomResource(
                `${routeName}-ratelimit`,
                {
                    apiVersion: "gateway.envoyproxy.io/v1alpha1",
                    kind: "BackendTrafficPolicy",
                    metadata: { name: `${routeName}-ratelimit`, namespace: args.namespace, labels },
                    spec: rateLimitPolicySpec(routeName, limit.requestsPerMinute),
                },
                { ...k8sOpts, dependsOn: [limited] },
            );
            this.routeNames.push(routeName);
        }
        this.registerOutputs({ routeNames: this.routeNames });
    }
}
