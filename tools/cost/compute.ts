/** EKS control planes and node groups (EC2 at the on-demand ceiling, root volumes). */
import type { PriceEntry } from "./price-table";
import { byType, type Context, isObj, line, num, str } from "./core";

export function priceEks(ctx: Context): void {
    for (const r of byType(ctx, "aws:eks/cluster:Cluster")) {
        line(ctx, {
            id: `eks:${r.name}`,
            service: "EKS",
            resource: r.name,
            description: `control plane (Kubernetes ${str(r.inputs.version) ?? "default"}, standard support)`,
            quantity: 1,
            unit: "hour",
            priceKey: "eks:cluster-hour",
        });
    }
}

export function priceNodeGroups(ctx: Context): void {
    const templates = byType(ctx, "aws:ec2/launchTemplate:LaunchTemplate");
    for (const r of byType(ctx, "aws:eks/nodeGroup:NodeGroup")) {
        const scaling = isObj(r.inputs.scalingConfig) ? r.inputs.scalingConfig : {};
        const desired = num(scaling.desiredSize) ?? 0;
        const min = num(scaling.minSize) ?? desired;
        const max = num(scaling.maxSize) ?? desired;
        const capacity = str(r.inputs.capacityType) ?? "ON_DEMAND";
        const types = Array.isArray(r.inputs.instanceTypes) ? r.inputs.instanceTypes.filter((t): t is string => typeof t === "string") : [];
        if (types.length === 0) {
            ctx.pricer.warn(`node group ${r.name} names no instance types: not priced`);
            continue;
        }
        // The ceiling: the most expensive of its types. A type missing from the table is a warning
        // (Pricer.get); if any is missing the ceiling is unknown, so the line stays unpriced.
        const prices = types.map((t) => ctx.pricer.get(`ec2:${t}`, `node group ${r.name}`));
        const known = prices.every((p): p is PriceEntry => p !== null);
        const ceilingIndex = known ? prices.reduce((best, p, i) => (p.usd > prices[best]!.usd ? i : best), 0) : 0;
        const ceilingType = types[ceilingIndex];
        const hourly = known ? prices[ceilingIndex]!.usd : null;
        const notes: string[] = [];
        if (capacity === "SPOT") notes.push(`SPOT: priced at the on-demand ceiling (${ceilingType}); the spot price is lower and varies`);
        else if (types.length > 1) notes.push(`priced at the most expensive of its types (${ceilingType})`);
        ctx.lines.push({
            id: `ec2:${r.name}`,
            service: "EC2",
            resource: r.name,
            description: `node group: ${desired} x ${types.join("|")} ${capacity} (min ${min}, max ${max})`,
            quantity: desired,
            unit: "hour",
            priceKey: `ec2:${ceilingType}`,
            unitPrice: hourly,
            monthly: hourly === null ? null : desired * hourly * ctx.hours,
            ...(hourly === null ? {} : { range: { min: min * hourly * ctx.hours, max: max * hourly * ctx.hours } }),
            notes,
        });

        // Root volumes: from the launch template the node group uses, else the node group's diskSize.
        const ltRef = isObj(r.inputs.launchTemplate) ? r.inputs.launchTemplate : undefined;
        const lt = ltRef
            ? templates.find((t) => (ltRef.id !== undefined && t.id === ltRef.id) || (ltRef.name !== undefined && t.inputs.name === ltRef.name))
            : undefined;
        const mapping = lt && Array.isArray(lt.inputs.blockDeviceMappings) ? lt.inputs.blockDeviceMappings.find((m) => isObj(m) && isObj(m.ebs)) : undefined;
        const ebs = isObj(mapping) && isObj(mapping.ebs) ? mapping.ebs : undefined;
        const size = num(ebs?.volumeSize) ?? num(r.inputs.diskSize);
        const volumeType = str(ebs?.volumeType) ?? (num(r.inputs.diskSize) !== undefined ? "gp2" : undefined);
        if (size === undefined || volumeType === undefined) {
            ctx.pricer.warn(`node group ${r.name}: root volume size/type not in its inputs or launch template: not priced`);
            continue;
        }
        const volume = line(ctx, {
            id: `ebs:${r.name}:root`,
            service: "EBS",
            resource: r.name,
            description: `node root volumes: ${desired} x ${size} GiB ${volumeType}`,
            quantity: desired * size,
            unit: "GB-month",
            priceKey: `ebs:${volumeType}`,
        });
        if (volume.unitPrice !== null) volume.range = { min: min * size * volume.unitPrice, max: max * size * volume.unitPrice };
    }
}
