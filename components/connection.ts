/**
 * What the data components hand to the service: a connection URL (a secret Output) and a
 * Kubernetes Secret in the service's namespace holding it under a fixed key (POSTGRES_URL,
 * REDIS_URL), the same in every mode.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";

export interface ConnectionInfo {
    /** Connection URL with credentials (secret). */
    url: pulumi.Output<string>;
    /** Name of the Kubernetes Secret holding the URL. */
    secretName: pulumi.Output<string>;
    /** The key of the URL in that Secret. */
    secretKey: string;
    /** Host name clients connect to. */
    host: pulumi.Output<string>;
    port: number;
}

export function postgresUrl(p: { user: string; password: string; host: string; port: number; database: string; tls: boolean }): string {
    return `postgres://${encodeURIComponent(p.user)}:${encodeURIComponent(p.password)}@${p.host}:${p.port}/${p.database}${p.tls ? "?sslmode=require" : ""}`;
}

export function redisUrl(p: { password: string; host: string; port: number; tls: boolean }): string {
    return `${p.tls ? "rediss" : "redis"}://:${encodeURIComponent(p.password)}@${p.host}:${p.port}`;
}

/**
 * A generated password. Its inputs are constants: changing them would replace it (a new password),
 * so they never follow config. Alphanumeric only: valid in URLs and as an ElastiCache AUTH token.
 */
export function generatedPassword(name: string, parent: pulumi.Resource, protect: boolean): random.RandomPassword {
    return new random.RandomPassword(name, { length: 40, special: false, minUpper: 2, minLower: 2, minNumeric: 2 }, { parent, protect });
}

/** The Secret the service reads its connection URL from. */
export function connectionSecret(
    name: string,
    args: {
        namespace: pulumi.Input<string>;
        key: string;
        url: pulumi.Output<string>;
        labels: Record<string, string>;
        provider: k8s.Provider;
        parent: pulumi.Resource;
    },
): k8s.core.v1.Secret {
    return new k8s.core.v1.Secret(
        name,
        {
            metadata: { name, namespace: args.namespace, labels: args.labels },
            type: "Opaque",
            stringData: { [args.key]: pulumi.secret(args.url) },
        },
        { parent: args.parent, provider: args.provider },
    );
}
