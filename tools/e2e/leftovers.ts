/**
 * After `pulumi destroy`: is anything the stack created still in the cluster?
 *
 *   pulumi stack export --file before.json      # before the destroy
 *   pulumi destroy --yes
 *   ts-node --transpile-only tools/e2e/leftovers.ts before.json [--context kind-cli-platform] [--timeout 120]
 *
 * Reads the Kubernetes objects and Helm releases from the state exported before the destroy and
 * asks the cluster for each of them, until none is left or the timeout passes (namespaces and
 * volumes take a while to go). Also checks:
 *   - PersistentVolumes still bound to a claim in one of the stack's namespaces (dynamically
 *     provisioned, so not in the state);
 *   - cluster-scoped objects a Helm release created (ClusterRoles, bindings, webhooks,
 *     APIServices) by the release's `app.kubernetes.io/instance` label;
 *   - the namespace of a Helm release that the stack did not declare itself (a chart installed
 *     with createNamespace: Helm never deletes the namespace), except the system namespaces.
 * Not checked: CustomResourceDefinitions that charts install from their crds/ directory; Helm
 * never deletes those by design. Exit 0 when nothing is left, 1 with one line per leftover.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";

export interface KubeObject {
    apiVersion: string;
    kind: string;
    name: string;
    namespace?: string;
}

export interface Release {
    name: string;
    namespace: string;
}

interface StateResource {
    type: string;
    custom?: boolean;
    outputs?: Record<string, unknown>;
    inputs?: Record<string, unknown>;
}

/** What a destroyed stack must have removed: its Kubernetes objects and Helm releases. */
export function createdObjects(exported: unknown): { objects: KubeObject[]; releases: Release[]; namespaces: string[] } {
    const resources = (exported as { deployment?: { resources?: StateResource[] } })?.deployment?.resources;
    if (!Array.isArray(resources)) throw new Error("not a `pulumi stack export` document (no deployment.resources)");
    const objects: KubeObject[] = [];
    const releases: Release[] = [];
    for (const r of resources) {
        if (!r.custom || !r.type.startsWith("kubernetes:") || r.type.startsWith("pulumi:providers:")) continue;
        const o = r.outputs ?? {};
        if (r.type === "kubernetes:helm.sh/v3:Release") {
            const status = o.status as { name?: string; namespace?: string } | undefined;
            const name = status?.name ?? (o.name as string | undefined);
            const namespace = status?.namespace ?? (o.namespace as string | undefined) ?? "default";
            if (name) releases.push({ name, namespace });
            continue;
        }
        const meta = o.metadata as { name?: string; namespace?: string } | undefined;
        if (typeof o.apiVersion !== "string" || typeof o.kind !== "string" || !meta?.name) continue;
        objects.push({ apiVersion: o.apiVersion, kind: o.kind, name: meta.name, ...(meta.namespace ? { namespace: meta.namespace } : {}) });
    }
    const namespaces = [
        ...new Set([
            ...objects.filter((o) => o.kind === "Namespace" && o.apiVersion === "v1").map((o) => o.name),
            ...objects.flatMap((o) => (o.namespace ? [o.namespace] : [])),
            ...releases.map((r) => r.namespace),
        ]),
    ].sort();
    return { objects, releases, namespaces };
}

/** PersistentVolumes (from `kubectl get pv -o json`) still bound to a claim in one of `namespaces`. */
export function boundVolumes(pvList: unknown, namespaces: string[]): string[] {
    const items = (pvList as { items?: { metadata?: { name?: string }; spec?: { claimRef?: { namespace?: string; name?: string } } }[] })?.items ?? [];
    return items
        .filter((pv) => pv.spec?.claimRef?.namespace !== undefined && namespaces.includes(pv.spec.claimRef.namespace))
        .map((pv) => `PersistentVolume ${pv.metadata?.name} (claim ${pv.spec!.claimRef!.namespace}/${pv.spec!.claimRef!.name})`);
}

/** Namespaces every cluster has before any stack: never expected to go. */
export const SYSTEM_NAMESPACES = ["default", "kube-system", "kube-public", "kube-node-lease"];

/** Cluster-scoped kinds a chart may create outside its namespace. */
export const CLUSTER_SCOPED_KINDS = "clusterroles,clusterrolebindings,mutatingwebhookconfigurations,validatingwebhookconfigurations,apiservices";

export type Kubectl = (args: string[], stdin?: string) => { status: number; stdout: string; stderr: string };

/** Everything of `created` the cluster still has, one line each. */
export function leftovers(created: ReturnType<typeof createdObjects>, kubectl: Kubectl): string[] {
    const out: string[] = [];
    for (const o of created.objects) {
        const manifest = JSON.stringify({
            apiVersion: o.apiVersion,
            kind: o.kind,
            metadata: { name: o.name, ...(o.namespace ? { namespace: o.namespace } : {}) },
        });
        const r = kubectl(["get", "-f", "-", "--ignore-not-found", "-o", "name"], manifest);
        const what = `${o.kind} ${o.namespace ? `${o.namespace}/` : ""}${o.name}`;
        if (r.status !== 0) {
            // The object's type is gone with its CRD: so is the object.
            if (/no matches for kind|the server doesn't have a resource type|could not find the requested resource/.test(r.stderr)) continue;
            throw new Error(`kubectl get ${what}: ${r.stderr.trim().split("\n")[0]}`);
        }
        if (r.stdout.trim() !== "") out.push(what);
    }
    for (const rel of created.releases) {
        const secrets = kubectl(["get", "secrets", "-n", rel.namespace, "-l", `owner=helm,name=${rel.name}`, "-o", "name"]);
        if (secrets.status !== 0) throw new Error(`kubectl get secrets -n ${rel.namespace}: ${secrets.stderr.trim().split("\n")[0]}`);
        if (secrets.stdout.trim() !== "") out.push(`Helm release ${rel.namespace}/${rel.name}`);
        const cluster = kubectl(["get", CLUSTER_SCOPED_KINDS, "-l", `app.kubernetes.io/instance=${rel.name}`, "-o", "name"]);
        if (cluster.status !== 0) throw new Error(`kubectl get ${CLUSTER_SCOPED_KINDS}: ${cluster.stderr.trim().split("\n")[0]}`);
        for (const line of cluster.stdout.split("\n").filter(Boolean)) out.push(`${line} (Helm release ${rel.name})`);
    }
    // A chart installed with createNamespace leaves its namespace behind (helm uninstall never deletes one).
    const stackNamespaces = new Set(created.objects.filter((o) => o.kind === "Namespace").map((o) => o.name));
    for (const ns of new Set(created.releases.map((r) => r.namespace))) {
        if (stackNamespaces.has(ns) || SYSTEM_NAMESPACES.includes(ns)) continue;
        const r = kubectl(["get", "namespace", ns, "--ignore-not-found", "-o", "name"]);
        if (r.status !== 0) throw new Error(`kubectl get namespace ${ns}: ${r.stderr.trim().split("\n")[0]}`);
        const names = created.releases.filter((x) => x.namespace === ns).map((x) => x.name);
        if (r.stdout.trim() !== "") out.push(`Namespace ${ns} (Helm release namespace: ${names.join(", ")})`);
    }
    const pvs = kubectl(["get", "pv", "-o", "json"]);
    if (pvs.status !== 0) throw new Error(`kubectl get pv: ${pvs.stderr.trim().split("\n")[0]}`);
    out.push(...boundVolumes(JSON.parse(pvs.stdout), created.namespaces));
    return out;
}

function parseArgs(argv: string[]): { file: string; context?: string; timeoutMs: number } {
    let file: string | undefined;
    let context: string | undefined;
    let timeoutMs = 120_000;
    for (let i = 0; i < argv.length; i++) {
        if (argv[i] === "--context") context = argv[++i];
        else if (argv[i] === "--timeout") {
            const n = Number(argv[++i]);
            if (!Number.isInteger(n) || n < 0) throw new Error(`--timeout = ${JSON.stringify(argv[i])}: must be a whole number of seconds`);
            timeoutMs = n * 1000;
        } else if (argv[i].startsWith("-")) throw new Error(`unknown option ${argv[i]}`);
        else file = argv[i];
    }
    if (!file) throw new Error("usage: leftovers.ts <pulumi stack export file> [--context CONTEXT] [--timeout SECONDS]");
    return { file, context, timeoutMs };
}

async function main(): Promise<number> {
    const { file, context, timeoutMs } = parseArgs(process.argv.slice(2));
    const created = createdObjects(JSON.parse(fs.readFileSync(file, "utf8")));
    const kubectl: Kubectl = (args, stdin) => {
        const r = spawnSync("kubectl", [...(context ? ["--context", context] : []), ...args], { input: stdin, encoding: "utf8" });
        if (r.error) throw r.error;
        return { status: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
    };
    console.log(`checking ${created.objects.length} objects, ${created.releases.length} Helm releases and the volumes of ${created.namespaces.join(", ")}`);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const left = leftovers(created, kubectl);
        if (left.length === 0) {
            console.log("nothing left");
            return 0;
        }
        if (Date.now() > deadline) {
            for (const l of left) console.log(`left: ${l}`);
            console.log(`${left.length} object(s) left after ${timeoutMs / 1000} s`);
            return 1;
        }
        await new Promise((r) => setTimeout(r, 5000));
    }
}

if (require.main === module) {
    main().then(
        (code) => process.exit(code),
        (err: unknown) => {
            process.stderr.write(`leftovers: ${(err as Error).message}\n`);
            process.exit(2);
        },
    );
}
