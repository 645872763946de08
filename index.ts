/**
 * Composition root: config -> components -> stack outputs. Nothing else happens here.
 *
 * The module exports a function; Pulumi calls it and publishes what it returns as stack outputs.
 * (The offline harness calls it the same way, once per stack.)
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as path from "node:path";
import {
    API,
    apiNetworkPolicy,
    apiProbes,
    availableZones,
    CliService,
    ClusterAutoscaler,
    EksCluster,
    CONTROLLER_SERVICE_LABELS,
    GATEWAY_NAMESPACE,
    gatewayProxyPeer,
    GatewayRoute,
    GENERATION_RATE_METRIC,
    Logging,
    Network,
    PlatformNamespace,
    Postgres,
    Redis,
    RUNNER,
    runnerNetworkPolicy,
    runnerProbes,
    serviceConfigYaml,
    ServiceImage,
    ServiceSecrets,
    SERVICE_PORT,
    PROXY_METRICS,
    PROXY_POD_LABELS,
    Traffic,
} from "./components";
import { loadConfig, type PlatformConfig } from "./config";
import { GRAFANA_SERVICE, Monitoring } from "./monitoring/monitoring";
import { MONITORING_NAMESPACE, PLATFORM_NAMESPACE } from "./lib/k8s";
import { awsTags, clusterNameFor } from "./lib/naming";

type Outputs = Record<string, pulumi.Input<unknown> | undefined>;

/** dev/prod: VPC, EKS and the autoscaler. Resolves AZs before declaring anything. */
async function awsLayer(cfg: PlatformConfig) {
    const network = cfg.network!;
    const clusterCfg = cfg.cluster!;
    const region = cfg.awsRegion!;
    const tags = awsTags(cfg.stack);
    const clusterName = clusterNameFor(cfg.stack);
    // Resolved before any resource is declared: too many AZs for the region fails here.
    const zones = await availableZones(network.azCount, region);

    const vpc = new Network("network", {
        cidr: network.cidr,
        availabilityZones: zones,
        publicSubnetCidrs: network.publicSubnetCidrs,
        privateSubnetCidrs: network.privateSubnetCidrs,
        natGateways: network.natGateways,
        flowLogs: network.flowLogs,
        flowLogRetentionDays: network.flowLogRetentionDays,
        clusterName,
        tags,
    });
    const cluster = new EksCluster("cluster", {
        clusterName,
        kubernetesVersion: clusterCfg.kubernetesVersion,
        region,
        privateSubnetIds: vpc.privateSubnetIds,
        endpointPublicAccess: clusterCfg.endpointPublicAccess,
        publicAccessCidrs: clusterCfg.publicAccessCidrs,
        adminPrincipalArns: clusterCfg.adminPrincipalArns,
        logTypes: clusterCfg.logTypes,
        logRetentionDays: clusterCfg.logRetentionDays,
        nodeGroups: clusterCfg.nodeGroups,
        retainVolumes: cfg.protectStatefulResources,
        tags,
    });
    const autoscaler = clusterCfg.autoscaler
        ? new ClusterAutoscaler("autoscaler", {
              clusterName,
              kubernetesVersion: clusterCfg.kubernetesVersion,
              awsRegion: region,
              oidc: { arn: cluster.oidcProviderArn, issuerUrl: cluster.oidcIssuerUrl },
              provider: cluster.provider,
              tags,
          })
        : undefined;

    const outputs: Outputs = {
        /** AWS region. */
        awsRegion: region,
        /** VPC id. */
        vpcId: vpc.vpcId,
        /** Private subnets (nodes, control-plane ENIs, data services). */
        privateSubnetIds: vpc.privateSubnetIds,
        /** Public subnets (load balancers, NAT). */
        publicSubnetIds: vpc.publicSubnetIds,
        /** EKS cluster name. */
        clusterName: cluster.clusterName,
        /** EKS API endpoint. */
        clusterEndpoint: cluster.endpoint,
        /** IAM OIDC provider ARN for IRSA roles. */
        oidcProviderArn: cluster.oidcProviderArn,
        /** IAM role of the managed nodes. */
        nodeRoleArn: cluster.nodeRoleArn,
        /** kubeconfig using `aws eks get-token` (secret). */
        kubeconfig: cluster.kubeconfig,
        /** IRSA role of the cluster-autoscaler (absent when disabled). */
        ...(autoscaler ? { autoscalerRoleArn: autoscaler.roleArn } : {}),
    };
    return { vpc, cluster, tags, outputs };
}

export = async (): Promise<Outputs> => {
    const cfg = loadConfig();
    const infra = cfg.onAws ? await awsLayer(cfg) : undefined;

    // The in-cluster layer, identical on EKS and on an existing cluster, through one explicit provider.
    const provider = infra?.cluster.provider ?? new k8s.Provider("local-k8s", { context: cfg.kubernetes!.context, enableServerSideApply: true });
    const storageClassName = infra?.cluster.storageClassName ?? cfg.kubernetes!.storageClassName;
    const namespace = new PlatformNamespace("platform", { namespace: PLATFORM_NAMESPACE, provider });
    const awsNetwork = infra && {
        vpcId: infra.vpc.vpcId,
        subnetIds: infra.vpc.privateSubnetIds,
        clientSecurityGroupId: infra.cluster.clusterSecurityGroupId,
        tags: infra.tags,
    };

    const postgres = new Postgres("postgres", {
        mode: cfg.postgres.mode,
        namespace: namespace.name,
        provider,
        database: cfg.postgres.database,
        username: cfg.postgres.username,
        storageGiB: cfg.postgres.storageGiB,
        protect: cfg.protectStatefulResources,
        monitoringNamespace: MONITORING_NAMESPACE,
        storageClassName,
        instanceClass: cfg.postgres.instanceClass,
        multiAz: cfg.postgres.multiAz,
        backupRetentionDays: cfg.postgres.backupRetentionDays,
        ...awsNetwork,
    });
    const redis = new Redis("redis", {
        mode: cfg.redis.mode,
        namespace: namespace.name,
        provider,
        protect: cfg.protectStatefulResources,
        monitoringNamespace: MONITORING_NAMESPACE,
        storageGiB: cfg.redis.storageGiB,
        storageClassName,
        nodeType: cfg.redis.nodeType,
        nodeCount: cfg.redis.nodeCount,
        multiAz: cfg.redis.multiAz,
        ...awsNetwork,
    });

    // The platform service: one image, two workloads.
    const image = new ServiceImage("service-image", {
        context: path.join(__dirname, "service"),
        inputs: ["Dockerfile", ".dockerignore", "package.json", "package-lock.json", "tsconfig.json", "src", "config"],
        push: cfg.onAws,
        forceDelete: !cfg.protectStatefulResources,
        tags: infra?.tags,
    });
    const secrets = new ServiceSecrets("cli-platform-secrets", { namespace: namespace.name, provider, openaiApiKey: cfg.secrets.openaiApiKey });
    const configYaml = pulumi
        .all([redis.host, postgres.host])
        .apply(([r, p]) => serviceConfigYaml(cfg.service, { redis: r, postgres: p }, cfg.postgres.database));
    const traffic = cfg.traffic.enabled ? trafficLayer(cfg, provider, infra) : undefined;
    const common = {
        namespace: namespace.name,
        provider,
        image: image.imageRef,
        configYaml,
        rolloutOn: [secrets.checksum],
        secretEnv: { RUNNER_TOKEN: { secret: secrets.secretName, key: "RUNNER_TOKEN" } },
    };
    const runner = new CliService(RUNNER.name, {
        ...common,
        component: "runner",
        command: [...RUNNER.command],
        port: RUNNER.port,
        replicas: cfg.service.runner.replicas,
        autoscaling: { minReplicas: cfg.service.runner.minReplicas, maxReplicas: cfg.service.runner.maxReplicas },
        resources: cfg.service.runner,
        probes: runnerProbes(),
        env: { RUNNER_PORT: String(RUNNER.port) },
        networkPolicy: runnerNetworkPolicy(MONITORING_NAMESPACE),
    });
    const managed = (inCluster: boolean) => (inCluster ? ({ inCluster: true } as const) : { inCluster: false as const, cidr: cfg.network!.cidr });
    const api = new CliService(
        API.name,
        {
            ...common,
            component: "api",
            command: [...API.command],
            port: API.port,
            replicas: cfg.service.api.replicas,
            autoscaling: {
                minReplicas: cfg.service.api.minReplicas,
                maxReplicas: cfg.service.api.maxReplicas,
                podsMetric: { name: GENERATION_RATE_METRIC, averageValue: "10" },
            },
            resources: cfg.service.api,
            probes: apiProbes(),
            env: { PORT: String(API.port), RUNNER_URL: runner.url, CLI_PLATFORM_URL: `http://127.0.0.1:${API.port}` },
            secretEnv: {
                ...common.secretEnv,
                API_TOKENS: { secret: secrets.secretName, key: "API_TOKENS" },
                OPENAI_API_KEY: { secret: secrets.secretName, key: "OPENAI_API_KEY", optional: true },
                POSTGRES_URL: { secret: postgres.secretName, key: postgres.secretKey },
                REDIS_URL: { secret: redis.secretName, key: redis.secretKey },
            },
            networkPolicy: apiNetworkPolicy({
                gatewayPeer: traffic && gatewayProxyPeer(),
                monitoringNamespace: MONITORING_NAMESPACE,
                postgres: managed(cfg.postgres.mode === "in-cluster"),
                redis: managed(cfg.redis.mode === "in-cluster"),
            }),
        },
        { dependsOn: [postgres, redis] },
    );
    if (traffic) {
        const limit = cfg.traffic.evolveRateLimitPerMinute;
        new GatewayRoute(API.name, {
            provider,
            namespace: namespace.name,
            host: cfg.traffic.apiHost,
            service: { name: api.serviceName, port: SERVICE_PORT },
            gateway: traffic.parentFor("api"),
            hsts: cfg.traffic.tls,
            // Every POST /evolve is an LLM call: limited per client IP at the Gateway (429 above it).
            rateLimits: limit > 0 ? [{ method: "POST", path: "/evolve", requestsPerMinute: limit }] : [],
            dependsOn: traffic.ready,
        });
    }

    const monitoring = cfg.monitoring.enabled ? monitoringLayer(cfg, provider, storageClassName, traffic, [api, runner]) : undefined;
    const logging = cfg.logging.sink === "none" ? undefined : loggingLayer(cfg, provider, infra);

    return {
        /** Which environment's defaults this stack runs with. */
        environment: cfg.environment,
        ...infra?.outputs,
        ...(infra ? {} : { /** The kubeconfig context the stack deploys into. */ kubeContext: cfg.kubernetes!.context }),
        /** The StorageClass persistent volumes use. */
        storageClassName,
        /** Namespace of the platform's workloads. */
        namespace: namespace.name,
        /** PostgreSQL connection URL (secret). */
        postgresUrl: postgres.url,
        /** Redis connection URL (secret). */
        redisUrl: redis.url,
        /** Where the API answers: the public host through the Gateway, else a port-forward. */
        apiUrl: traffic
            ? `${cfg.traffic.tls ? "https" : "http"}://${cfg.traffic.apiHost}`
            : pulumi.interpolate`http://localhost:${API.port} (kubectl -n ${namespace.name} port-forward svc/${api.serviceName} ${API.port}:80)`,
        /** Images the workloads run, by digest on EKS. */
        imageRefs: { service: image.imageRef },
        /** A bearer token for the API (secret): pulumi stack output apiToken --show-secrets. */
        apiToken: secrets.apiToken,
        ...(monitoring && {
            /** Grafana: its host on the Gateway, else a port-forward. */
            grafanaUrl: monitoring.grafanaUrl,
            /** Grafana's admin password (secret). */
            grafanaAdminPassword: monitoring.component.grafanaAdminPassword,
        }),
        /** Where to read the logs: OpenSearch Dashboards, the CloudWatch console, or kubectl. */
        ...(logging && { logsUrl: logging.logsUrl }),
    };
};

/** Fluent Bit to the stack's sink (OpenSearch, CloudWatch or stdout). */
function loggingLayer(cfg: PlatformConfig, provider: k8s.Provider, infra: Awaited<ReturnType<typeof awsLayer>> | undefined): Logging {
    const ns = new PlatformNamespace("logging", { namespace: "logging", provider, podSecurity: "privileged", defaultDeny: false });
    return new Logging("logging", {
        sink: cfg.logging.sink,
        provider,
        namespace: ns.name,
        clusterName: infra ? clusterNameFor(cfg.stack) : cfg.kubernetes!.context,
        retentionDays: cfg.logging.retentionDays,
        region: cfg.awsRegion,
        oidc: infra && { arn: infra.cluster.oidcProviderArn, issuerUrl: infra.cluster.oidcIssuerUrl },
        vpcId: infra?.vpc.vpcId,
        subnetIds: infra?.vpc.privateSubnetIds,
        clusterSecurityGroupId: infra?.cluster.clusterSecurityGroupId,
        instanceType: cfg.logging.opensearchInstanceType,
        volumeGiB: cfg.logging.opensearchVolumeGiB,
        adminPrincipalArns: cfg.cluster?.adminPrincipalArns,
        protect: cfg.protectStatefulResources,
        tags: infra?.tags,
    });
}

/** The Gateway's hosts: the api, and Grafana when monitoring has a host. */
function gatewayHosts(cfg: PlatformConfig) {
    return [
        { name: "api", host: cfg.traffic.apiHost, routeNamespace: PLATFORM_NAMESPACE },
        ...(cfg.monitoring.enabled && cfg.monitoring.grafanaHost !== undefined
            ? [{ name: "grafana", host: cfg.monitoring.grafanaHost, routeNamespace: MONITORING_NAMESPACE }]
            : []),
    ];
}

/** AWS Load Balancer Controller (EKS), Envoy Gateway and the Gateway, cert-manager (TLS), external-dns (a hosted zone). */
function trafficLayer(cfg: PlatformConfig, provider: k8s.Provider, infra: Awaited<ReturnType<typeof awsLayer>> | undefined): Traffic {
    return new Traffic("traffic", {
        provider,
        hosts: gatewayHosts(cfg),
        tls: cfg.traffic.tls,
        acmeEmail: cfg.traffic.acmeEmail,
        proxyReplicas: cfg.traffic.proxyReplicas,
        controllerReplicas: cfg.environment === "prod" ? 2 : 1,
        aws: infra && {
            clusterName: clusterNameFor(cfg.stack),
            region: cfg.awsRegion!,
            vpcId: infra.vpc.vpcId,
            oidc: { arn: infra.cluster.oidcProviderArn, issuerUrl: infra.cluster.oidcIssuerUrl },
            hostedZoneId: cfg.dns?.hostedZoneId,
            dnsPolicy: cfg.environment === "prod" ? "upsert-only" : "sync",
            tags: infra.tags,
        },
    });
}

/** kube-prometheus-stack, prometheus-adapter, our ServiceMonitors, rules and dashboards. */
function monitoringLayer(
    cfg: PlatformConfig,
    provider: k8s.Provider,
    storageClassName: pulumi.Input<string>,
    traffic: Traffic | undefined,
    services: CliService[],
) {
    const ns = new PlatformNamespace("monitoring", { namespace: MONITORING_NAMESPACE, provider, podSecurity: "privileged", defaultDeny: false });
    const grafanaHost = traffic ? cfg.monitoring.grafanaHost : undefined;
    const component = new Monitoring(
        "monitoring",
        {
            provider,
            namespace: ns.name,
            retention: cfg.monitoring.retention,
            storageGiB: cfg.monitoring.storageGiB,
            storageClassName,
            replicas: cfg.monitoring.prometheusReplicas,
            alertReceiver: cfg.monitoring.alertReceiver,
            alertWebhookUrl: cfg.secrets.alertWebhookUrl,
            targets: [
                ...services.map((s) => ({ service: s.name, namespace: PLATFORM_NAMESPACE, selector: s.selector })),
                ...(["postgres", "redis"] as const)
                    .filter((d) => cfg[d].mode === "in-cluster")
                    .map((d) => ({ service: d, namespace: PLATFORM_NAMESPACE, selector: { "app.kubernetes.io/name": d } })),
                ...(traffic
                    ? [
                          { service: "envoy-gateway", namespace: GATEWAY_NAMESPACE, selector: { ...CONTROLLER_SERVICE_LABELS } },
                          {
                              service: "envoy-proxy",
                              namespace: GATEWAY_NAMESPACE,
                              selector: { ...PROXY_POD_LABELS },
                              kind: "pod" as const,
                              ...PROXY_METRICS,
                          },
                      ]
                    : []),
            ],
        },
        { dependsOn: traffic?.ready ?? [] },
    );
    if (traffic && grafanaHost !== undefined) {
        new GatewayRoute("grafana", {
            provider,
            namespace: ns.name,
            host: grafanaHost,
            service: { ...GRAFANA_SERVICE },
            gateway: traffic.parentFor("grafana"),
            hsts: cfg.traffic.tls,
            dependsOn: [...traffic.ready, component],
        });
    }
    const grafanaUrl = grafanaHost
        ? `${cfg.traffic.tls ? "https" : "http"}://${grafanaHost}`
        : `http://localhost:3000 (kubectl -n ${MONITORING_NAMESPACE} port-forward svc/${GRAFANA_SERVICE.name} 3000:80)`;
    return { component, grafanaUrl };
}
