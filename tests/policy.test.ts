import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { imageIsImmutable, RULES, type ResourceUnderTest, violations } from "../policy/rules";
import { render, ROOT, STACKS } from "./harness";

const deployment = (container: Record<string, unknown>, podSecurityContext: Record<string, unknown> = { runAsNonRoot: true }): ResourceUnderTest => ({
    type: "kubernetes:apps/v1:Deployment",
    name: "bad",
    props: { spec: { template: { spec: { securityContext: podSecurityContext, containers: [{ name: "app", image: "registry/app:1.2.3", ...container }] } } } },
});
const hardened = {
    securityContext: { runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false },
    resources: { limits: { cpu: "1", memory: "1Gi" } },
};

/** A deliberately broken resource per rule, and the exact message the rule must report. */
const BROKEN: Record<string, { fixture: ResourceUnderTest; messages: string[] }> = {
    "containers-have-resource-limits": {
        fixture: deployment({ ...hardened, resources: { limits: { cpu: "1" } } }),
        messages: ["Deployment bad container app has no CPU and memory limits"],
    },
    "containers-run-restricted": {
        fixture: deployment({ ...hardened, securityContext: { runAsNonRoot: false } }, {}),
        messages: [
            "Deployment bad container app may run as root (runAsNonRoot is not true)",
            "Deployment bad container app has a writable root filesystem (readOnlyRootFilesystem is not true)",
            "Deployment bad container app allows privilege escalation (allowPrivilegeEscalation is not false)",
        ],
    },
    "no-loadbalancer-services": {
        fixture: { type: "kubernetes:core/v1:Service", name: "exposed", props: { metadata: { namespace: "cli-platform" }, spec: { type: "LoadBalancer" } } },
        messages: ["Service exposed in namespace cli-platform is of type LoadBalancer; only the Gateway may be"],
    },
    "no-ingress-objects": {
        fixture: { type: "kubernetes:networking.k8s.io/v1:Ingress", name: "cli-api", props: { metadata: { namespace: "cli-platform" }, spec: {} } },
        messages: ["Ingress cli-api is a networking.k8s.io/v1 Ingress; expose it with an HTTPRoute on the platform's Gateway instead"],
    },
    "no-world-open-security-groups": {
        fixture: {
            type: "aws:ec2/securityGroup:SecurityGroup",
            name: "db",
            props: { ingress: [{ fromPort: 5432, toPort: 5432, protocol: "tcp", cidrBlocks: ["0.0.0.0/0"] }] },
        },
        messages: ["SecurityGroup db admits the whole internet on ports 5432-5432; only 80/443 on a load balancer's group may be"],
    },
    "managed-data-encrypted-and-private": {
        fixture: { type: "aws:rds/instance:Instance", name: "db", props: { storageEncrypted: false, publiclyAccessible: true } },
        messages: ["Instance db storage is not encrypted (storageEncrypted)", "Instance db is publicly accessible"],
    },
    "ecr-scan-on-push": {
        fixture: { type: "aws:ecr/repository:Repository", name: "repo", props: { imageScanningConfiguration: { scanOnPush: false } } },
        messages: ["Repository repo does not scan images on push"],
    },
    "eks-secrets-encryption-and-logs": {
        fixture: { type: "aws:eks/cluster:Cluster", name: "eks", props: { enabledClusterLogTypes: ["api"] } },
        messages: [
            "Cluster eks does not encrypt Secrets with a KMS key (encryptionConfig)",
            "Cluster eks does not ship control-plane logs audit, authenticator",
        ],
    },
    "no-mutable-image-tags": {
        fixture: deployment({ ...hardened, image: "docker.io/library/redis:latest" }),
        messages: ['Deployment bad container app runs the mutable image "docker.io/library/redis:latest"; pin a digest or a version tag'],
    },
};

describe("policy pack (offline)", () => {
    for (const stack of STACKS) {
        it(`${stack}: every rule passes on every recorded resource`, async () => {
            const r = await render(stack);
            const resources = r.resources.map((x) => ({ type: x.type, name: x.name, props: x.inputs }));
            assert.deepEqual(violations(resources), []);
        });
    }

    for (const rule of RULES) {
        it(`${rule.name} fails, with its message, on a broken fixture`, () => {
            const broken = BROKEN[rule.name];
            assert.ok(broken, `no broken fixture for ${rule.name}`);
            assert.deepEqual(rule.check(broken.fixture), broken.messages);
            // ...and only this rule objects to it, except where a fixture breaks two things by nature.
            assert.ok(violations([broken.fixture]).some((v) => v.startsWith(`${rule.name}: `)));
        });
    }

    it("80/443 open to the world is accepted only on a load balancer's group", () => {
        const rule = RULES.find((r) => r.name === "no-world-open-security-groups")!;
        const sg = (tags: Record<string, string>, port: number): ResourceUnderTest => ({
            type: "aws:ec2/securityGroup:SecurityGroup",
            name: "lb",
            props: { tags, ingress: [{ fromPort: port, toPort: port, protocol: "tcp", cidrBlocks: ["0.0.0.0/0"] }] },
        });
        assert.deepEqual(rule.check(sg({ "cli-platform/role": "load-balancer" }, 443)), []);
        assert.equal(rule.check(sg({ "cli-platform/role": "load-balancer" }, 22)).length, 1);
        assert.equal(rule.check(sg({}, 443)).length, 1);
        assert.equal(
            rule.check({
                type: "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
                name: "r",
                props: { fromPort: 22, toPort: 22, cidrIpv4: "0.0.0.0/0" },
            }).length,
            1,
        );
    });

    it("image references: digests and version tags are immutable; latest and untagged are not", () => {
        assert.ok(imageIsImmutable(`123.dkr.ecr.eu-west-1.amazonaws.com/repo@sha256:${"a".repeat(64)}`));
        assert.ok(imageIsImmutable("quay.io/prometheuscommunity/postgres-exporter:v0.19.1"));
        assert.ok(imageIsImmutable("localhost:5000/app:1.0"));
        assert.ok(!imageIsImmutable("redis"));
        assert.ok(!imageIsImmutable("localhost:5000/app"));
        assert.ok(!imageIsImmutable("redis:latest"));
    });

    it("the pack's entry is never loaded by the tests (it starts a server)", () => {
        const entry = fs.readFileSync(path.join(ROOT, "policy", "index.ts"), "utf8");
        assert.match(entry, /new PolicyPack\(/);
        assert.ok(!Object.keys(require.cache).some((k) => k.endsWith(path.join("policy", "index.ts"))));
    });
});
