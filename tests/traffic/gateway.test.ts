import * as assert from "node:assert/strict";
import { EnvoyGateway, envoyProxySpec, gatewaySpec } from "../../components/traffic";
import { kubernetesObjects } from "../../tools/render";
import { byType, meta, type Obj, one, patchSection, render, renderWith, STACKS, type StackRender, validateK8sObject } from "../harness";

const RELEASE = "kubernetes:helm.sh/v3:Release";
const GW = "kubernetes:gateway.networking.k8s.io/v1";
const EG = "kubernetes:gateway.envoyproxy.io/v1alpha1";
const localWithTraffic = () => renderWith("local", patchSection("local", "cli-platform:traffic", { enabled: true, apiHost: "cli.localtest.me" }));

const restricted = {
    allowPrivilegeEscalation: false,
    capabilities: { drop: ["ALL"] },
    privileged: false,
    readOnlyRootFilesystem: true,
    runAsNonRoot: true,
    runAsUser: 65532,
    runAsGroup: 65532,
    seccompProfile: { type: "RuntimeDefault" },
};

describe("EnvoyGateway", () => {
    it("prod: Envoy Gateway v1.9.0 from its OCI chart in a PSA-restricted envoy-gateway-system, two controllers with a PDB", async () => {
        const r = await render("prod");
        const release = one(r, RELEASE, "traffic-gateway-controller");
        assert.deepEqual(
            [release.inputs.chart, release.inputs.version, release.inputs.repositoryOpts, release.inputs.namespace, release.inputs.name],
            ["oci://docker.io/envoyproxy/gateway-helm", "v1.9.0", undefined, "envoy-gateway-system", "eg"],
        );
        assert.deepEqual(release.inputs.values, {
            deployment: { replicas: 2, envoyGateway: { resources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { cpu: "1", memory: "1024Mi" } } } },
            podDisruptionBudget: { minAvailable: 1 },
            config: { envoyGateway: { logging: { level: { default: "info" } } } },
        });
        const ns = byType(r, "kubernetes:core/v1:Namespace").find((n) => meta(n).name === "envoy-gateway-system")!;
        assert.equal(meta(ns).labels["pod-security.kubernetes.io/enforce"], "restricted");
        const dev = one(await render("dev"), RELEASE, "traffic-gateway-controller");
        assert.deepEqual([(dev.inputs.values as Obj).podDisruptionBudget, ((dev.inputs.values as Obj).deployment as Obj).replicas], [{ minAvailable: 0 }, 1]);
    });

    it("no stack installs ingress-nginx or declares an Ingress", async () => {
        for (const stack of STACKS) {
            const r = await render(stack);
            assert.deepEqual(
                byType(r, RELEASE).filter((x) => /ingress-nginx/.test(String(x.inputs.chart))),
                [],
            );
            assert.deepEqual(byType(r, "kubernetes:networking.k8s.io/v1:Ingress"), []);
            assert.ok(!JSON.stringify(r.resources).includes("nginx"), `${stack} still mentions nginx`);
        }
    });

    it("EKS: the proxies sit behind an internet-facing NLB (load balancer controller, IP targets, PROXY protocol), two replicas with a PDB in prod, restricted", async () => {
        const prod = one(await render("prod"), `${EG}:EnvoyProxy`);
        assert.deepEqual(meta(prod).namespace, "envoy-gateway-system");
        const k = ((prod.inputs.spec as Obj).provider as { kubernetes: Obj }).kubernetes as {
            envoyService: Obj;
            envoyDeployment: { replicas: number; pod: { securityContext: Obj }; container: { resources: Obj; securityContext: Obj } };
            envoyPDB?: Obj;
        };
        assert.deepEqual(k.envoyService, {
            type: "LoadBalancer",
            annotations: {
                "service.beta.kubernetes.io/aws-load-balancer-type": "external",
                "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "ip",
                "service.beta.kubernetes.io/aws-load-balancer-scheme": "internet-facing",
                "service.beta.kubernetes.io/aws-load-balancer-proxy-protocol": "*",
                "service.beta.kubernetes.io/aws-load-balancer-attributes": "load_balancing.cross_zone.enabled=true",
            },
        });
        assert.equal(k.envoyDeployment.replicas, 2);
        assert.deepEqual(k.envoyPDB, { minAvailable: 1 });
        assert.deepEqual(k.envoyDeployment.container.securityContext, restricted);
        assert.deepEqual(k.envoyDeployment.container.resources, { requests: { cpu: "100m", memory: "128Mi" }, limits: { cpu: "1", memory: "512Mi" } });
        assert.deepEqual(k.envoyDeployment.pod.securityContext, {
            runAsNonRoot: true,
            runAsUser: 65532,
            runAsGroup: 65532,
            fsGroup: 65532,
            seccompProfile: { type: "RuntimeDefault" },
        });

        const dev = one(await render("dev"), `${EG}:EnvoyProxy`);
        const devK = ((dev.inputs.spec as Obj).provider as { kubernetes: Obj }).kubernetes;
        assert.equal((devK.envoyDeployment as Obj).replicas, 1);
        assert.equal(devK.envoyPDB, undefined);

        // The listeners demand the PROXY header the NLB sends: Envoy sees each client's own address.
        const ctp = one(await render("prod"), `${EG}:ClientTrafficPolicy`);
        assert.deepEqual(ctp.inputs.spec, { targetRefs: [{ group: "gateway.networking.k8s.io", kind: "Gateway", name: "platform" }], proxyProtocol: {} });
    });

    it("local: a NodePort Service, plain HTTP, no load balancer controller, no PROXY protocol, no cert-manager", async () => {
        const r = await localWithTraffic();
        const k = ((one(r, `${EG}:EnvoyProxy`).inputs.spec as Obj).provider as { kubernetes: Obj }).kubernetes;
        assert.deepEqual(k.envoyService, { type: "NodePort" });
        assert.deepEqual(byType(r, `${EG}:ClientTrafficPolicy`), []);
        assert.deepEqual(
            byType(r, RELEASE)
                .map((x) => String(x.inputs.chart))
                .sort(),
            ["fluent-bit", "kube-prometheus-stack", "oci://docker.io/envoyproxy/gateway-helm", "prometheus-adapter"],
        );
        const gw = one(r, `${GW}:Gateway`);
        assert.equal(meta(gw).annotations, undefined);
        assert.deepEqual((gw.inputs.spec as Obj).listeners, [
            {
                name: "http",
                protocol: "HTTP",
                port: 80,
                allowedRoutes: {
                    namespaces: {
                        from: "Selector",
                        selector: { matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "In", values: ["cli-platform"] }] },
                    },
                    kinds: [{ group: "gateway.networking.k8s.io", kind: "HTTPRoute" }],
                },
            },
        ]);
        assert.equal(r.outputs.apiUrl, "http://cli.localtest.me");
        assert.deepEqual(
            byType(r, `${GW}:HTTPRoute`).map((x) => meta(x).name),
            ["cli-api"],
        );
        // local's default: no limit on /evolve.
        assert.deepEqual(byType(r, `${EG}:BackendTrafficPolicy`), []);
    });

    it("the GatewayClass takes its proxies' configuration from the EnvoyProxy", async () => {
        const cls = one(await render("dev"), `${GW}:GatewayClass`);
        assert.deepEqual(cls.inputs.spec, {
            controllerName: "gateway.envoyproxy.io/gatewayclass-controller",
            parametersRef: { group: "gateway.envoyproxy.io", kind: "EnvoyProxy", name: "platform-proxy", namespace: "envoy-gateway-system" },
        });
    });

    it("prod: one Gateway, HTTP only for the redirect and ACME, an HTTPS listener per host open to that host's namespace, certificates by cert-manager", async () => {
        const r = await render("prod");
        const gw = one(r, `${GW}:Gateway`);
        assert.deepEqual(meta(gw).annotations, { "cert-manager.io/cluster-issuer": "letsencrypt-prod" });
        const only = (ns: string) => ({
            namespaces: { from: "Selector", selector: { matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "In", values: [ns] }] } },
            kinds: [{ group: "gateway.networking.k8s.io", kind: "HTTPRoute" }],
        });
        assert.deepEqual(gw.inputs.spec, {
            gatewayClassName: "envoy-gateway",
            listeners: [
                {
                    name: "http",
                    protocol: "HTTP",
                    port: 80,
                    allowedRoutes: { namespaces: { from: "Same" }, kinds: [{ group: "gateway.networking.k8s.io", kind: "HTTPRoute" }] },
                },
                {
                    name: "https-api",
                    protocol: "HTTPS",
                    port: 443,
                    hostname: "cli.example.com",
                    tls: { mode: "Terminate", certificateRefs: [{ group: "", kind: "Secret", name: "api-tls" }] },
                    allowedRoutes: only("cli-platform"),
                },
                {
                    name: "https-grafana",
                    protocol: "HTTPS",
                    port: 443,
                    hostname: "grafana.example.com",
                    tls: { mode: "Terminate", certificateRefs: [{ group: "", kind: "Secret", name: "grafana-tls" }] },
                    allowedRoutes: only("monitoring"),
                },
            ],
        });
        const redirect = byType(r, `${GW}:HTTPRoute`).find((x) => meta(x).name === "https-redirect")!;
        assert.equal(meta(redirect).namespace, "envoy-gateway-system");
        assert.deepEqual(redirect.inputs.spec, {
            parentRefs: [{ group: "gateway.networking.k8s.io", kind: "Gateway", name: "platform", sectionName: "http" }],
            rules: [{ filters: [{ type: "RequestRedirect", requestRedirect: { scheme: "https", statusCode: 301 } }] }],
        });
        assert.equal(r.outputs.apiUrl, "https://cli.example.com");
    });

    it("dev: HTTPS too (no public plain-HTTP api), only the api's listener (no Grafana host)", async () => {
        const r = await render("dev");
        const listeners = ((one(r, `${GW}:Gateway`).inputs.spec as Obj).listeners as Obj[]).map((l) => [l.name, l.protocol, l.hostname]);
        assert.deepEqual(listeners, [
            ["http", "HTTP", undefined],
            ["https-api", "HTTPS", "cli.dev.example.com"],
        ]);
        assert.equal(r.outputs.apiUrl, "https://cli.dev.example.com");
    });

    /** Every route attaches to a listener of the Gateway that admits its namespace, and references only its own namespace. */
    function attachments(r: StackRender): string[] {
        const gw = one(r, `${GW}:Gateway`);
        const listeners = (gw.inputs.spec as { listeners: { name: string; hostname?: string; allowedRoutes: { namespaces: Obj } }[] }).listeners;
        const problems: string[] = [];
        for (const route of byType(r, `${GW}:HTTPRoute`)) {
            const ns = meta(route).namespace;
            const spec = route.inputs.spec as {
                parentRefs: { name: string; namespace?: string; sectionName: string }[];
                hostnames?: string[];
                rules: { backendRefs?: Obj[] }[];
            };
            for (const p of spec.parentRefs) {
                const l = listeners.find((x) => x.name === p.sectionName);
                const gwNs = p.namespace ?? ns;
                if (!l || p.name !== meta(gw).name || gwNs !== meta(gw).namespace) {
                    problems.push(`${ns}/${meta(route).name}: no listener ${p.sectionName}`);
                    continue;
                }
                const n = l.allowedRoutes.namespaces as { from: string; selector?: { matchExpressions: { values: string[] }[] } };
                const admitted = n.from === "Same" ? ns === meta(gw).namespace : n.from === "All" || n.selector!.matchExpressions[0].values.includes(ns);
                if (!admitted) problems.push(`${ns}/${meta(route).name}: listener ${l.name} does not admit namespace ${ns}`);
                if (l.hostname && spec.hostnames && !spec.hostnames.includes(l.hostname))
                    problems.push(`${ns}/${meta(route).name}: hostnames miss ${l.hostname}`);
            }
            // No reference leaves the route's namespace, so no ReferenceGrant is needed.
            for (const b of spec.rules.flatMap((x) => x.backendRefs ?? []))
                if (b.namespace !== undefined && b.namespace !== ns) problems.push(`${meta(route).name}: backend in ${String(b.namespace)}`);
        }
        return problems;
    }

    it("every HTTPRoute attaches to a listener that admits its namespace and host; no reference crosses namespaces", async () => {
        for (const r of [await render("dev"), await render("prod"), await localWithTraffic()]) {
            assert.deepEqual(attachments(r), []);
            assert.deepEqual(byType(r, `${GW.replace("/v1", "/v1beta1")}:ReferenceGrant`), []);
        }
    });

    it("every Gateway API and Envoy Gateway object validates against its schema; a misspelt field does not", async () => {
        const objects = [...kubernetesObjects(await render("prod")), ...kubernetesObjects(await localWithTraffic())].filter((o) =>
            /gateway\.(networking\.k8s|envoyproxy)\.io\//.test(String(o.apiVersion)),
        );
        assert.deepEqual([...new Set(objects.map((o) => o.kind))].sort(), [
            "BackendTrafficPolicy",
            "ClientTrafficPolicy",
            "EnvoyProxy",
            "Gateway",
            "GatewayClass",
            "HTTPRoute",
        ]);
        for (const o of objects) assert.doesNotThrow(() => validateK8sObject(o), `${String(o.kind)} ${(o.metadata as Obj).name}`);

        const proxy = objects.find((o) => o.kind === "EnvoyProxy")!;
        const typo = { ...proxy, spec: { provider: { type: "Kubernetes", kubernetes: { envoyDeployment: { replica: 2 } } } } };
        assert.throws(() => validateK8sObject(typo), /must NOT have additional properties/);
        const badEnum = { ...proxy, spec: { provider: { type: "Kubernetes", kubernetes: { envoyService: { type: "Ingress" } } } } };
        assert.throws(() => validateK8sObject(badEnum), /must be equal to one of the allowed values/);
        const gw = objects.find((o) => o.kind === "Gateway")!;
        assert.throws(() => validateK8sObject({ ...gw, spec: { ...(gw.spec as Obj), listeners: [{ name: "http", protocol: "HTTP", port: 70000 }] } }));
    });

    it("refuses TLS without an issuer, no hosts, and duplicate host names", () => {
        const base = { awsLoadBalancer: false, tls: false, hosts: [{ name: "api", host: "a.example.com", routeNamespace: "ns" }], proxyReplicas: 1 };
        assert.throws(() => new EnvoyGateway("g", { ...base, tls: true }), /^Error: EnvoyGateway g: tls needs a clusterIssuer$/);
        assert.throws(() => new EnvoyGateway("g", { ...base, hosts: [] }), /^Error: EnvoyGateway g: hosts must list at least one host$/);
        assert.throws(
            () => new EnvoyGateway("g", { ...base, hosts: [...base.hosts, { name: "api", host: "b.example.com", routeNamespace: "ns" }] }),
            /^Error: EnvoyGateway g: host name "api" is listed twice; listener names must be unique$/,
        );
    });

    it("pure builders: one listener per host, a PDB only with more than one proxy", () => {
        const spec = gatewaySpec({ tls: true, hosts: [{ name: "a", host: "a.example.com", routeNamespace: "x" }] }) as { listeners: Obj[] };
        assert.deepEqual(
            spec.listeners.map((l) => l.name),
            ["http", "https-a"],
        );
        const k = (replicas: number) => ((envoyProxySpec({ awsLoadBalancer: false, replicas }).provider as Obj).kubernetes as Obj).envoyPDB;
        assert.deepEqual([k(1), k(3)], [undefined, { minAvailable: 1 }]);
    });
});
