/** The claims of an access token the doctor reports (never the token itself). */
export interface TokenClaims {
  readonly aud?: string | undefined;
  readonly iss?: string | undefined;
  readonly tid?: string | undefined;
  readonly oid?: string | undefined;
  readonly appid?: string | undefined;
  readonly idtyp?: string | undefined;
  readonly upn?: string | undefined;
  readonly preferredUsername?: string | undefined;
  readonly uniqueName?: string | undefined;
  readonly xmsMirid?: string | undefined;
  /** Expiry, epoch seconds. */
  readonly exp?: number | undefined;
}

function text(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

/**
 * Reads the payload of a JWT without verifying it: `undefined` when the token is not a JWT.
 * Never throws and never echoes the token.
 *
 * @example
 * ```ts
 * readClaims(token)?.aud; // "https://ossrdbms-aad.database.windows.net"
 * ```
 */
export function readClaims(token: string): TokenClaims | undefined {
  const payloadPart = token.split(".")[1];
  if (!payloadPart) return undefined;
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(payloadPart, "base64url").toString("utf8"));
  } catch {
    return undefined;
  }
  if (payload === null || typeof payload !== "object" || Array.isArray(payload)) return undefined;
  const p = payload as Record<string, unknown>;
  const aud = Array.isArray(p.aud) ? text(p.aud[0]) : text(p.aud);
  return {
    aud,
    iss: text(p.iss),
    tid: text(p.tid),
    oid: text(p.oid),
    appid: text(p.appid) ?? text(p.azp),
    idtyp: text(p.idtyp),
    upn: text(p.upn),
    preferredUsername: text(p.preferred_username),
    uniqueName: text(p.unique_name),
    xmsMirid: text(p.xms_mirid),
    exp: typeof p.exp === "number" ? p.exp : undefined,
  };
}

/**
 * The resource a scope asks for: the scope without a `/.default` suffix and without trailing
 * slashes (a scope without the suffix only loses its trailing slashes).
 *
 * @example
 * ```ts
 * resourceOf("https://ossrdbms-aad.database.windows.net/.default"); // "https://ossrdbms-aad.database.windows.net"
 * ```
 */
export function resourceOf(scope: string): string {
  return scope.replace(/\/\.default$/, "").replace(/\/+$/, "");
}
