import * as kms from "@pulumi/aws/kms";
import * as rds from "@pulumi/aws/rds";
import * as corev1 from "@pulumi/kubernetes/core/v1";
import * as pulumi from "@pulumi/pulumi";
import type * as random from "@pulumi/random";
import { restrictedContainerSecurityContext, resources, type Resources, WORKLOAD_LABELS } from "../../lib/k8s";
import { k8sLabels } from "../../lib/naming";
import {
    connectionSecret,
    type ConnectionInfo,
    type DataServiceArgs,
    exporterContainer,
    generatedPassword,
    IN_CLUSTER_DEFAULTS,
    inClusterDataService,
    type InClusterPlacement,
    type ManagedPlacement,
    postgresUrl,
} from "./data-service";
import { clusterOnlySecurityGroup } from "../aws/security-group";
import { ENGINES, IMAGES } from "../versions";

interface PostgresCommonArgs extends DataServiceArgs {
    /** Database name. */
    database: string;
    /** Owner role. */
    username: string;
    /** Storage in GiB (PVC, or RDS allocated storage). */
    storageGiB: number;
}

/** A StatefulSet in the cluster. */
export interface PostgresInClusterArgs extends PostgresCommonArgs, InClusterPlacement {
    mode: "in-cluster";
    /** Resources of the postgres container. @default 250m/512Mi to 1/1Gi */
    resources?: Resources;
}

/** Amazon RDS. */
export interface PostgresRdsArgs extends PostgresCommonArgs {
    mode: "rds";
    /** Instance class, e.g. db.r6g.large. */
    instanceClass: string;
    /** Multi-AZ standby. */
    multiAz: boolean;
    /** Automated backup retention in days (>= 7). */
    backupRetentionDays: number;
    network: ManagedPlacement;
}

export type PostgresArgs = PostgresInClusterArgs | PostgresRdsArgs;

const POSTGRES_RESOURCES: Resources = { cpuRequest: "250m", memoryRequest: "512Mi", cpuLimit: "1", memoryLimit: "1Gi" };

export const POSTGRES_PORT = 5432;
export const POSTGRES_EXPORTER_PORT = 9187;
/** uid/gid of the postgres user in the official Debian-based image. */
export const POSTGRES_UID = 999;

/**
 * PostgreSQL for the platform, in one of two shapes behind one interface: a StatefulSet in the
 * cluster (dev, local) or Amazon RDS (prod). Either way the service gets the Secret
 * `<name>-connection` with key POSTGRES_URL.
 */
export class Postgres extends pulumi.ComponentResource implements ConnectionInfo {
    public readonly url: pulumi.Output<string>;
    public readonly secretName: pulumi.Output<string>;
    public readonly secretKey = "POSTGRES_URL";
    public readonly host: pulumi.Output<string>;
    public readonly port = POSTGRES_PORT;

    constructor(name: string, args: PostgresArgs, opts?: pulumi.ComponentResourceOptions) {
        if (args.mode === "rds" && args.backupRetentionDays < 7)
            throw new Error(`Postgres ${name}: backupRetentionDays ${args.backupRetentionDays} is below 7`);
        super("cli-platform:data:Postgres", name, {}, opts);
        const protect = args.protect ?? false;
        const labels = { ...k8sLabels("postgres", "database", name), ...WORKLOAD_LABELS.postgres };
        const password = generatedPassword(`${name}-password`, this, protect);
        const built = args.mode === "in-cluster" ? this.inCluster(name, args, protect, labels, password) : this.rds(name, args, protect, password);
        this.host = built.host;
        this.url = pulumi.secret(
            pulumi
                .all([password.result, built.host])
                .apply(([pw, host]) => postgresUrl({ user: args.username, password: pw, host, port: POSTGRES_PORT, database: args.database, tls: built.tls })),
        );
        const secret = connectionSecret(`${name}-connection`, { namespace: args.namespace, key: this.secretKey, url: this.url, labels, parent: this });
        this.secretName = secret.metadata.name;
        this.registerOutputs({ url: this.url, secretName: this.secretName, host: this.host });
    }

    /** A one-replica StatefulSet with the exporter sidecar; plain TCP inside the namespace. */
    private inCluster(
        name: string,
        a: PostgresInClusterArgs,
        protect: boolean,
        labels: Record<string, string>,
        password: random.RandomPassword,
    ): { host: pulumi.Output<string>; tls: boolean } {
        const placement = { ...IN_CLUSTER_DEFAULTS, ...a };
        const credentials = new corev1.Secret(
            `${name}-credentials`,
            {
                metadata: { name: `${name}-credentials`, namespace: a.namespace, labels },
                type: "Opaque",
                stringData: { POSTGRES_PASSWORD: password.result },
            },
            { parent: this },
        );
        const secretEnv = (envName: string) => ({
            name: envName,
            valueFrom: { secretKeyRef: { name: credentials.metadata.name, key: "POSTGRES_PASSWORD" } },
        });
        const ready = (...extra: string[]) => ({ exec: { command: ["pg_isready", "-h", "127.0.0.1", ...extra] } });
        const host = inClusterDataService(name, {
            namespace: a.namespace,
            labels,
            selector: WORKLOAD_LABELS.postgres,
            parent: this,
            protect,
            storageClassName: a.storageClassName,
            storageGiB: a.storageGiB,
            uid: POSTGRES_UID,
            port: { name: "postgres", number: POSTGRES_PORT },
            exporterPort: POSTGRES_EXPORTER_PORT,
            clientPodLabels: placement.clientPodLabels,
            monitoringNamespace: placement.monitoringNamespace,
            terminationGracePeriodSeconds: 60,
            containers: [
                {
                    name: "postgres",
                    image: IMAGES.postgres,
                    ports: [{ name: "postgres", containerPort: POSTGRES_PORT }],
                    env: [
                        { name: "POSTGRES_DB", value: a.database },
                        { name: "POSTGRES_USER", value: a.username },
                        secretEnv("POSTGRES_PASSWORD"),
                        { name: "PGDATA", value: "/var/lib/postgresql/data/pgdata" },
                    ],
                    securityContext: restrictedContainerSecurityContext(),
                    resources: resources(a.resources ?? POSTGRES_RESOURCES),
                    readinessProbe: { ...ready("-U", a.username, "-d", a.database), periodSeconds: 5, timeoutSeconds: 3 },
                    livenessProbe: { ...ready("-U", a.username, "-d", a.database), initialDelaySeconds: 30, periodSeconds: 10, timeoutSeconds: 5 },
                    startupProbe: { ...ready(), periodSeconds: 5, failureThreshold: 60 },
                    volumeMounts: [
                        { name: "data", mountPath: "/var/lib/postgresql/data" },
                        { name: "run", mountPath: "/var/run/postgresql" },
                        { name: "tmp", mountPath: "/tmp" },
                    ],
                },
                exporterContainer(
                    IMAGES.postgresExporter,
                    POSTGRES_EXPORTER_PORT,
                    [
                        { name: "DATA_SOURCE_URI", value: `127.0.0.1:${POSTGRES_PORT}/${a.database}?sslmode=disable` },
                        { name: "DATA_SOURCE_USER", value: a.username },
                        secretEnv("DATA_SOURCE_PASS"),
                    ],
                    "/",
                ),
            ],
            extraVolumes: [{ name: "run", emptyDir: {} }],
        });
        return { host, tls: false };
    }

    /** Amazon RDS: KMS-encrypted, private, TLS forced, Multi-AZ as configured, deletion-protected. */
    private rds(name: string, a: PostgresRdsArgs, protect: boolean, password: random.RandomPassword): { host: pulumi.Output<string>; tls: boolean } {
        const tags = a.network.tags ?? {};
        const key = new kms.Key(
            `${name}-kms`,
            { description: `Storage and Performance Insights of ${name}`, enableKeyRotation: true, deletionWindowInDays: 30, tags },
            { parent: this },
        );
        const subnets = new rds.SubnetGroup(`${name}-subnets`, { subnetIds: a.network.subnetIds, tags }, { parent: this });
        const sg = clusterOnlySecurityGroup(`${name}-sg`, {
            what: `PostgreSQL ${name}`,
            vpcId: a.network.vpcId,
            port: POSTGRES_PORT,
            clientSecurityGroupId: a.network.clientSecurityGroupId,
            tags,
            parent: this,
        });
        const params = new rds.ParameterGroup(
            `${name}-params`,
            {
                family: ENGINES.rdsPostgres.parameterFamily,
                description: `${name}: TLS required`,
                parameters: [{ name: "rds.force_ssl", value: "1", applyMethod: "pending-reboot" }],
                tags,
            },
            { parent: this },
        );
        const db = new rds.Instance(
            `${name}-db`,
            {
                engine: ENGINES.rdsPostgres.engine,
                engineVersion: ENGINES.rdsPostgres.version,
                instanceClass: a.instanceClass,
                allocatedStorage: a.storageGiB,
                maxAllocatedStorage: a.storageGiB * 4,
                storageType: "gp3",
                storageEncrypted: true,
                kmsKeyId: key.arn,
                dbName: a.database,
                username: a.username,
                password: password.result,
                port: POSTGRES_PORT,
                multiAz: a.multiAz,
                dbSubnetGroupName: subnets.name,
                vpcSecurityGroupIds: [sg.id],
                parameterGroupName: params.name,
                publiclyAccessible: false,
                backupRetentionPeriod: a.backupRetentionDays,
                backupWindow: "02:00-03:00",
                maintenanceWindow: "sun:03:30-sun:04:30",
                copyTagsToSnapshot: true,
                deletionProtection: true,
                skipFinalSnapshot: false,
                finalSnapshotIdentifier: `${name}-final-snapshot`,
                performanceInsightsEnabled: true,
                performanceInsightsKmsKeyId: key.arn,
                performanceInsightsRetentionPeriod: 7,
                enabledCloudwatchLogsExports: ["postgresql", "upgrade"],
                autoMinorVersionUpgrade: true,
                // Class and storage changes wait for the maintenance window unless protection is off (dev).
                applyImmediately: !protect,
                tags,
            },
            { parent: this, protect, retainOnDelete: protect },
        );
        return { host: db.address, tls: true };
    }
}
