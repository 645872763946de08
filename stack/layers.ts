/**
 * The in-cluster layers, identical on EKS and on an existing cluster: each maps the stack's config
 * onto its components' arguments and declares them through the one explicit Kubernetes provider.
 */
import * as pulumi from "@pulumi/pulumi";
import * as path from "node:path";
import {
    API,
    CONTROLLER_SERVICE_LABELS,
    GATEWAY_NAMESPACE,
    gatewayProxyPeer,
    GatewayRoute,
    Logging,
    type LoggingArgs,
    LOGGING_NAMESPACE,
    PlatformNamespace,
    PlatformService,
    Postgres,
    Redis,
    PROXY_METRICS,
    PROXY_POD_LABELS,
    SERVICE_PORT,
    ServiceImage,
    Traffic,
} from "../components";
import { GRAFANA_SERVICE, Monitoring } from "../components/observability/monitoring/monitoring";
import type { PlatformConfig } from "../config";
import { MONITORING_NAMESPACE, PLATFORM_NAMESPACE } from "../lib/k8s";
import { clusterNameFor } from "../lib/naming";
import type { AwsLayer } from "./infrastructure";

/** PostgreSQL and Redis: StatefulSets in the namespace, or RDS and ElastiCache in the VPC. */
export function dataLayer(
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
export function loggingLayer(
    cfg: PlatformConfig,
    clusterName: string,
    infra: AwsLayer | undefined,
    opts: pulumi.ComponentResourceOptions,
): Logging | undefined {
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
export function trafficLayer(cfg: PlatformConfig, infra: AwsLayer | undefined, opts: pulumi.ComponentResourceOptions): Traffic | undefined {
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
export function monitoringLayer(
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

/** The service's image: built from service/, pushed to ECR on AWS stacks. */
export function serviceImage(cfg: PlatformConfig, infra: AwsLayer | undefined): ServiceImage {
    return new ServiceImage("service-image", {
        context: path.join(__dirname, "..", "service"),
        inputs: ["Dockerfile", ".dockerignore", "package.json", "package-lock.json", "tsconfig.json", "src", "config"],
        push: cfg.target === "aws",
        forceDelete: !cfg.protectStatefulResources,
        tags: infra?.tags,
    });
}

/** The platform service (api and runner) on its data, and its route on the Gateway when traffic is on. */
export function serviceLayer(
    cfg: PlatformConfig,
    namespace: pulumi.Output<string>,
    image: ServiceImage,
    data: { postgres: Postgres; redis: Redis },
    infra: AwsLayer | undefined,
    traffic: Traffic | undefined,
    opts: pulumi.ComponentResourceOptions,
): PlatformService {
    const { postgres, redis } = data;
    const dataEndpoint = (d: Postgres | Redis, inCluster: boolean) => ({
        host: d.host,
        secretName: d.secretName,
        secretKey: d.secretKey,
        placement: inCluster || infra === undefined ? ({ inCluster: true } as const) : { inCluster: false as const, vpcCidr: infra.vpcCidr },
    });
    const service = new PlatformService(
        "service",
        {
            namespace,
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
        opts,
    );
    if (traffic && cfg.traffic.enabled) {
        const limit = cfg.traffic.evolveRateLimitPerMinute;
        new GatewayRoute(
            API.name,
            {
                namespace,
                host: cfg.traffic.apiHost,
                service: { name: service.apiServiceName, port: SERVICE_PORT },
                gateway: traffic.parentFor("api"),
                hsts: cfg.traffic.tls,
                // Every POST /evolve is an LLM call: limited per client IP at the Gateway (429 above it).
                rateLimits: limit > 0 ? [{ method: "POST", path: "/evolve", requestsPerMinute: limit }] : [],
                dependsOn: traffic.ready,
            },
            opts,
        );
    }
    return service;
}
