import { decodeJwtPayload } from "./decode-jwt-payload.js";

function nonEmpty(value: unknown): string | undefined {
  return typeof value === "string" && value.trim() !== "" ? value : undefined;
}

/**
 * The database username implied by an Entra access token, read from its JWT payload without
 * verifying it: the last segment of `xms_mirid` (managed identities: the identity's or host
 * resource's name, which Azure uses as the role name), then `upn`, `preferred_username`,
 * `unique_name`. Never throws; the token is never echoed.
 *
 * @example
 * ```ts
 * const { token } = await provider.getToken();
 * const user = deriveUsername(token); // e.g. "my-app-identity" or "dev@contoso.com"
 * ```
 *
 * Returns `undefined` when the token is not a JWT or carries none of these claims.
 */
export function deriveUsername(token: string): string | undefined {
  if (typeof token !== "string") return undefined;
  const payload = decodeJwtPayload(token);
  if (!payload) return undefined;
  const mirid = nonEmpty(payload.xms_mirid);
  if (mirid) {
    const last = mirid
      .split("/")
      .filter((segment) => segment !== "")
      .pop();
    if (last) return last;
  }
  return nonEmpty(payload.upn) ?? nonEmpty(payload.preferred_username) ?? nonEmpty(payload.unique_name);
}

/**
 * The application (client) id of a service principal's app-only token, which names nobody: no
 * `xms_mirid` (a managed identity), no `upn`/`preferred_username`/`unique_name` and no delegated
 * `scp`, but an `appid` (v1) or `azp` (v2). Azure's databases know such a principal by its display
 * name, which the token does not carry. `undefined` for any other token. Internal.
 */
export function servicePrincipalAppId(token: string | undefined): string | undefined {
  if (typeof token !== "string" || deriveUsername(token) !== undefined) return undefined;
  const payload = decodeJwtPayload(token);
  if (!payload || nonEmpty(payload.scp)) return undefined;
  return nonEmpty(payload.appid) ?? nonEmpty(payload.azp);
}

/**
 * The hint for a service principal's token whose user name is not known: where the name comes from.
 * Internal.
 */
export function servicePrincipalUserHint(appId: string, variable: string, setting: string): string {
  return `The token is app-only, from the service principal with client ID ${appId}: it carries no name. Azure names a service principal's database user after its display name (pgaadauth_create_principal('<name>', …), CREATE AADUSER '<name>', CREATE USER [<name>] FROM EXTERNAL PROVIDER): pass \`${setting}: "<display name>"\` or set ${variable} to it.`;
}
