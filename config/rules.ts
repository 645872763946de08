/** Rules that span fields or depend on the environment. */
import { memoryBytes } from "../lib/k8s";
import { cidrContains, cidrsOverlap, defaultSubnetPlan, parseCidr } from "../lib/cidr";
import { runnerMemoryBudgetMib } from "../service/src/runner/limits";
import { keyName, problem } from "./errors";
import { PROJECT, REQUIRED_LOG_TYPES, type PlatformConfig } from "./schema";

/** A CIDR the schema has already validated. */
function cidr(text: string) {
    const parsed = parseCidr(text);
    if (parsed === undefined) throw new Error(`${text} is not a CIDR (the schema should have rejected it)`);
    return parsed;
}

function parseCpu(q: string): number {
    return q.endsWith("m") ? Number(q.slice(0, -1)) / 1000 : Number(q);
}

/** Rules that span fields or depend on the environment. Fills in the planned subnet CIDRs. */
export function crossFieldProblems(cfg: PlatformConfig): string[] {
    const out: string[] = [];
    const { environment } = cfg;

    if (cfg.target === "aws") {
        const { network, cluster } = cfg;
        if (network.flowLogs && network.flowLogRetentionDays === undefined) {
            out.push(problem(["network", "flowLogRetentionDays"], undefined, "required when network.flowLogs is true"));
        }
        const vpc = cidr(network.cidr);
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
                    if (!cidrContains(vpc, cidr(c))) out.push(problem(["network", key, i], c, `must lie inside the VPC CIDR ${network.cidr}`));
                });
            }
            const all = (["publicSubnetCidrs", "privateSubnetCidrs"] as const).flatMap((key) =>
                (network[key] ?? []).map((text, i) => ({ path: ["network", key, i], text })),
            );
            all.forEach((a, i) =>
                all.slice(i + 1).forEach((b) => {
                    if (cidrsOverlap(cidr(a.text), cidr(b.text))) {
                        out.push(problem(a.path, a.text, `overlaps ${keyName(b.path)} (${b.text}); subnets must be disjoint`));
                    }
                }),
            );
        }

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
        if ((environment === "prod" || environment === "staging") && cluster.publicAccessCidrs.some((c) => cidr(c).prefix === 0)) {
            out.push(
                problem(
                    ["cluster", "publicAccessCidrs"],
                    cluster.publicAccessCidrs,
                    `${environment} may not open the API endpoint to 0.0.0.0/0; list your office/VPN CIDRs`,
                ),
            );
        }
    }

    for (const name of ["api", "runner"] as const) {
        const w = cfg.service[name];
        const path = ["service", name];
        if (w.minReplicas > w.maxReplicas) out.push(problem([...path, "minReplicas"], w.minReplicas, `must be <= maxReplicas (${w.maxReplicas})`));
        if (parseCpu(w.cpuRequest) > parseCpu(w.cpuLimit)) out.push(problem([...path, "cpuRequest"], w.cpuRequest, `must be <= cpuLimit (${w.cpuLimit})`));
        if (memoryBytes(w.memoryRequest) > memoryBytes(w.memoryLimit)) {
            out.push(problem([...path, "memoryRequest"], w.memoryRequest, `must be <= memoryLimit (${w.memoryLimit})`));
        }
    }
    const runnerBudget = runnerMemoryBudgetMib();
    if (memoryBytes(cfg.service.runner.memoryLimit) < runnerBudget * 1024 * 1024) {
        out.push(
            problem(
                ["service", "runner", "memoryLimit"],
                cfg.service.runner.memoryLimit,
                `must be >= ${runnerBudget}Mi, the runner's worst-case memory with its default 2 sandboxes (service/README.md "Runner memory budget")`,
            ),
        );
    }

    if (cfg.redis.mode === "elasticache" && cfg.redis.multiAz && cfg.redis.nodeCount < 2) {
        out.push(problem(["redis", "nodeCount"], cfg.redis.nodeCount, "must be >= 2 when redis.multiAz is true (a replica in another AZ)"));
    }
    const { traffic } = cfg;
    if (traffic.enabled && traffic.tls && traffic.acmeEmail === undefined) {
        out.push(problem(["traffic", "acmeEmail"], undefined, "required when traffic.tls is true (the Let's Encrypt account e-mail)"));
    }
    if (traffic.enabled && !traffic.tls && traffic.acmeEmail !== undefined) {
        out.push(problem(["traffic", "acmeEmail"], traffic.acmeEmail, "used only when traffic.tls is true; remove it or turn tls on"));
    }
    if (cfg.target === "aws" && traffic.enabled && !traffic.tls) {
        out.push(problem(["traffic", "tls"], traffic.tls, "must be true on AWS: every internet-facing listener is HTTPS (plain HTTP only on local)"));
    }
    if (cfg.target === "local" && traffic.enabled && traffic.tls) {
        out.push(problem(["traffic", "tls"], traffic.tls, "must be false on local: Let's Encrypt cannot reach a local cluster for the HTTP-01 challenge"));
    }
    if (cfg.target === "aws" && cfg.dns.hostedZoneId !== undefined && !traffic.enabled) {
        out.push(problem(["dns", "hostedZoneId"], cfg.dns.hostedZoneId, "needs traffic.enabled (external-dns publishes the Gateway's hosts)"));
    }
    if (cfg.monitoring.enabled && cfg.monitoring.grafanaHost !== undefined && !traffic.enabled) {
        out.push(
            problem(
                ["monitoring", "grafanaHost"],
                cfg.monitoring.grafanaHost,
                "needs traffic.enabled (Grafana is exposed through the Gateway); remove it or enable the traffic layer",
            ),
        );
    }
    if (cfg.secrets.alertWebhookUrl !== undefined && (!cfg.monitoring.enabled || cfg.monitoring.alertReceiver === "none")) {
        // Alerts would go nowhere although a URL was given: say so rather than ignore it (the value is a secret: never printed).
        out.push(
            `${PROJECT}:alertWebhookUrl = (set): used only when monitoring is enabled and monitoring.alertReceiver is "webhook" or "slack"; ` +
                `set the receiver or remove it (pulumi config rm alertWebhookUrl)`,
        );
    }
    if (cfg.monitoring.enabled && cfg.monitoring.alertReceiver !== "none" && cfg.secrets.alertWebhookUrl === undefined) {
        out.push(
            `${PROJECT}:alertWebhookUrl = (unset): required when monitoring.alertReceiver is "${cfg.monitoring.alertReceiver}" ` +
                `(pulumi config set --secret alertWebhookUrl <url>)`,
        );
    }
    return out;
}
