/** Rules that span fields or depend on the environment. */
import { memoryBytes } from "../lib/k8s";
import { cidrContains, cidrsOverlap, defaultSubnetPlan, parseCidr } from "../lib/cidr";
import { keyName, problem } from "./errors";
import { PROJECT, REQUIRED_LOG_TYPES, type PlatformConfig } from "./schema";

function parseCpu(q: string): number {
    return q.endsWith("m") ? Number(q.slice(0, -1)) / 1000 : Number(q);
}

/** Rules that span fields or depend on the environment. Fills in the planned subnet CIDRs. */
export function crossFieldProblems(cfg: PlatformConfig): string[] {
    const out: string[] = [];
    const { network, cluster, environment } = cfg;

    if (network) {
        const vpc = parseCidr(network.cidr)!;
        if (vpc.prefix < 16 || vpc.prefix > 20) {
            out.push(problem(["network", "cidr"], network.cidr, "the VPC prefix must be between /16 and /20"));
        } else {
            const plan = defaultSubnetPlan(network.cidr, network.azCount);
            for (const kind of ["public", "private"] as const) {
                const key = kind === "public" ? "publicSubnetCidrs" : "privateSubnetCidrs";
                const given = network[key];
                if (given === undefined) {
                    network[key] = plan[kind];
                    continue;
                }
                if (given.length !== network.azCount) {
                    out.push(problem(["network", key], given, `must list exactly one CIDR per AZ (network.azCount = ${network.azCount})`));
                }
                given.forEach((c, i) => {
                    if (!cidrContains(vpc, parseCidr(c)!)) out.push(problem(["network", key, i], c, `must lie inside the VPC CIDR ${network.cidr}`));
                });
            }
            const all = (["publicSubnetCidrs", "privateSubnetCidrs"] as const).flatMap((key) =>
                (network[key] ?? []).map((cidr, i) => ({ path: ["network", key, i], cidr })),
            );
            all.forEach((a, i) =>
                all.slice(i + 1).forEach((b) => {
                    if (cidrsOverlap(parseCidr(a.cidr)!, parseCidr(b.cidr)!)) {
                        out.push(problem(a.path, a.cidr, `overlaps ${keyName(b.path)} (${b.cidr}); subnets must be disjoint`));
                    }
                }),
            );
        }
    }

    if (cluster) {
        const seen = new Set<string>();
        cluster.nodeGroups.forEach((ng, i) => {
            const path = ["cluster", "nodeGroups", i];
            if (seen.has(ng.name)) out.push(problem([...path, "name"], ng.name, "node group names must be unique"));
            seen.add(ng.name);
            if (ng.minSize > ng.maxSize) out.push(problem([...path, "minSize"], ng.minSize, `must be <= maxSize (${ng.maxSize})`));
            else if (ng.desiredSize < ng.minSize || ng.desiredSize > ng.maxSize) {
                out.push(problem([...path, "desiredSize"], ng.desiredSize, `must be between minSize (${ng.minSize}) and maxSize (${ng.maxSize})`));
            }
        });
        const missing = REQUIRED_LOG_TYPES.filter((t) => !cluster.logTypes.includes(t));
        if (missing.length > 0)
            out.push(problem(["cluster", "logTypes"], cluster.logTypes, `must include ${REQUIRED_LOG_TYPES.join(", ")} (missing ${missing.join(", ")})`));
        if (!cluster.endpointPublicAccess && cluster.publicAccessCidrs.length > 0) {
            out.push(problem(["cluster", "publicAccessCidrs"], cluster.publicAccessCidrs, "must be empty when cluster.endpointPublicAccess is false"));
        }
        if (cluster.endpointPublicAccess && cluster.publicAccessCidrs.length === 0) {
            out.push(
                problem(
                    ["cluster", "publicAccessCidrs"],
                    cluster.publicAccessCidrs,
                    "must list at least one CIDR when cluster.endpointPublicAccess is true (or turn public access off)",
                ),
            );
        }
        if (environment === "prod" && cluster.publicAccessCidrs.some((c) => parseCidr(c)!.prefix === 0)) {
            out.push(
                problem(
                    ["cluster", "publicAccessCidrs"],
                    cluster.publicAccessCidrs,
                    "prod may not open the API endpoint to 0.0.0.0/0; list your office/VPN CIDRs",
                ),
            );
        }
    }

    if (environment === "local") {
        if (cfg.postgres.mode !== "in-cluster") out.push(problem(["postgres", "mode"], cfg.postgres.mode, 'the local stack has no AWS; must be "in-cluster"'));
        if (cfg.redis.mode !== "in-cluster") out.push(problem(["redis", "mode"], cfg.redis.mode, 'the local stack has no AWS; must be "in-cluster"'));
        if (cfg.logging.sink === "opensearch" || cfg.logging.sink === "cloudwatch") {
            out.push(problem(["logging", "sink"], cfg.logging.sink, 'the local stack has no AWS; must be "stdout" or "none"'));
        }
    }

    for (const name of ["api", "runner"] as const) {
        const w = cfg.service[name];
        const path = ["service", name];
        if (w.minReplicas > w.maxReplicas) out.push(problem([...path, "minReplicas"], w.minReplicas, `must be <= maxReplicas (${w.maxReplicas})`));
        if (w.replicas < w.minReplicas || w.replicas > w.maxReplicas) {
            out.push(problem([...path, "replicas"], w.replicas, `must be between minReplicas (${w.minReplicas}) and maxReplicas (${w.maxReplicas})`));
        }
        if (parseCpu(w.cpuRequest) > parseCpu(w.cpuLimit)) out.push(problem([...path, "cpuRequest"], w.cpuRequest, `must be <= cpuLimit (${w.cpuLimit})`));
        if (memoryBytes(w.memoryRequest) > memoryBytes(w.memoryLimit)) {
            out.push(problem([...path, "memoryRequest"], w.memoryRequest, `must be <= memoryLimit (${w.memoryLimit})`));
        }
    }

    if (cfg.redis.mode === "elasticache" && cfg.redis.multiAz && cfg.redis.nodeCount < 2) {
        out.push(problem(["redis", "nodeCount"], cfg.redis.nodeCount, "must be >= 2 when redis.multiAz is true (a replica in another AZ)"));
    }
    if (cfg.ingress.enabled && cfg.ingress.tls && cfg.ingress.acmeEmail === undefined) {
        out.push(problem(["ingress", "acmeEmail"], undefined, "required when ingress.tls is true (the Let's Encrypt account e-mail)"));
    }
    if (cfg.monitoring.alertReceiver !== "none" && cfg.secrets.alertWebhookUrl === undefined) {
        out.push(
            `${PROJECT}:alertWebhookUrl = (unset): required when monitoring.alertReceiver is "${cfg.monitoring.alertReceiver}" ` +
                `(pulumi config set --secret alertWebhookUrl <url>)`,
        );
    }
    return out;
}
