/**
 * The platform's security rules as pure functions over a resource's type and inputs. The policy
 * pack (policy/index.ts) enforces them in `pulumi preview --policy-pack policy`; the tests run them
 * offline over what the harness records for every stack, and over broken fixtures.
 * This module imports nothing from @pulumi/policy so the tests never load the pack's entry.
 */

export interface ResourceUnderTest {
    type: string;
    name: string;
    props: Record<string, unknown>;
}

export interface Rule {
    name: string;
    description: string;
    /** Violation messages for one resource (empty: compliant). */
    check(r: ResourceUnderTest): string[];
}

type Obj = Record<string, unknown>;
const WORKLOAD_TYPES: Record<string, (props: Obj) => Obj | undefined> = {
    "kubernetes:apps/v1:Deployment": (p) => ((p.spec as Obj)?.template as Obj)?.spec as Obj,
    "kubernetes:apps/v1:StatefulSet": (p) => ((p.spec as Obj)?.template as Obj)?.spec as Obj,
    "kubernetes:apps/v1:DaemonSet": (p) => ((p.spec as Obj)?.template as Obj)?.spec as Obj,
    "kubernetes:batch/v1:Job": (p) => ((p.spec as Obj)?.template as Obj)?.spec as Obj,
    "kubernetes:batch/v1:CronJob": (p) => ((((p.spec as Obj)?.jobTemplate as Obj)?.spec as Obj)?.template as Obj)?.spec as Obj,
    "kubernetes:core/v1:Pod": (p) => p.spec as Obj,
};

function containersOf(r: ResourceUnderTest): { pod: Obj; containers: Obj[] } | undefined {
    const pod = WORKLOAD_TYPES[r.type]?.(r.props);
    if (!pod) return undefined;
    return { pod, containers: [...((pod.initContainers as Obj[]) ?? []), ...((pod.containers as Obj[]) ?? [])] };
}

const who = (r: ResourceUnderTest, c?: Obj) => `${r.type.split(":").pop()} ${r.name}${c ? ` container ${String(c.name)}` : ""}`;

export const containerLimits: Rule = {
    name: "containers-have-resource-limits",
    description: "Every container sets CPU and memory limits.",
    check(r) {
        const w = containersOf(r);
        if (!w) return [];
        return w.containers
            .filter((c) => {
                const limits = (c.resources as Obj | undefined)?.limits as Obj | undefined;
                return !limits?.cpu || !limits?.memory;
            })
            .map((c) => `${who(r, c)} has no CPU and memory limits`);
    },
};

export const containerHardening: Rule = {
    name: "containers-run-restricted",
    description: "Every container runs as non-root with a read-only root filesystem and no privilege escalation.",
    check(r) {
        const w = containersOf(r);
        if (!w) return [];
        const podNonRoot = (w.pod.securityContext as Obj | undefined)?.runAsNonRoot === true;
        const out: string[] = [];
        for (const c of w.containers) {
            const sc = (c.securityContext as Obj | undefined) ?? {};
            if (!(sc.runAsNonRoot === true || (podNonRoot && sc.runAsNonRoot !== false))) out.push(`${who(r, c)} may run as root (runAsNonRoot is not true)`);
            if (sc.readOnlyRootFilesystem !== true) out.push(`${who(r, c)} has a writable root filesystem (readOnlyRootFilesystem is not true)`);
            if (sc.allowPrivilegeEscalation !== false) out.push(`${who(r, c)} allows privilege escalation (allowPrivilegeEscalation is not false)`);
        }
        return out;
    },
};

/** The only namespace allowed to own a LoadBalancer Service: the Gateway's (Envoy Gateway creates it for its proxies). */
export const LOAD_BALANCER_NAMESPACE = "envoy-gateway-system";

export const noLoadBalancerServices: Rule = {
    name: "no-loadbalancer-services",
    description: `Services of type LoadBalancer exist only for the Gateway (namespace ${LOAD_BALANCER_NAMESPACE}).`,
    check(r) {
        if (r.type !== "kubernetes:core/v1:Service") return [];
        const type = (r.props.spec as Obj | undefined)?.type;
        const ns = (r.props.metadata as Obj | undefined)?.namespace;
        return type === "LoadBalancer" && ns !== LOAD_BALANCER_NAMESPACE
            ? [`Service ${r.name} in namespace ${String(ns)} is of type LoadBalancer; only the Gateway may be`]
            : [];
    },
};

export const noIngressObjects: Rule = {
    name: "no-ingress-objects",
    description: "Traffic enters through the Gateway (Gateway API HTTPRoutes); networking.k8s.io/v1 Ingress objects are not used.",
    check(r) {
        return r.type === "kubernetes:networking.k8s.io/v1:Ingress"
            ? [`Ingress ${r.name} is a networking.k8s.io/v1 Ingress; expose it with an HTTPRoute on the platform's Gateway instead`]
            : [];
    },
};

const OPEN = ["0.0.0.0/0", "::/0"];
/** Tag marking a load balancer's security group, the one place 80/443 may be open to the world. */
export const LB_ROLE_TAG = { key: "cli-platform/role", value: "load-balancer" };

export const noOpenSecurityGroups: Rule = {
    name: "no-world-open-security-groups",
    description: "No security group admits 0.0.0.0/0 (or ::/0), except ports 80/443 on a load balancer's group.",
    check(r) {
        type Rule = { fromPort?: number; toPort?: number; cidrBlocks?: string[]; ipv6CidrBlocks?: string[]; cidrIpv4?: string; cidrIpv6?: string };
        let rules: Rule[] = [];
        let isLb = false;
        if (r.type === "aws:ec2/securityGroup:SecurityGroup") {
            rules = (r.props.ingress as Rule[]) ?? [];
            isLb = (r.props.tags as Obj | undefined)?.[LB_ROLE_TAG.key] === LB_ROLE_TAG.value;
        } else if (r.type === "aws:ec2/securityGroupRule:SecurityGroupRule" && r.props.type === "ingress") rules = [r.props as Rule];
        else if (r.type === "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule") rules = [r.props as Rule];
        else return [];
        return rules
            .filter((rule) =>
                [...(rule.cidrBlocks ?? []), ...(rule.ipv6CidrBlocks ?? []), rule.cidrIpv4, rule.cidrIpv6].some((c) => c !== undefined && OPEN.includes(c)),
            )
            .filter((rule) => !(isLb && [80, 443].includes(rule.fromPort ?? -1) && rule.fromPort === rule.toPort))
            .map((rule) => `${who(r)} admits the whole internet on ports ${rule.fromPort}-${rule.toPort}; only 80/443 on a load balancer's group may be`);
    },
};

export const managedDataEncryptedPrivate: Rule = {
    name: "managed-data-encrypted-and-private",
    description: "RDS instances and ElastiCache replication groups are encrypted and not publicly reachable.",
    check(r) {
        const p = r.props;
        if (r.type === "aws:rds/instance:Instance") {
            const out: string[] = [];
            if (p.storageEncrypted !== true) out.push(`${who(r)} storage is not encrypted (storageEncrypted)`);
            if (p.publiclyAccessible === true) out.push(`${who(r)} is publicly accessible`);
            return out;
        }
        if (r.type === "aws:elasticache/replicationGroup:ReplicationGroup") {
            const out: string[] = [];
            if (p.atRestEncryptionEnabled !== true) out.push(`${who(r)} is not encrypted at rest (atRestEncryptionEnabled)`);
            if (p.transitEncryptionEnabled !== true) out.push(`${who(r)} is not encrypted in transit (transitEncryptionEnabled)`);
            if (!p.subnetGroupName) out.push(`${who(r)} has no private subnet group (subnetGroupName)`);
            return out;
        }
        return [];
    },
};

export const ecrScanOnPush: Rule = {
    name: "ecr-scan-on-push",
    description: "ECR repositories scan images on push.",
    check(r) {
        if (r.type !== "aws:ecr/repository:Repository") return [];
        return (r.props.imageScanningConfiguration as Obj | undefined)?.scanOnPush === true ? [] : [`${who(r)} does not scan images on push`];
    },
};

export const REQUIRED_CONTROL_PLANE_LOGS = ["api", "audit", "authenticator"];

export const eksSecretsEncryptionAndLogs: Rule = {
    name: "eks-secrets-encryption-and-logs",
    description: "EKS clusters encrypt Secrets with KMS and ship api, audit and authenticator logs.",
    check(r) {
        if (r.type !== "aws:eks/cluster:Cluster") return [];
        const out: string[] = [];
        const enc = r.props.encryptionConfig as { resources?: string[]; provider?: { keyArn?: string } } | undefined;
        if (!enc?.resources?.includes("secrets") || !enc.provider?.keyArn) out.push(`${who(r)} does not encrypt Secrets with a KMS key (encryptionConfig)`);
        const logs = (r.props.enabledClusterLogTypes as string[] | undefined) ?? [];
        const missing = REQUIRED_CONTROL_PLANE_LOGS.filter((l) => !logs.includes(l));
        if (missing.length) out.push(`${who(r)} does not ship control-plane logs ${missing.join(", ")}`);
        return out;
    },
};

/** `repo@sha256:…` or `repo:tag` with a tag other than latest. */
export function imageIsImmutable(image: string): boolean {
    if (/@sha256:[0-9a-f]{64}$/.test(image)) return true;
    const lastSegment = image.split("/").pop() ?? image;
    const tag = lastSegment.includes(":") ? lastSegment.split(":").pop()! : "";
    return tag !== "" && tag !== "latest";
}

export const noMutableImageTags: Rule = {
    name: "no-mutable-image-tags",
    description: "Containers run a digest or a fixed tag, never latest or an untagged image.",
    check(r) {
        const w = containersOf(r);
        if (!w) return [];
        return w.containers
            .filter((c) => typeof c.image === "string" && !imageIsImmutable(c.image))
            .map((c) => `${who(r, c)} runs the mutable image "${String(c.image)}"; pin a digest or a version tag`);
    },
};

export const RULES: Rule[] = [
    containerLimits,
    containerHardening,
    noLoadBalancerServices,
    noIngressObjects,
    noOpenSecurityGroups,
    managedDataEncryptedPrivate,
    ecrScanOnPush,
    eksSecretsEncryptionAndLogs,
    noMutableImageTags,
];

/** Every violation of every rule over a set of resources, as "rule: message". */
export function violations(resources: ResourceUnderTest[]): string[] {
    return resources.flatMap((r) => RULES.flatMap((rule) => rule.check(r).map((m) => `${rule.name}: ${m}`)));
}
