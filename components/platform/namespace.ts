import * as corev1 from "@pulumi/kubernetes/core/v1";
import * as networkingv1 from "@pulumi/kubernetes/networking/v1";
import * as pulumi from "@pulumi/pulumi";
import { PART_OF } from "../../lib/naming";
import { defaultDenySpec } from "./workloads";

export interface PlatformNamespaceArgs {
    /** Namespace name. */
    namespace: string;
    /** Pod Security Admission level enforced. @default "restricted" */
    podSecurity?: "restricted" | "baseline" | "privileged";
    /** Extra labels. @default {} */
    labels?: Record<string, string>;
    /** A NetworkPolicy denying all ingress and egress to every pod unless another policy allows it. @default true */
    defaultDeny?: boolean;
}

/** PSA labels: enforce, audit and warn at one level, pinned to `latest`. */
export function podSecurityLabels(level: string): Record<string, string> {
    return {
        "pod-security.kubernetes.io/enforce": level,
        "pod-security.kubernetes.io/enforce-version": "latest",
        "pod-security.kubernetes.io/audit": level,
        "pod-security.kubernetes.io/warn": level,
    };
}

/** A namespace with Pod Security Admission labels (restricted by default) and a default-deny NetworkPolicy. */
export class PlatformNamespace extends pulumi.ComponentResource {
    public readonly name: pulumi.Output<string>;

    constructor(name: string, args: PlatformNamespaceArgs, opts?: pulumi.ComponentResourceOptions) {
        super("cli-platform:k8s:PlatformNamespace", name, {}, opts);
        const ns = new corev1.Namespace(
            `${name}-ns`,
            {
                metadata: {
                    name: args.namespace,
                    labels: { ...podSecurityLabels(args.podSecurity ?? "restricted"), "app.kubernetes.io/part-of": PART_OF, ...args.labels },
                },
            },
            { parent: this },
        );
        if (args.defaultDeny ?? true) {
            new networkingv1.NetworkPolicy(
                `${name}-default-deny`,
                { metadata: { name: "default-deny", namespace: ns.metadata.name }, spec: defaultDenySpec() },
                { parent: this },
            );
        }
        this.name = ns.metadata.name;
        this.registerOutputs({ name: this.name });
    }
}
