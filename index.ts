/**
 * Composition root: config -> layers -> stack outputs. Nothing else happens here: each layer maps
 * the stack's config onto its components' arguments.
 *
 * The module exports a function; Pulumi calls it and publishes what it returns as stack outputs.
 * (The offline harness calls it the same way, once per stack.)
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as path from "node:path";
import {
    API,
    availableZones,
    ClusterAutoscaler,
    CONTROLLER_SERVICE_LABELS,
    EksCluster,
    GATEWAY_NAMESPACE,
    gatewayProxyPeer,
    GatewayRoute,
    Logging,
    type LoggingArgs,
    LOGGING_NAMESPACE,
    type ManagedPlacement,
    Network,
    PlatformNamespace,
    PlatformService,
    Postgres,
    Redis,
    PROXY_METRICS,
    PROXY_POD_LABELS,
    SERVICE_PORT,
    ServiceImage,
    Traffic,
} from "./components";
import { GRAFANA_SERVICE, Monitoring } from "./components/observability/monitoring/monitoring";
import { type AwsPlatformConfig, loadConfig, type LocalPlatformConfig, type PlatformConfig } from "./config";
import { MONITORING_NAMESPACE, PLATFORM_NAMESPACE } from "./lib/k8s";
import { awsTags, clusterNameFor } from "./lib/naming";

type Outputs = Record<string, pulumi.Input<unknown> | undefined>;

export = async (): Promise<Outputs> => {
    const cfg = loadConfig();
    const base = cfg.target === "aws" ? await awsLayer(cfg) : localLayer(cfg);
    const infra = base.aws;

    // The in-cluster layer, identical on EKS and on an existing cluster, through one explicit provider.
    const { provider, storageClassName } = base.target;
    const k8sOpts = { provider };
    const namespace = new PlatformNamespace("platform", { namespace: PLATFORM_NAMESPACE }, k8sOpts);
    const { postgres, redis } = dataLayer(cfg, namespace.name, storageClassName, infra, k8sOpts);

    const image = new ServiceImage("service-image", {
        context: path.join(__dirname, "service"),
        inputs: ["Dockerfile", ".dockerignore", "package.json", "package-lock.json", "tsconfig.json", "src", "config"],
        push: cfg.target === "aws",
        forceDelete: !cfg.protectStatefulResources,
        tags: infra?.tags,
    });
    const traffic = trafficLayer(cfg, infra, k8sOpts);
    const dataEndpoint = (d: Postgres | Redis, inCluster: boolean) => ({
        host: d.host,
        secretName: d.secretName,
        secretKey: d.secretKey,
        placement: inCluster || infra === undefined ? ({ inCluster: true } as const) : { inCluster: false as const, vpcCidr: infra.vpcCidr },
    });
    const service = new PlatformService(
        "service",
        {
            namespace: namespace.name,
            image: image.imageRef,
            openaiApiKey: cfg.secrets.openaiApiKey,
            apiClients: cfg.service.apiClients,
            settings: cfg.service,
            api: cfg.service.api,
            runner: cfg.service.runner,
            postgres: { ...dataEndpoint(postgres, cfg.postgres.mode === "in-cluster"), database: cfg.postgres.database },
            redis: dataEndpoint(redis, cfg.redis.mode === "in-cluster"),
            gatewayPeer: traffic && gatewayProxyPeer(),
            monitoringNamespace: MONITORING_NAMESPACE,
            apiDependsOn: [postgres, redis],
        },
        k8sOpts,
    );
    if (traffic && cfg.traffic.enabled) {
        const limit = cfg.traffic.evolveRateLimitPerMinute;
        new GatewayRoute(
            API.name,
            {
                namespace: namespace.name,
                host: cfg.traffic.apiHost,
                service: { name: service.apiServiceName, port: SERVICE_PORT },
                gateway: traffic.parentFor("api"),
                hsts: cfg.traffic.tls,
                // Every POST /evolve is an LLM call: limited per client IP at the Gateway (429 above it).
                rateLimits: limit > 0 ? [{ method: "POST", path: "/evolve", requestsPerMinute: limit }] : [],
                dependsOn: traffic.ready,
            },
            k8sOpts,
        );
    }

    const monitoring = monitoringLayer(cfg, storageClassName, traffic, service, k8sOpts);
    const logging = loggingLayer(cfg, base.target.clusterName, infra, k8sOpts);

    return {
        /** Which environment's defaults this stack runs with. */
        environment: cfg.environment,
        ...base.outputs,
        /** The StorageClass persistent volumes use. */
        storageClassName,
        /** Namespace of the platform's workloads. */
        namespace: namespace.name,
        /** PostgreSQL connection URL (secret). */
        postgresUrl: postgres.url,
        /** Redis connection URL (secret). */
        redisUrl: redis.url,
        /** Where the API answers: the public host through the Gateway, else a port-forward. */
        apiUrl: cfg.traffic.enabled
            ? `${cfg.traffic.tls ? "https" : "http"}://${cfg.traffic.apiHost}`
            : pulumi.interpolate`http://localhost:${API.port} (kubectl -n ${namespace.name} port-forward svc/${service.apiServiceName} ${API.port}:80)`,
        /** Images the workloads run, by digest on EKS. */
        imageRefs: { service: image.imageRef },
        /** The first client's bearer token (secret): pulumi stack output apiToken --show-secrets. */
        apiToken: service.apiToken,
        /** Every client's bearer token by name (secret): pulumi stack output apiTokens --show-secrets. */
        apiTokens: service.apiTokens,
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

/** Where the in-cluster layer goes: the Kubernetes provider, the StorageClass, the cluster's name. */
interface Target {
    provider: k8s.Provider;
    storageClassName: pulumi.Input<string>;
    clusterName: string;
}

/** local: the existing cluster named by the configured kubeconfig context. */
function localLayer(cfg: LocalPlatformConfig): { target: Target; aws: undefined; outputs: Outputs } {
    const { context, storageClassName } = cfg.kubernetes;
    const provider = new k8s.Provider("local-k8s", { context, enableServerSideApply: true });
    return {
        target: { provider, storageClassName, clusterName: context },
        aws: undefined,
        outputs: {
            /** The kubeconfig context the stack deploys into. */
            kubeContext: context,
        },
    };
}

/** dev/staging/prod: VPC, EKS and the autoscaler. Resolves AZs before declaring anything. */
async function awsLayer(cfg: AwsPlatformConfig) {
    const { network, cluster: clusterCfg, awsRegion: region } = cfg;
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
        flowLogs: network.flowLogs && network.flowLogRetentionDays !== undefined ? { retentionDays: network.flowLogRetentionDays } : "off",
        clusterName,
        tags,
    });
    const cluster = new EksCluster("cluster", {
        clusterName,
        kubernetesVersion: clusterCfg.kubernetesVersion,
        region,
        privateSubnetIds: vpc.privateSubnetIds,
        publicAccess: clusterCfg.endpointPublicAccess ? { cidrs: clusterCfg.publicAccessCidrs } : "off",
        adminPrincipalArns: clusterCfg.adminPrincipalArns,
        logTypes: clusterCfg.logTypes,
        logRetentionDays: clusterCfg.logRetentionDays,
        nodeGroups: clusterCfg.nodeGroups,
        retainVolumes: cfg.protectStatefulResources,
        tags,
    });
    const autoscaler = clusterCfg.autoscaler
        ? new ClusterAutoscaler(
              "autoscaler",
              {
                  clusterName,
                  kubernetesVersion: clusterCfg.kubernetesVersion,
                  awsRegion: region,
                  oidc: { arn: cluster.oidcProviderArn, issuerUrl: cluster.oidcIssuerUrl },
                  tags,
              },
              { provider: cluster.provider },
          )
        : undefined;
    const managed: ManagedPlacement = { vpcId: vpc.vpcId, subnetIds: vpc.privateSubnetIds, clientSecurityGroupId: cluster.clusterSecurityGroupId, tags };

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
    const aws = { cfg, vpc, vpcCidr: network.cidr, cluster, managed, tags };
    const target: Target = { provider: cluster.provider, storageClassName: cluster.storageClassName, clusterName };
    return { target, aws, outputs };
}

type AwsLayer = Awaited<ReturnType<typeof awsLayer>>["aws"];

/** PostgreSQL and Redis: StatefulSets in the namespace, or RDS and ElastiCache in the VPC. */
function dataLayer(
    cfg: PlatformConfig,
    namespace: pulumi.Output<string>,
    storageClassName: pulumi.Input<string>,
    infra: AwsLayer | undefined,
    opts: pulumi.ComponentResourceOptions,
) {
    const common = { namespace, protect: cfg.protectStatefulResources };
    const inCluster = { storageClassName, monitoringNamespace: MONITORING_NAMESPACE };
    const managed = () => {
        if (infra === undefined) throw new Error(`${cfg.stack}: managed data services need the AWS layer (config rules allow them only on AWS stacks)`);
        return infra.managed;
    };
    const pg = cfg.postgres;
    const postgres = new Postgres(
        "postgres",
        pg.mode === "in-cluster"
            ? { ...common, ...inCluster, mode: pg.mode, database: pg.database, username: pg.username, storageGiB: pg.storageGiB }
            : {
                  ...common,
                  mode: pg.mode,
                  database: pg.database,
                  username: pg.username,
                  storageGiB: pg.storageGiB,
                  instanceClass: pg.instanceClass,
                  multiAz: pg.multiAz,
                  backupRetentionDays: pg.backupRetentionDays,
                  network: managed(),
              },
        opts,
    );
    const rd = cfg.redis;
    const redis = new Redis(
        "redis",
        rd.mode === "in-cluster"
            ? { ...common, ...inCluster, mode: rd.mode, storageGiB: rd.storageGiB }
            : { ...common, mode: rd.mode, nodeType: rd.nodeType, nodeCount: rd.nodeCount, multiAz: rd.multiAz, network: managed() },
        opts,
    );
    return { postgres, redis };
}

/** Fluent Bit to the stack's sink (OpenSearch, CloudWatch or stdout); nothing for sink "none". */
function loggingLayer(cfg: PlatformConfig, clusterName: string, infra: AwsLayer | undefined, opts: pulumi.ComponentResourceOptions): Logging | undefined {
    const sink = cfg.logging;
    if (sink.sink === "none") return undefined;
    const ns = new PlatformNamespace("logging", { namespace: LOGGING_NAMESPACE, podSecurity: "privileged", defaultDeny: false }, opts);
    const common = { namespace: ns.name, clusterName };
    let args: LoggingArgs;
    if (sink.sink === "stdout") {
        args = { ...common, sink: "stdout" };
    } else {
        if (infra === undefined) throw new Error(`${cfg.stack}: logging.sink "${sink.sink}" needs the AWS layer (config rules allow it only on AWS stacks)`);
        const aws = {
            region: infra.cfg.awsRegion,
            oidc: { arn: infra.cluster.oidcProviderArn, issuerUrl: infra.cluster.oidcIssuerUrl },
            protect: cfg.protectStatefulResources,
            tags: infra.tags,
        };
        args =
            sink.sink === "cloudwatch"
                ? { ...common, ...aws, sink: "cloudwatch", retentionDays: sink.retentionDays }
                : {
                      ...common,
                      ...aws,
                      sink: "opensearch",
                      retentionDays: sink.retentionDays,
                      vpcId: infra.vpc.vpcId,
                      subnetIds: infra.vpc.privateSubnetIds,
                      clusterSecurityGroupId: infra.cluster.clusterSecurityGroupId,
                      instanceType: sink.opensearchInstanceType,
                      volumeGiB: sink.opensearchVolumeGiB,
                      adminPrincipalArns: infra.cfg.cluster.adminPrincipalArns,
                  };
    }
    return new Logging("logging", args, opts);
}

/** The traffic layer (load balancer controller on EKS, Envoy Gateway and the Gateway, cert-manager, external-dns); nothing when disabled. */
function trafficLayer(cfg: PlatformConfig, infra: AwsLayer | undefined, opts: pulumi.ComponentResourceOptions): Traffic | undefined {
    const t = cfg.traffic;
    if (!t.enabled) return undefined;
    const grafanaHost = cfg.monitoring.enabled ? cfg.monitoring.grafanaHost : undefined;
    return new Traffic(
        "traffic",
        {
            hosts: [
                { name: "api", host: t.apiHost, routeNamespace: PLATFORM_NAMESPACE },
                ...(grafanaHost !== undefined ? [{ name: "grafana", host: grafanaHost, routeNamespace: MONITORING_NAMESPACE }] : []),
            ],
            tls: t.tls,
            acmeEmail: t.acmeEmail,
            proxyReplicas: t.proxyReplicas,
            controllerReplicas: t.controllerReplicas,
            aws: infra && {
                clusterName: clusterNameFor(cfg.stack),
                region: infra.cfg.awsRegion,
                vpcId: infra.vpc.vpcId,
                oidc: { arn: infra.cluster.oidcProviderArn, issuerUrl: infra.cluster.oidcIssuerUrl },
                hostedZoneId: infra.cfg.dns.hostedZoneId,
                dnsPolicy: cfg.environment === "prod" ? "upsert-only" : "sync",
                tags: infra.tags,
            },
        },
        opts,
    );
}

/** kube-prometheus-stack, prometheus-adapter, our ServiceMonitors, rules and dashboards; nothing when disabled. */
function monitoringLayer(
    cfg: PlatformConfig,
    storageClassName: pulumi.Input<string>,
    traffic: Traffic | undefined,
    service: PlatformService,
    opts: pulumi.ComponentResourceOptions,
) {
    const m = cfg.monitoring;
    if (!m.enabled) return undefined;
    const ns = new PlatformNamespace("monitoring", { namespace: MONITORING_NAMESPACE, podSecurity: "privileged", defaultDeny: false }, opts);
    const grafanaHost = traffic ? m.grafanaHost : undefined;
    const tls = cfg.traffic.enabled && cfg.traffic.tls;
    const alertWebhookUrl = cfg.secrets.alertWebhookUrl;
    const component = new Monitoring(
        "monitoring",
        {
            namespace: ns.name,
            retention: m.retention,
            storageGiB: m.storageGiB,
            storageClassName,
            replicas: m.prometheusReplicas,
            alerts: m.alertReceiver === "none" || alertWebhookUrl === undefined ? { receiver: "none" } : { receiver: m.alertReceiver, url: alertWebhookUrl },
            targets: [
                ...service.workloads.map((s) => ({ service: s.name, namespace: PLATFORM_NAMESPACE, selector: s.selector })),
                ...(["postgres", "redis"] as const)
                    .filter((d) => cfg[d].mode === "in-cluster")
                    .map((d) => ({ service: d, namespace: PLATFORM_NAMESPACE, selector: { "app.kubernetes.io/name": d } })),
                ...(traffic
                    ? [
                          { service: "envoy-gateway", namespace: GATEWAY_NAMESPACE, selector: { ...CONTROLLER_SERVICE_LABELS } },
                          { service: "envoy-proxy", namespace: GATEWAY_NAMESPACE, selector: { ...PROXY_POD_LABELS }, kind: "pod" as const, ...PROXY_METRICS },
                      ]
                    : []),
            ],
        },
        { ...opts, dependsOn: traffic?.ready ?? [] },
    );
    if (traffic && grafanaHost !== undefined) {
        new GatewayRoute(
            "grafana",
            {
                namespace: ns.name,
                host: grafanaHost,
                service: { ...GRAFANA_SERVICE },
                gateway: traffic.parentFor("grafana"),
                hsts: tls,
                dependsOn: [...traffic.ready, component],
            },
            opts,
        );
    }
    const grafanaUrl = grafanaHost
        ? `${tls ? "https" : "http"}://${grafanaHost}`
        : `http://localhost:3000 (kubectl -n ${MONITORING_NAMESPACE} port-forward svc/${GRAFANA_SERVICE.name} 3000:80)`;
    return { component, grafanaUrl };
}
