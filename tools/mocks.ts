/**
 * Deterministic, realistically shaped outputs for the Pulumi mock runtime.
 *
 * Cloud-computed values (IDs, ARNs, endpoints) are placeholders shaped like AWS's, derived from a
 * hash of the resource's logical name so every run of the same stack renders the same values.
 * Invokes are answered only for the tokens listed in INVOKES; any other token throws, so a new
 * invoke in the program is never silently faked.
 */
import { createHash } from "node:crypto";
import type * as pulumi from "@pulumi/pulumi";

export const MOCK_ACCOUNT_ID = "123456789012";

/** Availability zones per region, as `aws.getAvailabilityZones({state: "available"})` reports them. */
export const REGION_AZS: Record<string, string[]> = {
    "us-east-1": ["a", "b", "c", "d", "e", "f"],
    "us-east-2": ["a", "b", "c"],
    "us-west-1": ["a", "c"],
    "us-west-2": ["a", "b", "c", "d"],
    "eu-west-1": ["a", "b", "c"],
    "eu-west-2": ["a", "b", "c"],
    "eu-central-1": ["a", "b", "c"],
    "eu-north-1": ["a", "b", "c"],
    "ap-southeast-1": ["a", "b", "c"],
    "ap-northeast-1": ["a", "c", "d"],
};

/** sha256 of each seed, kept for the process: every evaluation of a stack asks for the same few hundred. */
const digests = new Map<string, string>();

export function hex(seed: string, length: number): string {
    let digest = digests.get(seed);
    if (digest === undefined) {
        digest = createHash("sha256").update(seed).digest("hex");
        digests.set(seed, digest);
    }
    return digest.slice(0, length);
}

/** The physical name Pulumi's auto-naming would give: logical name plus a random (here: stable) suffix. */
export function autoName(name: string, length = 7): string {
    return `${name}-${hex(name, length)}`;
}

interface Context {
    region: string;
}

type Outputs = Record<string, unknown>;

/** Per-type computed outputs. Inputs are merged under these, so explicit inputs win. */
function computedOutputs(type: string, name: string, inputs: Outputs, ctx: Context): { id: string; state: Outputs } {
    const { region } = ctx;
    const acct = MOCK_ACCOUNT_ID;
    const physical = (inputs.name as string | undefined) ?? autoName(name);
    const h = (n: number) => hex(`${type}:${name}`, n);
    switch (type) {
        case "aws:ec2/vpc:Vpc":
            return { id: `vpc-${h(17)}`, state: { arn: `arn:aws:ec2:${region}:${acct}:vpc/vpc-${h(17)}`, defaultSecurityGroupId: `sg-${h(17)}` } };
        case "aws:ec2/subnet:Subnet":
            return { id: `subnet-${h(17)}`, state: { arn: `arn:aws:ec2:${region}:${acct}:subnet/subnet-${h(17)}` } };
        case "aws:ec2/internetGateway:InternetGateway":
            return { id: `igw-${h(17)}`, state: {} };
        case "aws:ec2/eip:Eip":
            return { id: `eipalloc-${h(17)}`, state: { publicIp: `203.0.113.${(parseInt(h(2), 16) % 254) + 1}`, allocationId: `eipalloc-${h(17)}` } };
        case "aws:ec2/natGateway:NatGateway":
            return { id: `nat-${h(17)}`, state: {} };
        case "aws:ec2/routeTable:RouteTable":
            return { id: `rtb-${h(17)}`, state: {} };
        case "aws:ec2/securityGroup:SecurityGroup":
            return { id: `sg-${h(17)}`, state: { arn: `arn:aws:ec2:${region}:${acct}:security-group/sg-${h(17)}`, name: physical } };
        case "aws:ec2/launchTemplate:LaunchTemplate":
            return { id: `lt-${h(17)}`, state: { latestVersion: 1, name: physical } };
        case "aws:kms/key:Key":
            return { id: h(8) + "-" + h(4), state: { arn: `arn:aws:kms:${region}:${acct}:key/${h(8)}-${h(4)}`, keyId: `${h(8)}-${h(4)}` } };
        case "aws:iam/role:Role":
            return { id: physical, state: { arn: `arn:aws:iam::${acct}:role/${physical}`, name: physical, uniqueId: `AROA${h(17).toUpperCase()}` } };
        case "aws:iam/policy:Policy":
            return { id: `arn:aws:iam::${acct}:policy/${physical}`, state: { arn: `arn:aws:iam::${acct}:policy/${physical}`, name: physical } };
        case "aws:iam/openIdConnectProvider:OpenIdConnectProvider": {
            const url = String(inputs.url ?? "").replace(/^https:\/\//, "");
            return { id: `arn:aws:iam::${acct}:oidc-provider/${url}`, state: { arn: `arn:aws:iam::${acct}:oidc-provider/${url}` } };
        }
        case "aws:cloudwatch/logGroup:LogGroup":
            return { id: physical, state: { arn: `arn:aws:logs:${region}:${acct}:log-group:${physical}`, name: physical } };
        case "aws:eks/cluster:Cluster": {
            const oidcId = h(32).toUpperCase();
            return {
                id: physical,
                state: {
                    name: physical,
                    arn: `arn:aws:eks:${region}:${acct}:cluster/${physical}`,
                    endpoint: `https://${h(32).toUpperCase()}.gr7.${region}.eks.amazonaws.com`,
                    certificateAuthority: { data: Buffer.from(`mock-ca-for-${physical}`).toString("base64") },
                    identities: [{ oidcs: [{ issuer: `https://oidc.eks.${region}.amazonaws.com/id/${oidcId}` }] }],
                    vpcConfig: { ...(inputs.vpcConfig as object), clusterSecurityGroupId: `sg-${h(17)}`, vpcId: `vpc-${hex("vpc", 17)}` },
                    version: inputs.version,
                    status: "ACTIVE",
                },
            };
        }
        case "aws:eks/nodeGroup:NodeGroup":
            return {
                id: `${physical}`,
                state: {
                    arn: `arn:aws:eks:${region}:${acct}:nodegroup/${physical}`,
                    nodeGroupName: inputs.nodeGroupName ?? physical,
                    resources: [{ autoscalingGroups: [{ name: `eks-${physical}-${h(8)}` }] }],
                },
            };
        case "aws:eks/addon:Addon":
            return {
                id: `${inputs.clusterName}:${inputs.addonName}`,
                state: { arn: `arn:aws:eks:${region}:${acct}:addon/${inputs.clusterName}/${inputs.addonName}/${h(8)}` },
            };
        case "aws:eks/accessEntry:AccessEntry":
            return { id: `${inputs.clusterName}:${inputs.principalArn}`, state: { accessEntryArn: `arn:aws:eks:${region}:${acct}:access-entry/${h(12)}` } };
        case "docker:index/image:Image": {
            const imageName = String(inputs.imageName);
            const repo = imageName.replace(/:[^:/]+$/, "");
            return {
                id: `sha256:${hex(imageName, 64)}`,
                state: { repoDigest: inputs.skipPush ? `sha256:${hex(imageName, 64)}` : `${repo}@sha256:${hex(imageName, 64)}` },
            };
        }
        case "aws:ecr/repository:Repository":
            return {
                id: physical,
                state: {
                    arn: `arn:aws:ecr:${region}:${acct}:repository/${physical}`,
                    name: physical,
                    registryId: acct,
                    repositoryUrl: `${acct}.dkr.ecr.${region}.amazonaws.com/${physical}`,
                },
            };
        case "aws:opensearch/domain:Domain": {
            const domainName = String(inputs.domainName ?? physical);
            const host = `vpc-${domainName}-${h(26)}.${region}.es.amazonaws.com`;
            return {
                id: `arn:aws:es:${region}:${acct}:domain/${domainName}`,
                state: {
                    arn: `arn:aws:es:${region}:${acct}:domain/${domainName}`,
                    domainId: `${acct}/${domainName}`,
                    domainName,
                    endpoint: host,
                    dashboardEndpoint: `${host}/_dashboards`,
                },
            };
        }
        case "aws:rds/instance:Instance": {
            const identifier = String(inputs.identifier ?? autoName(name).toLowerCase());
            const address = `${identifier}.${h(12)}.${region}.rds.amazonaws.com`;
            const port = (inputs.port as number | undefined) ?? 5432;
            return {
                id: `db-${h(26).toUpperCase()}`,
                state: {
                    arn: `arn:aws:rds:${region}:${acct}:db:${identifier}`,
                    identifier,
                    address,
                    port,
                    endpoint: `${address}:${port}`,
                    resourceId: `db-${h(26).toUpperCase()}`,
                },
            };
        }
        case "aws:elasticache/replicationGroup:ReplicationGroup": {
            const id = String(inputs.replicationGroupId ?? autoName(name).toLowerCase());
            const [geo, direction, n] = region.split("-");
            const shortRegion = `${geo}${direction[0]}${n}`; // eu-west-1 -> euw1, as in ElastiCache endpoints
            return {
                id,
                state: {
                    arn: `arn:aws:elasticache:${region}:${acct}:replicationgroup:${id}`,
                    primaryEndpointAddress: `master.${id}.${h(6)}.${shortRegion}.cache.amazonaws.com`,
                    readerEndpointAddress: `replica.${id}.${h(6)}.${shortRegion}.cache.amazonaws.com`,
                    port: (inputs.port as number | undefined) ?? 6379,
                },
            };
        }
        default:
            break;
    }
    if (type.startsWith("aws:")) {
        const service = type.split(":")[1].split("/")[0];
        // Most AWS resources are auto-named: `name` is computed when the program does not set it.
        return { id: `${name}-${h(8)}`, state: { arn: `arn:aws:${service}:${region}:${acct}:${name}-${h(8)}`, name: physical } };
    }
    if (type.startsWith("kubernetes:") && type !== "pulumi:providers:kubernetes") {
        const metadata = (inputs.metadata as Outputs | undefined) ?? {};
        const k8sName = (metadata.name as string | undefined) ?? autoName(name, 8);
        const ns = metadata.namespace as string | undefined;
        return { id: ns ? `${ns}/${k8sName}` : k8sName, state: { metadata: { ...metadata, name: k8sName } } };
    }
    if (type.startsWith("random:")) {
        // Random values are secrets in the program; their mock value never leaves the harness in clear.
        return { id: `${name}-${h(8)}`, state: { result: `mock-${h(24)}`, hex: h(16), b64Std: Buffer.from(h(12)).toString("base64") } };
    }
    return { id: `${name}-${h(8)}`, state: {} };
}

export function newResource(args: pulumi.runtime.MockResourceArgs, ctx: Context): pulumi.runtime.MockResourceResult {
    const { id, state } = computedOutputs(args.type, args.name, args.inputs as Outputs, ctx);
    return { id, state: { ...state, ...(args.inputs as Outputs), ...mergeNested(state, args.inputs as Outputs) } };
}

/** Keep computed fields of nested objects the inputs also set (e.g. metadata.name). */
function mergeNested(state: Outputs, inputs: Outputs): Outputs {
    const out: Outputs = {};
    for (const [k, v] of Object.entries(state)) {
        const i = inputs[k];
        if (v && typeof v === "object" && !Array.isArray(v) && i && typeof i === "object" && !Array.isArray(i)) out[k] = { ...v, ...i };
    }
    return out;
}

type InvokeHandler = (inputs: Outputs, ctx: Context) => Outputs;

/** The invokes the program may make, answered as AWS would. Anything else is an error. */
export const INVOKES: Record<string, InvokeHandler> = {
    "aws:index/getAvailabilityZones:getAvailabilityZones": (_inputs, { region }) => {
        const letters = REGION_AZS[region];
        if (!letters) throw new Error(`harness: no availability-zone data for region "${region}"; add it to REGION_AZS in tools/mocks.ts`);
        return {
            names: letters.map((l) => `${region}${l}`),
            zoneIds: letters.map((_l, i) => `${region.replace(/-/g, "").slice(0, 4)}-az${i + 1}`),
            id: region,
            groupNames: [region],
        };
    },
    "aws:index/getCallerIdentity:getCallerIdentity": () => ({
        accountId: MOCK_ACCOUNT_ID,
        arn: `arn:aws:iam::${MOCK_ACCOUNT_ID}:user/mock`,
        userId: "AIDAMOCK",
        id: MOCK_ACCOUNT_ID,
    }),
    "aws:index/getPartition:getPartition": () => ({ partition: "aws", dnsSuffix: "amazonaws.com", id: "aws" }),
    "aws:index/getRegion:getRegion": (_inputs, { region }) => ({ name: region, region, id: region }),
    "aws:ecr/getAuthorizationToken:getAuthorizationToken": (_inputs, { region }) => ({
        userName: "AWS",
        password: "mock-ecr-password",
        authorizationToken: Buffer.from("AWS:mock-ecr-password").toString("base64"),
        proxyEndpoint: `https://${MOCK_ACCOUNT_ID}.dkr.ecr.${region}.amazonaws.com`,
        expiresAt: "2030-01-01T00:00:00Z",
        id: region,
    }),
};

export function call(args: pulumi.runtime.MockCallArgs, ctx: Context): Outputs {
    const handler = INVOKES[args.token];
    if (!handler) {
        throw new Error(`harness: no mock for invoke "${args.token}"; answer it in INVOKES (tools/mocks.ts) with AWS-shaped data`);
    }
    return handler(args.inputs as Outputs, ctx);
}
