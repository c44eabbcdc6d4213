/** The payload of a JWT, read without verifying it; `undefined` when `token` is not a JWT. Internal. */
export function decodeJwtPayload(token: string): Record<string, unknown> | undefined {
  const parts = token.split(".");
  if (parts.length !== 3 || !parts[1]) return undefined;
  try {
    const json = Buffer.from(parts[1], "base64url").toString("utf8");
    const payload: unknown = JSON.parse(json);
    return payload !== null && typeof payload === "object" && !Array.isArray(payload)
      ? (payload as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A token's whole lifetime in milliseconds from its own claims (`exp` minus `iat`, else `nbf`):
 * independent of when it was fetched and of clock skew. `undefined` when the token is not a JWT
 * or lacks the claims. Internal.
 */
export function jwtLifetimeInMs(token: string): number | undefined {
  const payload = decodeJwtPayload(token);
  if (!payload) return undefined;
  const { exp } = payload;
  const start = typeof payload.iat === "number" ? payload.iat : payload.nbf;
  if (typeof exp !== "number" || typeof start !== "number" || !(exp > start)) return undefined;
  return (exp - start) * 1000;
}
