import * as corev1 from "@pulumi/kubernetes/core/v1";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { checksum } from "../../lib/k8s";
import { k8sLabels } from "../../lib/naming";
import { formatApiTokens } from "../../service/src/clients";

export interface ServiceSecretsArgs {
    namespace: pulumi.Input<string>;
    /** The API's client names (service.apiClients); one bearer token is generated per name. */
    apiClients: string[];
    /** The LLM key from secret stack config; absent = the api answers /evolve with 503. */
    openaiApiKey?: pulumi.Output<string>;
}

/**
 * The service's own secrets in one Kubernetes Secret: API_TOKENS (a generated bearer token per
 * client name, written as the service reads it: `name=token,...`),
 * RUNNER_TOKEN (the api↔runner shared secret) and, when configured, OPENAI_API_KEY.
 */
export class ServiceSecrets extends pulumi.ComponentResource {
    public readonly secretName: pulumi.Output<string>;
    /** The generated bearer token of each client, by name (each secret). */
    public readonly apiTokens: Record<string, pulumi.Output<string>>;
    /** The first client's token (secret); kept for the `apiToken` stack output. */
    public readonly apiToken: pulumi.Output<string>;
    /** Keys present in the Secret. */
    public readonly keys: string[];
    /** A digest of the values, for the pods' rollout-on-change annotation (not secret: a hash). */
    public readonly checksum: pulumi.Output<string>;

    constructor(name: string, args: ServiceSecretsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("cli-platform:service:ServiceSecrets", name, {}, opts);
        if (args.apiClients.length === 0 || new Set(args.apiClients).size !== args.apiClients.length)
            throw new Error(`ServiceSecrets ${name}: apiClients = ${JSON.stringify(args.apiClients)}: must name at least one client, each once`);
        const token = (role: string, aliases?: pulumi.Alias[]) =>
            new random.RandomPassword(`${name}-${role}`, { length: 48, special: false }, { parent: this, aliases }).result;
        // The first client keeps the single token of earlier releases (no new token on upgrade).
        const clientTokens = args.apiClients.map((client, i) => token(`api-token-${client}`, i === 0 ? [{ name: `${name}-api-token` }] : undefined));
        const apiTokens = pulumi.all(clientTokens).apply((tokens) => formatApiTokens(args.apiClients.map((client, i) => ({ name: client, token: tokens[i] }))));
        const runnerToken = token("runner-token");
        const data: Record<string, pulumi.Output<string>> = { API_TOKENS: apiTokens, RUNNER_TOKEN: runnerToken };
        if (args.openaiApiKey) data.OPENAI_API_KEY = args.openaiApiKey;
        const secret = new corev1.Secret(
            `${name}-secret`,
            {
                metadata: { name, namespace: args.namespace, labels: k8sLabels("cli-platform", "secrets", name) },
                type: "Opaque",
                stringData: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, pulumi.secret(v)])),
            },
            { parent: this },
        );
        this.secretName = secret.metadata.name;
        this.apiTokens = Object.fromEntries(args.apiClients.map((client, i) => [client, pulumi.secret(clientTokens[i])]));
        this.apiToken = this.apiTokens[args.apiClients[0]];
        this.keys = Object.keys(data);
        this.checksum = pulumi.unsecret(pulumi.all(Object.values(data)).apply(checksum));
        this.registerOutputs({ secretName: this.secretName, apiTokens: this.apiTokens, apiToken: this.apiToken, checksum: this.checksum });
    }
}
