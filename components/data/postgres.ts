import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { restrictedContainerSecurityContext, resources, type Resources, WORKLOAD_LABELS } from "../../lib/k8s";
import { k8sLabels } from "../../lib/naming";
import {
    connectionSecret,
    type ConnectionInfo,
    DATA_SERVICE_DEFAULTS,
    type DataServiceArgs,
    exporterContainer,
    generatedPassword,
    inClusterDataService,
    postgresUrl,
} from "./data-service";
import { clusterOnlySecurityGroup } from "../aws/security-group";
import { ENGINES, IMAGES } from "../versions";

export interface PostgresArgs extends DataServiceArgs {
    /** `in-cluster` StatefulSet or Amazon RDS. */
    mode: "in-cluster" | "rds";
    /** Database name. */
    database: string;
    /** Owner role. */
    username: string;
    /** Storage in GiB (PVC, or RDS allocated storage). */
    storageGiB: number;
    /** in-cluster: resources of the postgres container. Default 250m/512Mi to 1/1Gi. */
    resources?: Resources;
    /** rds: instance class. */
    instanceClass?: string;
    /** rds: Multi-AZ standby. Default false. */
    multiAz?: boolean;
    /** rds: automated backup retention in days (>= 7). Default 7. */
    backupRetentionDays?: number;
}

const DEFAULTS = {
    ...DATA_SERVICE_DEFAULTS,
    resources: { cpuRequest: "250m", memoryRequest: "512Mi", cpuLimit: "1", memoryLimit: "1Gi" },
    multiAz: false,
    backupRetentionDays: 7,
};

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
        const a = { ...DEFAULTS, ...args };
        if (a.mode === "rds" && (!a.instanceClass || !a.vpcId || !a.subnetIds?.length || !a.clientSecurityGroupId)) {
            throw new Error(`Postgres ${name}: mode "rds" needs instanceClass, vpcId, subnetIds and clientSecurityGroupId`);
        }
        if (a.mode === "in-cluster" && !a.storageClassName) throw new Error(`Postgres ${name}: mode "in-cluster" needs storageClassName`);
        if (a.mode === "rds" && a.backupRetentionDays < 7) throw new Error(`Postgres ${name}: backupRetentionDays ${a.backupRetentionDays} is below 7`);
        super("cli-platform:data:Postgres", name, {}, opts);
        const labels = { ...k8sLabels("postgres", "database", name), ...WORKLOAD_LABELS.postgres };
        const password = generatedPassword(`${name}-password`, this, a.protect);
        const stateful = { parent: this, protect: a.protect, retainOnDelete: a.protect };

        if (a.mode === "in-cluster") {
            const credentials = new k8s.core.v1.Secret(
                `${name}-credentials`,
                {
                    metadata: { name: `${name}-credentials`, namespace: a.namespace, labels },
                    type: "Opaque",
                    stringData: { POSTGRES_PASSWORD: password.result },
                },
                { parent: this, provider: a.provider },
            );
            const secretEnv = (envName: string) => ({
                name: envName,
                valueFrom: { secretKeyRef: { name: credentials.metadata.name, key: "POSTGRES_PASSWORD" } },
            });
            const ready = (...extra: string[]) => ({ exec: { command: ["pg_isready", "-h", "127.0.0.1", ...extra] } });
            this.host = inClusterDataService(name, {
                namespace: a.namespace,
                labels,
                selector: WORKLOAD_LABELS.postgres,
                provider: a.provider,
                parent: this,
                protect: a.protect,
                storageClassName: a.storageClassName!,
                storageGiB: a.storageGiB,
                uid: POSTGRES_UID,
                port: { name: "postgres", number: POSTGRES_PORT },
                exporterPort: POSTGRES_EXPORTER_PORT,
                clientPodLabels: a.clientPodLabels,
                monitoringNamespace: a.monitoringNamespace,
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
                        resources: resources(a.resources),
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
            this.url = pulumi.secret(
                pulumi
                    .all([password.result, this.host])
                    .apply(([pw, host]) => postgresUrl({ user: a.username, password: pw, host, port: POSTGRES_PORT, database: a.database, tls: false })),
            );
        } else {
            const tags = a.tags ?? {};
            const key = new aws.kms.Key(
                `${name}-kms`,
                { description: `Storage and Performance Insights of ${name}`, enableKeyRotation: true, deletionWindowInDays: 30, tags },
                { parent: this },
            );
            const subnets = new aws.rds.SubnetGroup(`${name}-subnets`, { subnetIds: a.subnetIds!, tags }, { parent: this });
            const sg = clusterOnlySecurityGroup(`${name}-sg`, {
                what: `PostgreSQL ${name}`,
                vpcId: a.vpcId!,
                port: POSTGRES_PORT,
                clientSecurityGroupId: a.clientSecurityGroupId!,
                tags,
                parent: this,
            });
            const params = new aws.rds.ParameterGroup(
                `${name}-params`,
                {
                    family: ENGINES.rdsPostgres.parameterFamily,
                    description: `${name}: TLS required`,
                    parameters: [{ name: "rds.force_ssl", value: "1", applyMethod: "pending-reboot" }],
                    tags,
                },
                { parent: this },
            );
            const db = new aws.rds.Instance(
                `${name}-db`,
                {
                    engine: ENGINES.rdsPostgres.engine,
                    engineVersion: ENGINES.rdsPostgres.version,
                    instanceClass: a.instanceClass!,
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
                    applyImmediately: !a.protect,
                    tags,
                },
                stateful,
            );
            this.host = db.address;
            this.url = pulumi.secret(
                pulumi
                    .all([password.result, db.address])
                    .apply(([pw, host]) => postgresUrl({ user: a.username, password: pw, host, port: POSTGRES_PORT, database: a.database, tls: true })),
            );
        }

        const secret = connectionSecret(`${name}-connection`, {
            namespace: a.namespace,
            key: this.secretKey,
            url: this.url,
            labels,
            provider: a.provider,
            parent: this,
        });
        this.secretName = secret.metadata.name;
        this.registerOutputs({ url: this.url, secretName: this.secretName, host: this.host });
    }
}
