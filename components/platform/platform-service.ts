import * as pulumi from "@pulumi/pulumi";
import type { Resources } from "../../lib/k8s";
import { GENERATION_RATE_METRIC } from "../observability/monitoring/monitoring";
import type * as k8s from "@pulumi/kubernetes";
import { CliService } from "./cli-service";
import { ServiceSecrets } from "./secrets";
import { API, apiNetworkPolicy, apiProbes, RUNNER, runnerNetworkPolicy, runnerProbes, serviceConfigYaml, type ServiceSettings } from "./workloads";

/** Replicas and resources of one workload. */
export interface WorkloadScaling extends Resources {
    /** The HPA's minimum, and the replica count the Deployment is created with. */
    minReplicas: number;
    /** The HPA's maximum. */
    maxReplicas: number;
}

/** A data service as the api sees it: where it is, and the Secret holding its URL. */
export interface DataEndpoint {
    host: pulumi.Input<string>;
    secretName: pulumi.Input<string>;
    secretKey: string;
    /** In the namespace (pods), or managed in the VPC (the api's egress goes to the VPC CIDR). */
    placement: { inCluster: true } | { inCluster: false; vpcCidr: string };
}

export interface PlatformServiceArgs {
    /** Namespace of the workloads (PSA restricted, default deny). */
    namespace: pulumi.Input<string>;
    /** The service image (a digest on EKS). */
    image: pulumi.Input<string>;
    /** The LLM key (a secret); absent = the api answers /evolve with 503. */
    openaiApiKey?: pulumi.Output<string>;
    /** The API's client names; one bearer token is generated per name. */
    apiClients: string[];
    /** What config.yaml carries. */
    settings: ServiceSettings;
    api: WorkloadScaling & {
        /** The HPA's target of GENERATION_RATE_METRIC, per pod. */
        targetGenerationRate: number;
    };
    runner: WorkloadScaling & {
        /** RuntimeClass of the runner's pods (e.g. "gvisor"). @default none (the node's runtime) */
        runtimeClassName?: string;
    };
    postgres: DataEndpoint & {
        /** The database config.yaml names. */
        database: string;
    };
    redis: DataEndpoint;
    /** Where public traffic to the api's http port comes from: the Gateway's proxy pods. @default none (port-forward only) */
    gatewayPeer?: k8s.types.input.networking.v1.NetworkPolicyPeer;
    /** Namespace of Prometheus (allowed to both workloads' metrics port). */
    monitoringNamespace: string;
    /** What the api waits for: the data services. @default [] */
    apiDependsOn?: pulumi.Input<pulumi.Resource>[];
}

/**
 * The platform service, as one unit: its Secret (API and runner tokens, the LLM key), config.yaml,
 * and the two workloads of the one image, cli-runner and cli-api, wired to each other and to the
 * data services: environment variables, secret references, probes, the api's HPA on the
 * generation rate, and each workload's NetworkPolicy.
 */
export class PlatformService extends pulumi.ComponentResource {
    /** The api's Service. */
    public readonly apiServiceName: pulumi.Output<string>;
    /** The first client's bearer token (secret). */
    public readonly apiToken: pulumi.Output<string>;
    /** Every client's bearer token by name (each secret). */
    public readonly apiTokens: Record<string, pulumi.Output<string>>;
    /** The two workloads, for scrape targets. */
    public readonly workloads: CliService[];

    constructor(name: string, args: PlatformServiceArgs, opts?: pulumi.ComponentResourceOptions) {
        super("cli-platform:service:PlatformService", name, {}, opts);
        // Children moved under this component in place: their previous parent was the stack.
        const moved = { parent: this, aliases: [{ parent: pulumi.rootStackResource }] };

        const secrets = new ServiceSecrets(
            "cli-platform-secrets",
            { namespace: args.namespace, apiClients: args.apiClients, openaiApiKey: args.openaiApiKey },
            moved,
        );
        const configYaml = pulumi
            .all([args.redis.host, args.postgres.host])
            .apply(([redis, postgres]) => serviceConfigYaml(args.settings, { redis, postgres }, args.postgres.database));
        const common = {
            namespace: args.namespace,
            image: args.image,
            configYaml,
            rolloutOn: [secrets.checksum],
            secretEnv: { RUNNER_TOKEN: { secret: secrets.secretName, key: "RUNNER_TOKEN" } },
        };
        const scaling = (w: WorkloadScaling) => ({ minReplicas: w.minReplicas, maxReplicas: w.maxReplicas });
        const resources = (w: WorkloadScaling): Resources => ({
            cpuRequest: w.cpuRequest,
            memoryRequest: w.memoryRequest,
            cpuLimit: w.cpuLimit,
            memoryLimit: w.memoryLimit,
        });

        const runner = new CliService(
            RUNNER.name,
            {
                ...common,
                component: "runner",
                command: [...RUNNER.command],
                port: RUNNER.port,
                autoscaling: scaling(args.runner),
                resources: resources(args.runner),
                probes: runnerProbes(),
                env: { RUNNER_PORT: String(RUNNER.port) },
                networkPolicy: runnerNetworkPolicy(args.monitoringNamespace),
                runtimeClassName: args.runner.runtimeClassName,
            },
            moved,
        );
        const egressTo = (d: DataEndpoint) =>
            d.placement.inCluster ? ({ inCluster: true } as const) : { inCluster: false as const, cidr: d.placement.vpcCidr };
        const api = new CliService(
            API.name,
            {
                ...common,
                component: "api",
                command: [...API.command],
                port: API.port,
                autoscaling: {
                    ...scaling(args.api),
                    podsMetric: { name: GENERATION_RATE_METRIC, averageValue: String(args.api.targetGenerationRate) },
                },
                resources: resources(args.api),
                probes: apiProbes(),
                env: { PORT: String(API.port), RUNNER_URL: runner.url, CLI_PLATFORM_URL: `http://127.0.0.1:${API.port}` },
                secretEnv: {
                    ...common.secretEnv,
                    API_TOKENS: { secret: secrets.secretName, key: "API_TOKENS" },
                    OPENAI_API_KEY: { secret: secrets.secretName, key: "OPENAI_API_KEY", optional: true },
                    POSTGRES_URL: { secret: args.postgres.secretName, key: args.postgres.secretKey },
                    REDIS_URL: { secret: args.redis.secretName, key: args.redis.secretKey },
                },
                networkPolicy: apiNetworkPolicy({
                    gatewayPeer: args.gatewayPeer,
                    monitoringNamespace: args.monitoringNamespace,
                    postgres: egressTo(args.postgres),
                    redis: egressTo(args.redis),
                }),
            },
            { ...moved, dependsOn: args.apiDependsOn ?? [] },
        );

        this.apiServiceName = api.serviceName;
        this.apiToken = secrets.apiToken;
        this.apiTokens = secrets.apiTokens;
        this.workloads = [api, runner];
        this.registerOutputs({ apiServiceName: this.apiServiceName, apiToken: this.apiToken, apiTokens: this.apiTokens });
    }
}
