/**
 * Composition root: config -> layers -> stack outputs. Nothing else happens here: each layer
 * (stack/infrastructure.ts, stack/layers.ts) maps the stack's config onto its components' arguments.
 *
 * The module exports a function; Pulumi calls it and publishes what it returns as stack outputs.
 * (The offline harness calls it the same way, once per stack.)
 */
import * as pulumi from "@pulumi/pulumi";
import { API, PlatformNamespace } from "./components";
import { loadConfig } from "./config";
import { PLATFORM_NAMESPACE } from "./lib/k8s";
import { awsLayer, localLayer, type Outputs } from "./stack/infrastructure";
import { dataLayer, loggingLayer, monitoringLayer, serviceImage, serviceLayer, trafficLayer } from "./stack/layers";

export = async (): Promise<Outputs> => {
    const cfg = loadConfig();
    // VPC, EKS and the autoscaler on AWS stacks; the existing cluster on local.
    const base = cfg.target === "aws" ? await awsLayer(cfg) : localLayer(cfg);
    const infra = base.aws;

    // The in-cluster layer, identical on EKS and on an existing cluster, through one explicit provider.
    const { provider, storageClassName } = base.target;
    const k8sOpts = { provider };
    const namespace = new PlatformNamespace("platform", { namespace: PLATFORM_NAMESPACE }, k8sOpts);
    const data = dataLayer(cfg, namespace.name, storageClassName, infra, k8sOpts);
    const image = serviceImage(cfg, infra);
    const traffic = trafficLayer(cfg, infra, k8sOpts);
    const service = serviceLayer(cfg, namespace.name, image, data, infra, traffic, k8sOpts);
    const monitoring = monitoringLayer(cfg, storageClassName, traffic, service, k8sOpts);
    const logging = loggingLayer(cfg, base.target.clusterName, infra, k8sOpts);

    return {
        /** Which environment's defaults this stack runs with. */
        environment: cfg.environment,
        /** The base layer's outputs: the AWS layer's (region, VPC, cluster, kubeconfig) or local's kube context. */
        ...base.outputs,
        /** The StorageClass persistent volumes use. */
        storageClassName,
        /** Namespace of the platform's workloads. */
        namespace: namespace.name,
        /** PostgreSQL connection URL (secret). */
        postgresUrl: data.postgres.url,
        /** Redis connection URL (secret). */
        redisUrl: data.redis.url,
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
