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
