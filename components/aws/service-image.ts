import * as ecr from "@pulumi/aws/ecr";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";

export interface ServiceImageArgs {
    /** Build context (the directory holding the Dockerfile). */
    context: string;
    /** Files and directories of the context that go into the image (the tag is their hash). */
    inputs: string[];
    /** Push to a new ECR repository (EKS stacks) or build locally only (local stack). */
    push: boolean;
    /** Local image name when `push` is false. Default "cli-platform-service". */
    localName?: string;
    /** ECR: keep this many images; older ones expire. Default 30. */
    keepImages?: number;
    /** ECR: delete the repository even when it holds images. Default false. */
    forceDelete?: boolean;
    /** Docker build arguments. Default none. */
    buildArgs?: Record<string, string>;
    /** Target platform. Default linux/amd64 (the node groups' architecture). */
    platform?: string;
    tags?: Record<string, string>;
}

const DEFAULTS = { localName: "cli-platform-service", keepImages: 30, forceDelete: false, platform: "linux/amd64" };

/** Every file under `inputs` (relative to `context`), sorted; directories are walked. */
function listFiles(context: string, inputs: string[]): string[] {
    const out: string[] = [];
    const walk = (rel: string) => {
        const abs = path.join(context, rel);
        if (!fs.existsSync(abs)) throw new Error(`ServiceImage: build input "${rel}" not found in ${context}`);
        if (fs.statSync(abs).isDirectory()) for (const e of fs.readdirSync(abs).sort()) walk(path.join(rel, e));
        else out.push(rel);
    };
    inputs.forEach(walk);
    return out.sort();
}

/** A tag derived from the content of the build inputs: unchanged code keeps its tag (no rebuild, no rollout). */
export function contentTag(context: string, inputs: string[]): string {
    const hash = createHash("sha256");
    for (const rel of listFiles(context, inputs)) {
        hash.update(rel)
            .update("\0")
            .update(fs.readFileSync(path.join(context, rel)))
            .update("\0");
    }
    return `c-${hash.digest("hex").slice(0, 16)}`;
}

/** ECR lifecycle policy: expire all but the newest `keep` images. */
export function lifecyclePolicy(keep: number): object {
    return {
        rules: [
            {
                rulePriority: 1,
                description: `keep the last ${keep} images`,
                selection: { tagStatus: "any", countType: "imageCountMoreThan", countNumber: keep },
                action: { type: "expire" },
            },
        ],
    };
}

/**
 * The service image: built from `service/` with `@pulumi/docker`, tagged by content, and pushed to
 * a private ECR repository (scan on push, immutable tags, KMS encryption, lifecycle policy) with
 * credentials from `ecr.getAuthorizationTokenOutput`. `imageRef` is the pushed digest
 * (repo@sha256:...), never a mutable tag. Locally (`push: false`) it is built only and `imageRef` is
 * the local name:tag (load it into kind with `kind load docker-image`).
 */
export class ServiceImage extends pulumi.ComponentResource {
    public readonly imageRef: pulumi.Output<string>;
    public readonly tag: string;
    public readonly repositoryUrl?: pulumi.Output<string>;

    constructor(name: string, args: ServiceImageArgs, opts?: pulumi.ComponentResourceOptions) {
        const a = { ...DEFAULTS, ...args };
        if (!fs.existsSync(path.join(a.context, "Dockerfile"))) throw new Error(`ServiceImage ${name}: no Dockerfile in ${a.context}`);
        if (!Number.isInteger(a.keepImages) || a.keepImages < 1)
            throw new Error(`ServiceImage ${name}: keepImages must be a positive integer, got ${a.keepImages}`);
        super("cli-platform:image:ServiceImage", name, {}, opts);
        this.tag = contentTag(a.context, a.inputs);
        const build = { context: a.context, dockerfile: path.join(a.context, "Dockerfile"), platform: a.platform, args: a.buildArgs };

        if (a.push) {
            const repo = new ecr.Repository(
                `${name}-repo`,
                {
                    imageTagMutability: "IMMUTABLE",
                    imageScanningConfiguration: { scanOnPush: true },
                    encryptionConfigurations: [{ encryptionType: "KMS" }],
                    forceDelete: a.forceDelete,
                    tags: a.tags,
                },
                { parent: this },
            );
            new ecr.LifecyclePolicy(`${name}-lifecycle`, { repository: repo.name, policy: JSON.stringify(lifecyclePolicy(a.keepImages)) }, { parent: this });
            const auth = ecr.getAuthorizationTokenOutput({ registryId: repo.registryId }, { parent: this });
            const image = new docker.Image(
                `${name}-image`,
                {
                    imageName: pulumi.interpolate`${repo.repositoryUrl}:${this.tag}`,
                    build,
                    registry: { server: repo.repositoryUrl, username: auth.userName, password: pulumi.secret(auth.password) },
                },
                { parent: this },
            );
            this.imageRef = image.repoDigest;
            this.repositoryUrl = repo.repositoryUrl;
        } else {
            const image = new docker.Image(`${name}-image`, { imageName: `${a.localName}:${this.tag}`, build, skipPush: true }, { parent: this });
            this.imageRef = image.imageName;
        }
        this.registerOutputs({ imageRef: this.imageRef, tag: this.tag, repositoryUrl: this.repositoryUrl });
    }
}
