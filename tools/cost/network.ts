/** NAT gateways, Elastic IPs and load balancers (aws:lb ones and Services of type LoadBalancer). */
import type { RecordedResource } from "../harness";
import { byType, type Context, isObj, line, pathOf, shortPath, str, usage, walk } from "./core";

const LB_TYPE_ANNOTATION = "service.beta.kubernetes.io/aws-load-balancer-type";
const LB_SCHEME_ANNOTATION = "service.beta.kubernetes.io/aws-load-balancer-scheme";
const NLB_CLASS = "service.k8s.aws/nlb";
const ELB_SUBNET_TAG = "kubernetes.io/role/elb";

export function priceNetwork(ctx: Context): void {
    for (const r of byType(ctx, "aws:ec2/natGateway:NatGateway")) {
        line(ctx, { id: `nat:${r.name}`, service: "VPC", resource: r.name, description: "NAT gateway", quantity: 1, unit: "hour", priceKey: "nat:hour" });
        usage(ctx, { id: `nat:${r.name}:data`, service: "VPC", resource: r.name, description: "NAT gateway data processed", priceKey: "nat:gb", unit: "GB" });
    }
    for (const r of byType(ctx, "aws:ec2/eip:Eip")) {
        line(ctx, {
            id: `ipv4:${r.name}`,
            service: "VPC",
            resource: r.name,
            description: "public IPv4 address (Elastic IP)",
            quantity: 1,
            unit: "hour",
            priceKey: "ipv4:hour",
        });
    }
}

/** Every Service of type LoadBalancer in Kubernetes objects, Helm values and proxy specs. */
export function findLoadBalancerServices(
    resources: RecordedResource[],
): { resource: RecordedResource; path: string; annotations: Record<string, string>; loadBalancerClass?: string }[] {
    const found: { resource: RecordedResource; path: string; annotations: Record<string, string>; loadBalancerClass?: string }[] = [];
    for (const r of resources) {
        if (!r.type.startsWith("kubernetes:")) continue;
        walk(r.inputs, (node, ancestors, key) => {
            // Envoy Gateway deploys the proxy Service as LoadBalancer unless its envoyService says
            // otherwise (gateway.envoyproxy.io docs, "Gateway Address").
            const envoyDefault = key === "envoyService" && node.type === undefined;
            if (node.type !== "LoadBalancer" && !envoyDefault) return;
            // A Service object keeps annotations in metadata; Helm values and proxy specs next to `type`.
            const parent = ancestors[ancestors.length - 1];
            const own = isObj(node.annotations) ? node.annotations : undefined;
            const meta =
                parent && parent.spec === node && isObj(parent.metadata) && isObj(parent.metadata.annotations) ? parent.metadata.annotations : undefined;
            const annotations = Object.fromEntries(Object.entries(own ?? meta ?? {}).filter(([, v]) => typeof v === "string")) as Record<string, string>;
            const keys = ancestors.length === 0 ? [] : pathOf(r.inputs, node);
            found.push({ resource: r, path: keys.join("."), annotations, loadBalancerClass: str(node.loadBalancerClass) });
        });
    }
    return found;
}

export function priceLoadBalancers(ctx: Context, onEks: boolean): void {
    const elbSubnets = byType(ctx, "aws:ec2/subnet:Subnet").filter((s) => isObj(s.inputs.tags) && s.inputs.tags[ELB_SUBNET_TAG] === "1").length;
    const publicIps = (resource: string, id: string) => {
        if (elbSubnets === 0) {
            ctx.pricer.warn(`load balancer ${resource}: no subnet tagged ${ELB_SUBNET_TAG}=1, its public IPv4 addresses are not priced`);
            return;
        }
        line(ctx, {
            id: `${id}:ipv4`,
            service: "ELB",
            resource,
            description: `public IPv4 addresses, one per subnet tagged ${ELB_SUBNET_TAG}`,
            quantity: elbSubnets,
            unit: "hour",
            priceKey: "ipv4:hour",
        });
    };
    for (const r of byType(ctx, "aws:lb/loadBalancer:LoadBalancer")) {
        const kind = str(r.inputs.loadBalancerType) ?? "application";
        line(ctx, {
            id: `elb:${r.name}`,
            service: "ELB",
            resource: r.name,
            description: `${kind} load balancer`,
            quantity: 1,
            unit: "hour",
            priceKey: `elb:${kind}-hour`,
        });
        const subnets =
            (Array.isArray(r.inputs.subnets) ? r.inputs.subnets.length : 0) + (Array.isArray(r.inputs.subnetMappings) ? r.inputs.subnetMappings.length : 0);
        if (r.inputs.internal !== true && subnets > 0) {
            line(ctx, {
                id: `elb:${r.name}:ipv4`,
                service: "ELB",
                resource: r.name,
                description: "public IPv4 addresses, one per subnet",
                quantity: subnets,
                unit: "hour",
                priceKey: "ipv4:hour",
            });
        }
        usage(ctx, {
            id: `elb:${r.name}:lcu`,
            service: "ELB",
            resource: r.name,
            description: `${kind} load balancer capacity units`,
            priceKey: kind === "network" ? "elb:nlcu" : "elb:lcu",
            unit: "LCU-hour",
        });
    }
    if (!onEks) return; // Services of type LoadBalancer only become AWS load balancers on EKS.
    for (const svc of findLoadBalancerServices(ctx.resources)) {
        const type = svc.annotations[LB_TYPE_ANNOTATION];
        // The AWS Load Balancer Controller takes Services with its class or type external/nlb-ip and makes
        // them internal unless the scheme says internet-facing (its docs, "Network Load Balancer": internal
        // by default since v2.2.0); the in-tree cloud provider makes them internet-facing unless marked internal.
        const byController = svc.loadBalancerClass === NLB_CLASS || type === "external" || type === "nlb-ip";
        const nlb = byController || type === "nlb";
        const scheme = svc.annotations[LB_SCHEME_ANNOTATION];
        const internal = byController
            ? scheme !== "internet-facing"
            : scheme === "internal" || svc.annotations["service.beta.kubernetes.io/aws-load-balancer-internal"] === "true";
        const short = shortPath(svc.path.split("."));
        const where = short ? `${svc.resource.name}:${short}` : svc.resource.name;
        const id = `elb:${where}`;
        line(ctx, {
            id,
            service: "ELB",
            resource: where,
            description: nlb
                ? "Network Load Balancer for a Service of type LoadBalancer"
                : "Classic Load Balancer for a Service of type LoadBalancer (no NLB annotation: the cloud provider's default)",
            quantity: 1,
            unit: "hour",
            priceKey: nlb ? "elb:network-hour" : "elb:classic-hour",
        });
        if (!internal) publicIps(where, id);
        usage(
            ctx,
            nlb
                ? {
                      id: `${id}:lcu`,
                      service: "ELB",
                      resource: where,
                      description: "NLB capacity units (connections, bytes)",
                      priceKey: "elb:nlcu",
                      unit: "NLCU-hour",
                  }
                : { id: `${id}:data`, service: "ELB", resource: where, description: "Classic LB data processed", priceKey: "elb:classic-gb", unit: "GB" },
        );
    }
}
