/** EBS volumes behind persistent volume claims, typed by their StorageClass. */
import type { RecordedResource } from "../harness";
import { type Context, isObj, line, num, pathOf, shortPath, str, walk } from "./core";

const EBS_CSI = "ebs.csi.aws.com";

/** Kubernetes quantity ("10Gi", "500Mi", "1Ti", "20G") in GiB. */
export function quantityGiB(q: string): number | undefined {
    const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$/.exec(q.trim());
    if (!m) return undefined;
    const n = Number(m[1]);
    const bytes: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15 };
    return (n * (m[2] ? bytes[m[2]] : 1)) / 2 ** 30;
}

interface Claim {
    resource: RecordedResource;
    path: string;
    gib: number;
    replicas: number;
    storageClass?: string;
}

/** Persistent volume claims wherever they are declared (objects, claim templates, Helm values). */
export function findVolumeClaims(resources: RecordedResource[]): Claim[] {
    const claims: Claim[] = [];
    for (const r of resources) {
        if (!r.type.startsWith("kubernetes:") || r.type.startsWith("kubernetes:storage.k8s.io/")) continue;
        walk(r.inputs, (node, ancestors, key) => {
            const requests = isObj(node.resources) && isObj(node.resources.requests) ? node.resources.requests : undefined;
            const pvcSize = str(requests?.storage);
            const persistenceSize = key === "persistence" && node.enabled === true && node.type !== "emptyDir" ? str(node.size) : undefined;
            const size = pvcSize ?? persistenceSize;
            if (size === undefined) return;
            const gib = quantityGiB(size);
            if (gib === undefined) return;
            // Claim templates are stamped once per replica of the nearest workload that has replicas.
            const inTemplate = ancestors.some((a) => Array.isArray(a.volumeClaimTemplates) || isObj(a.volumeClaimTemplate));
            const owner = inTemplate ? [...ancestors].reverse().find((a) => num(a.replicas) !== undefined) : undefined;
            claims.push({
                resource: r,
                path: pathOf(r.inputs, node).join("."),
                gib,
                replicas: num(owner?.replicas) ?? 1,
                storageClass: str(node.storageClassName),
            });
        });
    }
    return claims;
}

export function priceVolumes(ctx: Context): void {
    const classes = ctx.resources.filter((r) => r.type === "kubernetes:storage.k8s.io/v1:StorageClass");
    const className = (r: RecordedResource) => (isObj(r.inputs.metadata) ? str(r.inputs.metadata.name) : undefined) ?? r.name;
    const defaultClass = classes.find(
        (c) =>
            isObj(c.inputs.metadata) &&
            isObj(c.inputs.metadata.annotations) &&
            c.inputs.metadata.annotations["storageclass.kubernetes.io/is-default-class"] === "true",
    );
    for (const claim of findVolumeClaims(ctx.resources)) {
        const sc = claim.storageClass ? classes.find((c) => className(c) === claim.storageClass) : defaultClass;
        const short = shortPath(claim.path.split("."));
        const where = short ? `${claim.resource.name}:${short}` : claim.resource.name;
        const volumeType = sc && sc.inputs.provisioner === EBS_CSI && isObj(sc.inputs.parameters) ? (str(sc.inputs.parameters.type) ?? "gp3") : undefined;
        if (!volumeType) {
            ctx.pricer.warn(
                `volume claim ${where}: storage class ${claim.storageClass ?? "(cluster default)"} is not an ${EBS_CSI} class in this stack: not priced`,
            );
            continue;
        }
        line(ctx, {
            id: `ebs:${where}`,
            service: "EBS",
            resource: where,
            description: `volume claim: ${claim.replicas > 1 ? `${claim.replicas} x ` : ""}${claim.gib} GiB ${volumeType} (${className(sc!)})`,
            quantity: claim.replicas * claim.gib,
            unit: "GB-month",
            priceKey: `ebs:${volumeType}`,
        });
    }
}
