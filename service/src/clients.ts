/**
 * The API's clients and the API_TOKENS format, shared with the infrastructure (which generates a
 * token per client name and writes API_TOKENS with `formatApiTokens`). Imports nothing, so the
 * Pulumi program can import it.
 */

/** A client name: what logs, metrics and the audit trail say did something. */
export const CLIENT_NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,62}$/;
export const CLIENT_NAME_RULE = 'lowercase letters, digits, ".", "_" and "-", starting with a letter or digit, at most 63';
export const MIN_TOKEN_LENGTH = 16;

export interface ApiClient {
    name: string;
    token: string;
}

/** The API_TOKENS value for `clients`: `name=token` pairs, comma-separated. */
export function formatApiTokens(clients: readonly ApiClient[]): string {
    return clients.map((c) => `${c.name}=${c.token}`).join(",");
}
