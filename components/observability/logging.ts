import { LogGroup } from "@pulumi/aws/cloudwatch/logGroup";
import * as kms from "@pulumi/aws/kms";
import * as opensearch from "@pulumi/aws/opensearch";
import { getCallerIdentityOutput } from "@pulumi/aws/getCallerIdentity";
import * as corev1 from "@pulumi/kubernetes/core/v1";
import * as batchv1 from "@pulumi/kubernetes/batch/v1";
import * as pulumi from "@pulumi/pulumi";
import * as fs from "node:fs";
import * as path from "node:path";
import { restrictedContainerSecurityContext, restrictedPodSecurityContext } from "../../lib/k8s";
import { clusterOnlySecurityGroup } from "../aws/security-group";
import { IrsaRole, logGroupWriterPolicy, type OidcProvider, type PolicyDocument } from "../aws/iam";
import { CHARTS, ENGINES, IMAGES } from "../versions";
import { chartRelease } from "../helm";

export type LogSink = "opensearch" | "cloudwatch" | "stdout";

interface LoggingCommonArgs {
    /** Namespace for Fluent Bit, named LOGGING_NAMESPACE (created by the caller, PSA privileged: it reads the nodes' /var/log). */
    namespace: pulumi.Input<string>;
    clusterName: string;
}

/** What the AWS sinks share: the region, the OIDC provider for IRSA, protection and tags. */
interface AwsSinkArgs {
    region: string;
    oidc: OidcProvider;
    /** `protect` the log group or domain (and retain the domain on delete). @default false */
    protect?: boolean;
    /** @default {} */
    tags?: Record<string, string>;
}

/** CloudWatch Logs: a KMS-encrypted log group. */
export interface CloudWatchLoggingArgs extends LoggingCommonArgs, AwsSinkArgs {
    sink: "cloudwatch";
    /** Log group retention in days. */
    retentionDays: number;
}

/** Amazon OpenSearch: a VPC domain, its index lifecycle applied by a bootstrap Job. */
export interface OpenSearchLoggingArgs extends LoggingCommonArgs, AwsSinkArgs {
    sink: "opensearch";
    /** Days an index lives (the index lifecycle). */
    retentionDays: number;
    vpcId: pulumi.Input<string>;
    /** One data node per subnet (zone awareness over up to 3). */
    subnetIds: pulumi.Input<string>[];
    clusterSecurityGroupId: pulumi.Input<string>;
    instanceType: string;
    volumeGiB: number;
    /** Principals allowed to administer the domain. */
    adminPrincipalArns: string[];
}

/** Fluent Bit's stdout (local). */
export interface StdoutLoggingArgs extends LoggingCommonArgs {
    sink: "stdout";
}

export type LoggingArgs = CloudWatchLoggingArgs | OpenSearchLoggingArgs | StdoutLoggingArgs;

/** The namespace Fluent Bit runs in; its IRSA roles trust service accounts of this namespace only. */
export const LOGGING_NAMESPACE = "logging";
export const FLUENT_BIT_SERVICE_ACCOUNT = "fluent-bit";
export const INDEX_PREFIX = "cli-platform";
/** Keys Fluent Bit removes from every record before shipping, whatever a container logged. */
export const SCRUBBED_KEYS = "(?i)^(authorization|password|passwd|secret|token|api_?key|cookie|set-cookie)$";

/**
 * Fluent Bit pipeline: tail container logs, parse JSON lines into fields, add Kubernetes metadata, scrub, ship.
 * Every sink receives the whole record: a JSON line's fields merged at the top level (its raw `log`
 * dropped, Keep_Log Off), a plain line as `log`, both with `kubernetes`. No `log_key` on
 * cloudwatch_logs: it would send only that key's value and drop every record without one (all merged
 * JSON lines). No `log_format json/emf`: it marks every event as Embedded Metric Format, which these
 * records are not. (Checked against fluent-bit v5.1.1, the chart's appVersion.)
 */
export function fluentBitConfig(sink: LogSink, o: { region?: string; logGroup?: string; endpoint?: string }): Record<string, string> {
    const outputs: Record<LogSink, string> = {
        cloudwatch: `[OUTPUT]
    Name cloudwatch_logs
    Match kube.*
    region ${o.region}
    log_group_name ${o.logGroup}
    log_stream_prefix pod-
    auto_create_group Off
`,
        opensearch: `[OUTPUT]
    Name opensearch
    Match kube.*
    Host ${o.endpoint}
    Port 443
    tls On
    AWS_Auth On
    AWS_Region ${o.region}
    Logstash_Format On
    Logstash_Prefix ${INDEX_PREFIX}
    Suppress_Type_Name On
    Replace_Dots On
    Retry_Limit 5
`,
        stdout: `[OUTPUT]
    Name stdout
    Match kube.*
    Format json_lines
`,
    };
    return {
        service: `[SERVICE]
    Daemon Off
    Flush 5
    Log_Level info
    Parsers_File /fluent-bit/etc/parsers.conf
    HTTP_Server On
    HTTP_Listen 0.0.0.0
    HTTP_Port 2020
    Health_Check On
`,
        inputs: `[INPUT]
    Name tail
    Path /var/log/containers/*.log
    multiline.parser cri, docker
    Tag kube.*
    Mem_Buf_Limit 50MB
    Skip_Long_Lines On
    DB /var/fluent-bit/state/flb_kube.db
`,
        filters: `[FILTER]
    Name kubernetes
    Match kube.*
    Merge_Log On
    Keep_Log Off
    K8S-Logging.Parser On
    K8S-Logging.Exclude On
    Labels On
    Annotations Off

[FILTER]
    Name modify
    Match kube.*
    Remove_regex ${SCRUBBED_KEYS}
`,
        outputs: outputs[sink],
    };
}

/** Fluent Bit may only send HTTP writes to its own domain. */
export function opensearchWriterPolicy(domainArn: string): PolicyDocument {
    return { Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: ["es:ESHttpPost", "es:ESHttpPut", "es:ESHttpGet"], Resource: [`${domainArn}/*`] }] };
}

/** The domain's resource policy: only the listed principals (Fluent Bit, the bootstrap job, admins). */
export function domainAccessPolicy(domainArn: string, principals: string[]): PolicyDocument {
    return { Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { AWS: principals }, Action: "es:ESHttp*", Resource: `${domainArn}/*` }] };
}

/** KMS key policy letting CloudWatch Logs use the key for this account's log groups. */
function logsKeyPolicy(accountId: string, region: string): string {
    return JSON.stringify({
        Version: "2012-10-17",
        Statement: [
            { Sid: "Account", Effect: "Allow", Principal: { AWS: `arn:aws:iam::${accountId}:root` }, Action: "kms:*", Resource: "*" },
            {
                Sid: "CloudWatchLogs",
                Effect: "Allow",
                Principal: { Service: `logs.${region}.amazonaws.com` },
                Action: ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                Resource: "*",
                Condition: { ArnLike: { "kms:EncryptionContext:aws:logs:arn": `arn:aws:logs:${region}:${accountId}:log-group:*` } },
            },
        ],
    });
}

/**
 * Centralised logging: Fluent Bit (DaemonSet, Helm) tails every container's log, parses the
 * service's JSON lines into fields, adds Kubernetes metadata, drops secret-looking keys and ships
 * to CloudWatch Logs (dev), Amazon OpenSearch (prod) or stdout (local), with an IRSA role that may
 * write only to its own log group or domain.
 */
export class Logging extends pulumi.ComponentResource {
    /** Where to read the logs: OpenSearch Dashboards, the CloudWatch console, or kubectl. */
    public readonly logsUrl: pulumi.Output<string>;

    constructor(name: string, args: LoggingArgs, opts?: pulumi.ComponentResourceOptions) {
        super("cli-platform:logging:Logging", name, {}, opts);
        const k8sOpts = { parent: this };
        const ns = pulumi.output(args.namespace);
        const sink: SinkOutputs =
            args.sink === "cloudwatch"
                ? this.cloudWatch(name, args)
                : args.sink === "opensearch"
                  ? this.openSearch(name, args, ns)
                  : { config: pulumi.output(fluentBitConfig("stdout", {})), logsUrl: pulumi.interpolate`kubectl -n ${ns} logs daemonset/fluent-bit` };
        const { config, roleArn } = sink;
        this.logsUrl = sink.logsUrl;

        chartRelease(
            `${name}-fluent-bit`,
            CHARTS.fluentBit,
            {
                name: "fluent-bit",
                namespace: ns,
                values: pulumi.all([config, roleArn ?? ""]).apply(([c, arn]) => ({
                    kind: "DaemonSet",
                    serviceAccount: { create: true, name: FLUENT_BIT_SERVICE_ACCOUNT, annotations: arn ? { "eks.amazonaws.com/role-arn": arn } : {} },
                    // On every node, whatever its taints.
                    tolerations: [{ operator: "Exists" }],
                    priorityClassName: "system-node-critical",
                    resources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { memory: "256Mi" } },
                    config: c,
                    extraVolumes: [{ name: "state", hostPath: { path: "/var/fluent-bit/state", type: "DirectoryOrCreate" } }],
                    extraVolumeMounts: [{ name: "state", mountPath: "/var/fluent-bit/state" }],
                })),
            },
            k8sOpts,
        );
        this.registerOutputs({ logsUrl: this.logsUrl });
    }

    /** CloudWatch Logs: a KMS key CloudWatch may use, the log group, and Fluent Bit's IRSA role writing to it only. */
    private cloudWatch(name: string, args: CloudWatchLoggingArgs): SinkOutputs {
        const tags = args.tags ?? {};
        const protect = args.protect ?? false;
        const identity = getCallerIdentityOutput({}, { parent: this });
        const key = new kms.Key(
            `${name}-kms`,
            {
                description: `Container logs of ${args.clusterName}`,
                enableKeyRotation: true,
                policy: identity.accountId.apply((id) => logsKeyPolicy(id, args.region)),
                tags,
            },
            { parent: this },
        );
        const group = new LogGroup(
            `${name}-containers`,
            { name: `/aws/eks/${args.clusterName}/containers`, retentionInDays: args.retentionDays, kmsKeyId: key.arn, tags },
            { parent: this, protect },
        );
        const role = new IrsaRole(
            `${name}-fluent-bit`,
            {
                oidc: args.oidc,
                namespace: LOGGING_NAMESPACE,
                serviceAccount: FLUENT_BIT_SERVICE_ACCOUNT,
                inlinePolicy: group.arn.apply((arn) => JSON.stringify(logGroupWriterPolicy(arn))),
                tags,
            },
            { parent: this },
        );
        return {
            roleArn: role.roleArn,
            config: group.name.apply((logGroup) => fluentBitConfig("cloudwatch", { region: args.region, logGroup })),
            logsUrl: pulumi.interpolate`https://${args.region}.console.aws.amazon.com/cloudwatch/home?region=${args.region}#logsV2:log-groups/log-group/${group.name.apply(encodeURIComponent)}`,
        };
    }

    /** Amazon OpenSearch in the VPC: the domain, the writer and bootstrap IRSA roles, and the bootstrap Job. */
    private openSearch(name: string, args: OpenSearchLoggingArgs, ns: pulumi.Output<string>): SinkOutputs {
        const k8sOpts = { parent: this };
        const tags = args.tags ?? {};
        const protect = args.protect ?? false;
        const identity = getCallerIdentityOutput({}, { parent: this });
        const domainName = args.clusterName.slice(0, 28);
        const domainArn = pulumi.interpolate`arn:aws:es:${args.region}:${identity.accountId}:domain/${domainName}`;
        const writer = new IrsaRole(
            `${name}-fluent-bit`,
            {
                oidc: args.oidc,
                namespace: LOGGING_NAMESPACE,
                serviceAccount: FLUENT_BIT_SERVICE_ACCOUNT,
                inlinePolicy: domainArn.apply((arn) => JSON.stringify(opensearchWriterPolicy(arn))),
                tags,
            },
            { parent: this },
        );
        const bootstrapRole = new IrsaRole(
            `${name}-os-bootstrap`,
            {
                oidc: args.oidc,
                namespace: LOGGING_NAMESPACE,
                serviceAccount: "opensearch-bootstrap",
                inlinePolicy: domainArn.apply((arn) => JSON.stringify(opensearchWriterPolicy(arn))),
                tags,
            },
            { parent: this },
        );
        const key = new kms.Key(`${name}-os-kms`, { description: `OpenSearch ${domainName} at rest`, enableKeyRotation: true, tags }, { parent: this });
        const sg = clusterOnlySecurityGroup(`${name}-os-sg`, {
            what: `OpenSearch ${domainName}`,
            vpcId: args.vpcId,
            port: 443,
            clientSecurityGroupId: args.clusterSecurityGroupId,
            tags,
            parent: this,
        });
        const azCount = args.subnetIds.length;
        const domain = new opensearch.Domain(
            `${name}-domain`,
            {
                domainName,
                engineVersion: ENGINES.opensearch.version,
                clusterConfig: {
                    instanceType: args.instanceType,
                    instanceCount: azCount,
                    zoneAwarenessEnabled: azCount > 1,
                    zoneAwarenessConfig: azCount > 1 ? { availabilityZoneCount: Math.min(azCount, 3) } : undefined,
                },
                ebsOptions: { ebsEnabled: true, volumeType: "gp3", volumeSize: args.volumeGiB },
                encryptAtRest: { enabled: true, kmsKeyId: key.arn },
                nodeToNodeEncryption: { enabled: true },
                domainEndpointOptions: { enforceHttps: true, tlsSecurityPolicy: "Policy-Min-TLS-1-2-PFS-2023-10" },
                advancedSecurityOptions: { enabled: true, internalUserDatabaseEnabled: false, masterUserOptions: { masterUserArn: bootstrapRole.roleArn } },
                vpcOptions: { subnetIds: args.subnetIds, securityGroupIds: [sg.id] },
                accessPolicies: pulumi
                    .all([domainArn, writer.roleArn, bootstrapRole.roleArn])
                    .apply(([arn, w, b]) => JSON.stringify(domainAccessPolicy(arn, [w, b, ...args.adminPrincipalArns]))),
                snapshotOptions: { automatedSnapshotStartHour: 3 },
                tags,
            },
            { parent: this, protect, retainOnDelete: protect },
        );
        // The index lifecycle (delete after retention) and role mappings, applied from inside the VPC.
        const sa = new corev1.ServiceAccount(
            `${name}-os-bootstrap`,
            { metadata: { name: "opensearch-bootstrap", namespace: ns, annotations: { "eks.amazonaws.com/role-arn": bootstrapRole.roleArn } } },
            k8sOpts,
        );
        const script = fs.readFileSync(path.join(__dirname, "assets", "opensearch-bootstrap.py"), "utf8");
        const scriptMap = new corev1.ConfigMap(
            `${name}-os-bootstrap`,
            { metadata: { name: "opensearch-bootstrap", namespace: ns }, data: { "bootstrap.py": script } },
            k8sOpts,
        );
        new batchv1.Job(
            `${name}-os-bootstrap`,
            {
                metadata: { namespace: ns },
                spec: {
                    backoffLimit: 6,
                    ttlSecondsAfterFinished: 86400,
                    template: {
                        spec: {
                            restartPolicy: "OnFailure",
                            serviceAccountName: sa.metadata.name,
                            securityContext: restrictedPodSecurityContext(65534),
                            containers: [
                                {
                                    name: "bootstrap",
                                    image: IMAGES.python,
                                    command: ["python3", "/opt/bootstrap/bootstrap.py"],
                                    env: [
                                        { name: "DOMAIN_ENDPOINT", value: domain.endpoint },
                                        { name: "AWS_REGION", value: args.region },
                                        { name: "RETENTION_DAYS", value: String(args.retentionDays) },
                                        { name: "INDEX_PREFIX", value: INDEX_PREFIX },
                                        { name: "WRITER_ROLE_ARN", value: writer.roleArn },
                                        { name: "ADMIN_ARNS", value: args.adminPrincipalArns.join(",") },
                                    ],
                                    securityContext: restrictedContainerSecurityContext(),
                                    resources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { cpu: "200m", memory: "128Mi" } },
                                    volumeMounts: [{ name: "script", mountPath: "/opt/bootstrap", readOnly: true }],
                                },
                            ],
                            volumes: [{ name: "script", configMap: { name: scriptMap.metadata.name } }],
                        },
                    },
                },
            },
            { ...k8sOpts, replaceOnChanges: ["spec"], deleteBeforeReplace: true },
        );
        return {
            roleArn: writer.roleArn,
            config: domain.endpoint.apply((endpoint) => fluentBitConfig("opensearch", { region: args.region, endpoint })),
            logsUrl: pulumi.interpolate`https://${domain.dashboardEndpoint}`,
        };
    }
}

/** What a sink hands to Fluent Bit: its pipeline config, its IRSA role (AWS sinks) and where to read the logs. */
interface SinkOutputs {
    config: pulumi.Output<Record<string, string>>;
    roleArn?: pulumi.Output<string>;
    logsUrl: pulumi.Output<string>;
}
