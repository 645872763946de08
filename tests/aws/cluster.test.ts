import * as assert from "node:assert/strict";
import { ADDON_IRSA, addonConfiguration, kubeconfigFor, MANAGED_POLICIES, nodeLaunchTemplate, STORAGE_CLASS } from "../../components/aws/cluster";
import { irsaTrustPolicy, type PolicyDocument } from "../../components/aws/iam";
import { EKS_ADDON_NAMES, EKS_VERSIONS } from "../../components/versions";
import { awsConfig, byType, byUrn, json, one, rawConfig, render, renderWith, patchSection, type StackRender } from "../harness";

const CLUSTER = "aws:eks/cluster:Cluster";
const NODE_GROUP = "aws:eks/nodeGroup:NodeGroup";

/** The IRSA roles of a render: role name -> the service account its trust policy names. */
function irsaSubjects(r: StackRender): Map<string, string> {
    const out = new Map<string, string>();
    for (const role of byType(r, "aws:iam/role:Role")) {
        const trust = json<PolicyDocument>(role.inputs.assumeRolePolicy);
        if (trust.Statement[0].Action !== "sts:AssumeRoleWithWebIdentity") continue;
        assert.equal(trust.Statement.length, 1, `${role.name}: one trust statement`);
        const cond = trust.Statement[0].Condition!.StringEquals;
        const keys = Object.keys(cond).sort();
        assert.equal(keys.length, 2, `${role.name}: exactly sub and aud`);
        assert.match(keys[0], /^oidc\.eks\.eu-west-1\.amazonaws\.com\/id\/[0-9A-F]+:aud$/);
        assert.equal(cond[keys[0]], "sts.amazonaws.com");
        assert.match(String(trust.Statement[0].Principal!.Federated), /^arn:aws:iam::\d{12}:oidc-provider\/oidc\.eks\./);
        out.set(role.name, cond[keys[1]]);
    }
    return out;
}

describe("EksCluster", () => {
    for (const stack of ["dev", "staging", "prod"] as const) {
        describe(stack, () => {
            const cfg = awsConfig(rawConfig(stack)).cluster;

            it("encrypts secrets with a rotating KMS key", async () => {
                const r = await render(stack);
                const key = one(r, "aws:kms/key:Key", "cluster-secrets");
                assert.equal(key.inputs.enableKeyRotation, true);
                const cluster = one(r, CLUSTER);
                assert.deepEqual((cluster.inputs.encryptionConfig as { resources: string[] }).resources, ["secrets"]);
                assert.match((cluster.inputs.encryptionConfig as { provider: { keyArn: string } }).provider.keyArn, /^arn:aws:kms:eu-west-1:/);
            });

            it("ships control-plane logs with retention, to a group created first", async () => {
                const r = await render(stack);
                const cluster = one(r, CLUSTER);
                assert.deepEqual(cluster.inputs.enabledClusterLogTypes, cfg.logTypes);
                for (const t of ["api", "audit", "authenticator"]) assert.ok(cfg.logTypes.includes(t as never));
                const group = one(r, "aws:cloudwatch/logGroup:LogGroup", "cluster-control-plane");
                assert.equal(group.inputs.name, `/aws/eks/cli-platform-${stack}/cluster`);
                assert.equal(group.inputs.retentionInDays, cfg.logRetentionDays);
                assert.ok(cluster.dependsOn.includes(group.urn));
            });

            it("runs the configured Kubernetes version with private access on and public access only for the configured CIDRs", async () => {
                const cluster = one(await render(stack), CLUSTER);
                assert.equal(cluster.inputs.version, cfg.kubernetesVersion);
                const vpc = cluster.inputs.vpcConfig as Record<string, unknown>;
                assert.equal(vpc.endpointPrivateAccess, true);
                assert.equal(vpc.endpointPublicAccess, cfg.endpointPublicAccess);
                assert.deepEqual(vpc.publicAccessCidrs, cfg.publicAccessCidrs);
                assert.equal((vpc.subnetIds as string[]).length, stack === "dev" ? 2 : 3);
                if (stack !== "dev") assert.ok(!(vpc.publicAccessCidrs as string[]).includes("0.0.0.0/0"));
            });

            it("authenticates through the EKS API with access entries for the configured admins (no aws-auth ConfigMap)", async () => {
                const r = await render(stack);
                assert.deepEqual(one(r, CLUSTER).inputs.accessConfig, { authenticationMode: "API", bootstrapClusterCreatorAdminPermissions: true });
                const entries = byType(r, "aws:eks/accessEntry:AccessEntry");
                assert.deepEqual(
                    entries.map((e) => e.inputs.principalArn),
                    cfg.adminPrincipalArns,
                );
                const assoc = byType(r, "aws:eks/accessPolicyAssociation:AccessPolicyAssociation");
                assert.equal(assoc.length, entries.length);
                for (const a of assoc) {
                    assert.equal(a.inputs.policyArn, MANAGED_POLICIES.clusterAdminAccess);
                    assert.deepEqual(a.inputs.accessScope, { type: "cluster" });
                }
                assert.ok(!r.resources.some((x) => x.type === "kubernetes:core/v1:ConfigMap" && (x.inputs.metadata as { name?: string }).name === "aws-auth"));
            });

            it("has an OIDC provider for IRSA with the STS audience", async () => {
                const oidc = one(await render(stack), "aws:iam/openIdConnectProvider:OpenIdConnectProvider");
                assert.deepEqual(oidc.inputs.clientIdLists, ["sts.amazonaws.com"]);
                assert.match(String(oidc.inputs.url), /^https:\/\/oidc\.eks\.eu-west-1\.amazonaws\.com\/id\//);
            });

            it("creates the node groups exactly as configured, in private subnets, on IMDSv2-only launch templates", async () => {
                const r = await render(stack);
                const groups = byType(r, NODE_GROUP);
                assert.equal(groups.length, cfg.nodeGroups.length);
                const privateSubnets = byType(r, "aws:ec2/subnet:Subnet")
                    .filter((s) => (s.inputs.tags as Record<string, string>).tier === "private")
                    .map((s) => s.id);
                cfg.nodeGroups.forEach((want, i) => {
                    const got = groups[i];
                    assert.equal(got.name, `cluster-${want.name}`);
                    assert.deepEqual(got.inputs.instanceTypes, want.instanceTypes);
                    assert.equal(got.inputs.capacityType, want.capacityType);
                    assert.deepEqual(got.inputs.scalingConfig, { minSize: want.minSize, desiredSize: want.desiredSize, maxSize: want.maxSize });
                    assert.deepEqual(got.inputs.labels, { ...want.labels, "cli-platform/node-group": want.name });
                    assert.deepEqual(got.inputs.taints, want.taints);
                    assert.deepEqual(got.inputs.subnetIds, privateSubnets);
                    assert.deepEqual(got.ignoreChanges, ["scalingConfig.desiredSize"], "the autoscaler owns desiredSize");
                    const tags = got.inputs.tags as Record<string, string>;
                    assert.equal(tags["k8s.io/cluster-autoscaler/enabled"], "true");
                    assert.equal(tags[`k8s.io/cluster-autoscaler/cli-platform-${stack}`], "owned");
                    const ltUrn = got.dependsOn.find((u) => u.includes("LaunchTemplate"))!;
                    const lt = byUrn(r, ltUrn);
                    assert.deepEqual(lt.inputs.metadataOptions, {
                        httpEndpoint: "enabled",
                        httpTokens: "required",
                        httpPutResponseHopLimit: 1,
                        instanceMetadataTags: "disabled",
                    });
                    const disk = (lt.inputs.blockDeviceMappings as { ebs: Record<string, unknown> }[])[0].ebs;
                    assert.deepEqual([disk.volumeSize, disk.volumeType, disk.encrypted], [want.diskSizeGiB, "gp3", "true"]);
                });
            });

            it("installs the pinned core add-ons, vpc-cni with NetworkPolicy enforcement", async () => {
                const r = await render(stack);
                const addons = byType(r, "aws:eks/addon:Addon");
                assert.deepEqual(addons.map((a) => a.inputs.addonName).sort(), [...EKS_ADDON_NAMES].sort());
                for (const a of addons) {
                    assert.equal(a.inputs.addonVersion, EKS_VERSIONS[cfg.kubernetesVersion].addons[a.inputs.addonName as keyof typeof ADDON_IRSA]);
                }
                const cni = addons.find((a) => a.inputs.addonName === "vpc-cni")!;
                assert.deepEqual(json(cni.inputs.configurationValues), { enableNetworkPolicy: "true" });
                // Add-ons that run as pods wait for nodes; the CNI comes before them.
                const coredns = addons.find((a) => a.inputs.addonName === "coredns")!;
                assert.ok(coredns.dependsOn.some((u) => u.includes("nodeGroup")));
                for (const g of byType(r, NODE_GROUP)) assert.ok(g.dependsOn.includes(cni.urn));
            });

            it("gives vpc-cni, the EBS CSI driver, the autoscaler, Fluent Bit, the load balancer controller and external-dns each an IRSA role naming exactly its service account", async () => {
                const r = await render(stack);
                const subjects = irsaSubjects(r);
                assert.deepEqual(Object.fromEntries([...subjects.entries()].sort()), {
                    "autoscaler-irsa-role": "system:serviceaccount:kube-system:cluster-autoscaler",
                    "cluster-aws-ebs-csi-driver-role": "system:serviceaccount:kube-system:ebs-csi-controller-sa",
                    "cluster-vpc-cni-role": "system:serviceaccount:kube-system:aws-node",
                    "logging-fluent-bit-role": "system:serviceaccount:logging:fluent-bit",
                    ...(stack !== "dev" ? { "logging-os-bootstrap-role": "system:serviceaccount:logging:opensearch-bootstrap" } : {}),
                    "traffic-lbc-irsa-role": "system:serviceaccount:kube-system:aws-load-balancer-controller",
                    // external-dns only where a hosted zone is configured (prod's stack file).
                    ...(stack === "prod" ? { "traffic-external-dns-irsa-role": "system:serviceaccount:external-dns:external-dns" } : {}),
                });
                const ebs = byType(r, "aws:eks/addon:Addon").find((a) => a.inputs.addonName === "aws-ebs-csi-driver")!;
                assert.match(String(ebs.inputs.serviceAccountRoleArn), /role\/cluster-aws-ebs-csi-driver-role-/);
                const attach = byType(r, "aws:iam/rolePolicyAttachment:RolePolicyAttachment").filter((a) =>
                    String(a.inputs.role).startsWith("cluster-aws-ebs-csi-driver-role"),
                );
                assert.deepEqual(
                    attach.map((a) => a.inputs.policyArn),
                    [MANAGED_POLICIES.ebsCsi],
                );
            });

            it("the node role has no CNI policy (vpc-cni uses IRSA) and pulls from ECR read-only", async () => {
                const r = await render(stack);
                const nodeAttach = byType(r, "aws:iam/rolePolicyAttachment:RolePolicyAttachment").filter((a) =>
                    String(a.inputs.role).startsWith("cluster-node-"),
                );
                assert.deepEqual(
                    nodeAttach.map((a) => a.inputs.policyArn).sort(),
                    [MANAGED_POLICIES.ecrPull, MANAGED_POLICIES.ssm, MANAGED_POLICIES.workerNode].sort(),
                );
            });

            it("has a default, encrypted gp3 StorageClass", async () => {
                const sc = one(await render(stack), "kubernetes:storage.k8s.io/v1:StorageClass");
                assert.deepEqual(sc.inputs.metadata, { name: STORAGE_CLASS, annotations: { "storageclass.kubernetes.io/is-default-class": "true" } });
                assert.equal(sc.inputs.provisioner, "ebs.csi.aws.com");
                assert.deepEqual((sc.inputs.parameters as Record<string, string>).encrypted, "true");
                assert.equal((sc.inputs.parameters as Record<string, string>).type, "gp3");
                assert.equal(sc.inputs.allowVolumeExpansion, true);
            });

            it("exposes the kubeconfig only as a secret, and hands its provider to in-cluster resources", async () => {
                const r = await render(stack);
                const provider = one(r, "pulumi:providers:kubernetes");
                assert.equal(provider.inputs.kubeconfig, "[secret]");
                assert.ok(byType(r, "kubernetes:helm.sh/v3:Release").every((x) => x.provider === provider.urn));
            });
        });
    }

    it("dev, staging and prod clusters differ: 3 node-group AZs, all five log types and longer retention in staging and prod", async () => {
        const devRender = await render("dev");
        const stagingRender = await render("staging");
        const prodRender = await render("prod");
        const logs = (r: StackRender) => [
            one(r, CLUSTER).inputs.enabledClusterLogTypes,
            one(r, "aws:cloudwatch/logGroup:LogGroup", "cluster-control-plane").inputs.retentionInDays,
        ];
        assert.deepEqual(logs(devRender), [["api", "audit", "authenticator"], 7]);
        assert.deepEqual(logs(stagingRender), [["api", "audit", "authenticator", "controllerManager", "scheduler"], 14]);
        assert.deepEqual(logs(prodRender), [["api", "audit", "authenticator", "controllerManager", "scheduler"], 90]);
        // Nodes and control-plane ENIs sit in the private subnets, one per AZ: 2 in dev, 3 in prod.
        const azs = (r: StackRender) =>
            byType(r, "aws:ec2/subnet:Subnet")
                .filter((s) => s.name.startsWith("network-private-"))
                .map((s) => s.inputs.availabilityZone);
        assert.deepEqual(azs(devRender), ["eu-west-1a", "eu-west-1b"]);
        assert.deepEqual(azs(stagingRender), ["eu-west-1a", "eu-west-1b", "eu-west-1c"]);
        assert.deepEqual(azs(prodRender), ["eu-west-1a", "eu-west-1b", "eu-west-1c"]);
        for (const [r, count] of [
            [devRender, 2],
            [stagingRender, 3],
            [prodRender, 3],
        ] as const) {
            const subnetIds = one(r, CLUSTER).inputs.vpcConfig as { subnetIds: string[] };
            assert.equal(subnetIds.subnetIds.length, count);
            for (const ng of byType(r, NODE_GROUP)) assert.equal((ng.inputs.subnetIds as string[]).length, count);
        }
        assert.deepEqual(
            byType(prodRender, NODE_GROUP).map((n) => n.name),
            ["cluster-general", "cluster-burst"],
        );
        assert.deepEqual(
            byType(stagingRender, NODE_GROUP).map((g) => [g.name, g.inputs.capacityType, g.inputs.instanceTypes, g.inputs.scalingConfig]),
            [["cluster-general", "ON_DEMAND", ["m6i.large"], { minSize: 2, desiredSize: 2, maxSize: 6 }]],
        );
    });

    it("a cluster on another supported version pins that version's add-ons", async () => {
        const r = await renderWith("dev", patchSection("dev", "cli-platform:cluster", { kubernetesVersion: "1.33" }));
        assert.equal(one(r, CLUSTER).inputs.version, "1.33");
        const kubeProxy = byType(r, "aws:eks/addon:Addon").find((a) => a.inputs.addonName === "kube-proxy")!;
        assert.equal(kubeProxy.inputs.addonVersion, EKS_VERSIONS["1.33"].addons["kube-proxy"]);
    });

    it("pure helpers", () => {
        assert.deepEqual(addonConfiguration("vpc-cni"), { enableNetworkPolicy: "true" });
        assert.equal(addonConfiguration("coredns"), undefined);
        assert.equal(nodeLaunchTemplate(80).metadataOptions?.httpTokens, "required");
        const kc = kubeconfigFor("c", "https://x", "Q0E=", "eu-west-1") as { users: { user: { exec: { command: string; args: string[] } } }[] };
        assert.equal(kc.users[0].user.exec.command, "aws");
        assert.deepEqual(kc.users[0].user.exec.args, ["eks", "get-token", "--cluster-name", "c", "--region", "eu-west-1", "--output", "json"]);
        const trust = irsaTrustPolicy("arn:aws:iam::1:oidc-provider/x", "https://oidc.example/id/ABC", "ns", "sa");
        assert.deepEqual(trust.Statement[0].Condition!.StringEquals, {
            "oidc.example/id/ABC:sub": "system:serviceaccount:ns:sa",
            "oidc.example/id/ABC:aud": "sts.amazonaws.com",
        });
    });
});
