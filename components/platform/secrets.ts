import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { checksum } from "../../lib/k8s";
import { k8sLabels } from "../../lib/naming";

export interface ServiceSecretsArgs {
    namespace: pulumi.Input<string>;
    /** The LLM key from secret stack config; absent = the api answers /evolve with 503. */
    openaiApiKey?: pulumi.Output<string>;
}

/**
 * The service's own secrets in one Kubernetes Secret: API_TOKENS (a generated bearer token),
 * RUNNER_TOKEN (the api↔runner shared secret) and, when configured, OPENAI_API_KEY.
 */
export class ServiceSecrets extends pulumi.ComponentResource {
    public readonly secretName: pulumi.Output<string>;
    /** The generated bearer token for the API (secret). */
    public readonly apiToken: pulumi.Output<string>;
    /** Keys present in the Secret. */
    public readonly keys: string[];
    /** A digest of the values, for the pods' rollout-on-change annotation (not secret: a hash). */
    public readonly checksum: pulumi.Output<string>;

    constructor(name: string, args: ServiceSecretsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("cli-platform:service:ServiceSecrets", name, {}, opts);
        const token = (role: string) => new random.RandomPassword(`${name}-${role}`, { length: 48, special: false }, { parent: this }).result;
        const apiToken = token("api-token");
        const runnerToken = token("runner-token");
        const data: Record<string, pulumi.Output<string>> = { API_TOKENS: apiToken, RUNNER_TOKEN: runnerToken };
        if (args.openaiApiKey) data.OPENAI_API_KEY = args.openaiApiKey;
        const secret = new k8s.core.v1.Secret(
            `${name}-secret`,
            {
                metadata: { name, namespace: args.namespace, labels: k8sLabels("cli-platform", "secrets", name) },
                type: "Opaque",
                stringData: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, pulumi.secret(v)])),
            },
            { parent: this },
        );
        this.secretName = secret.metadata.name;
        this.apiToken = pulumi.secret(apiToken);
        this.keys = Object.keys(data);
        this.checksum = pulumi.unsecret(pulumi.all(Object.values(data)).apply(checksum));
        this.registerOutputs({ secretName: this.secretName, apiToken: this.apiToken, checksum: this.checksum });
    }
}
