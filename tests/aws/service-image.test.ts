import * as assert from "node:assert/strict";
import { contentTag } from "../../components/aws/service-image";
import { byType, json, named, type Obj, one, podSpec, render, ROOT } from "../harness";

const DEPLOYMENT = "kubernetes:apps/v1:Deployment";

describe("ServiceImage", () => {
    it("EKS stacks run the pushed digest, never a mutable tag", async () => {
        for (const stack of ["dev", "staging", "prod"] as const) {
            const r = await render(stack);
            for (const name of ["cli-api", "cli-runner"]) {
                const image = String(podSpec(named(r, DEPLOYMENT, name)).containers[0].image);
                assert.match(image, /^123456789012\.dkr\.ecr\.eu-west-1\.amazonaws\.com\/service-image-repo-[0-9a-f]+@sha256:[0-9a-f]{64}$/);
            }
            assert.match(String((r.outputs.imageRefs as Obj).service), /@sha256:/);
        }
    });

    it("ECR: scan on push, immutable tags, KMS, lifecycle keeping the last 30; the push password stays secret", async () => {
        const r = await render("prod");
        const repo = one(r, "aws:ecr/repository:Repository").inputs;
        assert.deepEqual(repo.imageScanningConfiguration, { scanOnPush: true });
        assert.equal(repo.imageTagMutability, "IMMUTABLE");
        assert.deepEqual(repo.encryptionConfigurations, [{ encryptionType: "KMS" }]);
        assert.equal(repo.forceDelete, false);
        assert.deepEqual(json(one(r, "aws:ecr/lifecyclePolicy:LifecyclePolicy").inputs.policy), {
            rules: [
                {
                    rulePriority: 1,
                    description: "keep the last 30 images",
                    selection: { tagStatus: "any", countType: "imageCountMoreThan", countNumber: 30 },
                    action: { type: "expire" },
                },
            ],
        });
        const image = one(r, "docker:index/image:Image").inputs as { imageName: string; build: Obj; registry: Obj };
        assert.equal(image.build.platform, "linux/amd64");
        assert.equal((image.registry as { password: string }).password, "[secret]");
        assert.match(image.imageName, /:c-[0-9a-f]{16}$/);
    });

    it("the tag is derived from the content: same code, same tag", () => {
        const inputs = ["Dockerfile", "package.json", "src"];
        assert.equal(contentTag(`${ROOT}/service`, inputs), contentTag(`${ROOT}/service`, inputs));
        assert.notEqual(contentTag(`${ROOT}/service`, inputs), contentTag(`${ROOT}/service`, ["Dockerfile", "package.json"]));
    });

    it("local builds only, no push, and runs the local image name", async () => {
        const r = await render("local");
        assert.equal(byType(r, "aws:ecr/repository:Repository").length, 0);
        const image = one(r, "docker:index/image:Image").inputs;
        assert.equal(image.skipPush, true);
        assert.match(String(podSpec(named(r, DEPLOYMENT, "cli-api")).containers[0].image), /^cli-platform-service:c-[0-9a-f]{16}$/);
    });
});
