import * as assert from "node:assert/strict";
import { AUTOSCALER_WRITE_ACTIONS, autoscalerPolicy, autoscalerValues } from "../../components/aws/autoscaler";
import type { PolicyDocument } from "../../components/aws/iam";
import { CHARTS, EKS_VERSIONS } from "../../components/versions";
import { byType, json, one, render, renderWith, patchSection } from "../harness";

const RELEASE = "kubernetes:helm.sh/v3:Release";

describe("ClusterAutoscaler", () => {
    for (const stack of ["dev", "staging", "prod"] as const) {
        it(`${stack}: the pinned official chart in kube-system with the deployment guide's flags`, async () => {
            const release = one(await render(stack), RELEASE, "autoscaler-release");
            assert.equal(release.inputs.chart, "cluster-autoscaler");
            assert.equal(release.inputs.version, CHARTS.clusterAutoscaler.version);
            assert.deepEqual(release.inputs.repositoryOpts, { repo: "https://kubernetes.github.io/autoscaler" });
            assert.equal(release.inputs.namespace, "kube-system");
            const values = release.inputs.values as Record<string, Record<string, unknown>>;
            assert.deepEqual(values.autoDiscovery, { clusterName: `cli-platform-${stack}` });
            assert.equal(values.awsRegion, "eu-west-1");
            assert.equal(values.priorityClassName, "system-cluster-critical");
            assert.deepEqual((values.image as Record<string, string>).tag, EKS_VERSIONS["1.35"].clusterAutoscalerTag);
            const args = values.extraArgs;
            assert.equal(args.expander, "least-waste");
            assert.equal(args["balance-similar-node-groups"], true);
            assert.equal(args["skip-nodes-with-local-storage"], false);
            assert.equal(args["skip-nodes-with-system-pods"], false);
            assert.equal(args["scale-down-delay-after-add"], "10m");
            assert.equal(args["scale-down-unneeded-time"], "10m");
            const resources = values.resources as { requests: Record<string, string>; limits: Record<string, string> };
            assert.ok(resources.requests.cpu && resources.requests.memory && resources.limits.memory);
            const sa = (values.rbac as { serviceAccount: { name: string; annotations: Record<string, string> } }).serviceAccount;
            assert.equal(sa.name, "cluster-autoscaler");
            assert.match(sa.annotations["eks.amazonaws.com/role-arn"], /^arn:aws:iam::\d{12}:role\/autoscaler-irsa-role-/);
        });

        it(`${stack}: write actions only on groups tagged as owned by this cluster`, async () => {
            const policy = json<PolicyDocument>(one(await render(stack), "aws:iam/rolePolicy:RolePolicy", "autoscaler-irsa-policy").inputs.policy);
            const writes = policy.Statement.filter((s) => ([] as string[]).concat(s.Action).some((a) => AUTOSCALER_WRITE_ACTIONS.includes(a)));
            assert.equal(writes.length, 1);
            assert.deepEqual(writes[0].Action, ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"]);
            assert.deepEqual(writes[0].Condition, { StringEquals: { [`aws:ResourceTag/k8s.io/cluster-autoscaler/cli-platform-${stack}`]: "owned" } });
            const nodegroups = policy.Statement.find((s) => ([] as string[]).concat(s.Action).includes("eks:DescribeNodegroup"))!;
            assert.deepEqual(
                [nodegroups.Action, nodegroups.Resource],
                [["eks:DescribeNodegroup"], `arn:aws:eks:eu-west-1:123456789012:nodegroup/cli-platform-${stack}/*/*`],
            );
            const reads = policy.Statement.filter((s) => !s.Condition);
            assert.ok(
                reads.every((s) => ([] as string[]).concat(s.Action).every((a) => /:(Describe|Get)/.test(a))),
                "unconditioned statements only read",
            );
        });
    }

    it("the image follows the cluster's Kubernetes version", async () => {
        const r = await renderWith("dev", patchSection("dev", "cli-platform:cluster", { kubernetesVersion: "1.34" }));
        const values = one(r, RELEASE, "autoscaler-release").inputs.values as { image: { tag: string } };
        assert.equal(values.image.tag, "v1.34.5");
    });

    it("is not created when cluster.autoscaler is false", async () => {
        const r = await renderWith("dev", patchSection("dev", "cli-platform:cluster", { autoscaler: false }));
        assert.equal(byType(r, "cli-platform:cluster:ClusterAutoscaler").length, 0);
        assert.equal(byType(r, RELEASE).filter((x) => x.inputs.chart === "cluster-autoscaler").length, 0);
        assert.equal(r.outputs.autoscalerRoleArn, undefined);
    });

    it("pure helpers", () => {
        const p = autoscalerPolicy({ clusterName: "c1", region: "us-east-1", accountId: "111122223333" });
        assert.deepEqual(p.Statement[0].Condition, { StringEquals: { "aws:ResourceTag/k8s.io/cluster-autoscaler/c1": "owned" } });
        assert.deepEqual(p.Statement[1].Action, [
            "autoscaling:DescribeAutoScalingGroups",
            "autoscaling:DescribeAutoScalingInstances",
            "autoscaling:DescribeLaunchConfigurations",
            "autoscaling:DescribeScalingActivities",
            "autoscaling:DescribeTags",
            "ec2:DescribeImages",
            "ec2:DescribeInstanceTypes",
            "ec2:DescribeLaunchTemplateVersions",
            "ec2:GetInstanceTypesFromInstanceRequirements",
        ]);
        assert.deepEqual(p.Statement[2], {
            Sid: "DescribeOwnNodegroups",
            Effect: "Allow",
            Action: ["eks:DescribeNodegroup"],
            Resource: "arn:aws:eks:us-east-1:111122223333:nodegroup/c1/*/*",
        });
        const v = autoscalerValues({ clusterName: "c1", awsRegion: "us-east-1", kubernetesVersion: "1.33", roleArn: "arn:r" }) as { image: { tag: string } };
        assert.equal(v.image.tag, "v1.33.6");
    });
});
