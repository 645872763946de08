/** Names, labels and tags shared by every component. Pure functions. */

export const PART_OF = "cli-platform";

/** Recommended Kubernetes labels (app.kubernetes.io/*). */
export function k8sLabels(name: string, component: string, instance: string = name): Record<string, string> {
    return {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/instance": instance,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": PART_OF,
        "app.kubernetes.io/managed-by": "pulumi",
    };
}

/** The subset of k8sLabels that identifies pods: stable across upgrades, safe for selectors. */
export function selectorLabels(name: string, instance: string = name): Record<string, string> {
    return { "app.kubernetes.io/name": name, "app.kubernetes.io/instance": instance };
}

/** Tags on every AWS resource of a stack. */
export function awsTags(stack: string, extra: Record<string, string> = {}): Record<string, string> {
    return { project: PART_OF, stack, "managed-by": "pulumi", ...extra };
}

/** The EKS cluster's fixed name: subnet tags and autoscaler discovery need it before the cluster exists. */
export function clusterNameFor(stack: string): string {
    return `${PART_OF}-${stack}`;
}
