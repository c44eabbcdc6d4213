import { createPublicKey, type KeyObject, verify } from "node:crypto";
import type { JsonWebKeySet } from "./token-issuer.js";

/** Why a token was refused: `invalid` covers malformed, bad signature, wrong alg/issuer/tenant and future `nbf`. */
export type TokenRejectionReason = "expired" | "audience" | "invalid";

/** Outcome of {@link validateToken}. */
export type TokenValidationResult =
  | {
      /** The token is valid. */
      readonly ok: true;
      /** The verified payload. */
      readonly claims: Readonly<Record<string, unknown>>;
      /** Last segment of `xms_mirid`, else `upn`, `preferred_username` or `unique_name`; undefined if none. */
      readonly principalName: string | undefined;
    }
  | {
      /** The token is refused. */
      readonly ok: false;
      /** Why: `expired`, `audience` (issued for another resource) or `invalid` (anything else, a future `nbf` included). */
      readonly reason: TokenRejectionReason;
      /** A human-readable detail for logs and tests (never contains the token). */
      readonly detail: string;
    };

/** Options of {@link validateToken}. */
export interface TokenValidationOptions {
  /** Accepted `aud` values; each matches with or without a trailing slash. */
  readonly audiences: readonly string[];
  /** The tenant: `iss` must be its v1 or v2 issuer and `tid` (if present) must match. */
  readonly tenantId: string;
  /** The key to verify with (KeyObject or PEM). Defaults to the key in `jwks` named by the token's `kid`. */
  readonly publicKey?: KeyObject | string;
  /** Keys to pick from by `kid`; without them `publicKey` is required. */
  readonly jwks?: JsonWebKeySet;
  /** Current time in epoch milliseconds. Defaults to `Date.now()`. */
  readonly nowMs?: number;
  /** Tolerance for `exp` and `nbf`. Defaults to 30 seconds. */
  readonly clockSkewInSeconds?: number;
}

/**
 * Validates an Entra access token the way Azure Database for PostgreSQL does: structure, RS256
 * signature, issuer and tenant, `nbf`, `exp` and audience. Unless the options say otherwise it uses
 * the current time and allows 30 seconds of clock skew.
 *
 * @example
 * ```ts
 * const result = validateToken(token, { audiences: ["https://ossrdbms-aad.database.windows.net"], tenantId, jwks });
 * if (result.ok) console.log(result.principalName);
 * ```
 */
export function validateToken(token: string, options: TokenValidationOptions): TokenValidationResult {
  const invalid = (detail: string): TokenValidationResult => ({ ok: false, reason: "invalid", detail });
  const parts = typeof token === "string" ? token.split(".") : [];
  if (parts.length !== 3 || parts.some((part) => !/^[A-Za-z0-9_-]*$/.test(part)) || !parts[2]) {
    return invalid("The token is not a compact JWS (three base64url segments).");
  }
  const parsed = parseJwt(token);
  if (!parsed) return invalid("The token header or payload is not a base64url JSON object.");
  const { header, claims, signingInput, signature } = parsed;
  if (header.alg !== "RS256") return invalid(`Unsupported signing algorithm ${JSON.stringify(header.alg)}.`);

  let key: KeyObject;
  try {
    const found = selectKey(header, options);
    if (!found) return invalid(`No signing key matches kid ${JSON.stringify(header.kid)}.`);
    key = found;
  } catch {
    return invalid("The signing key could not be loaded.");
  }
  if (!verify("RSA-SHA256", Buffer.from(signingInput), key, signature)) {
    return invalid("The token signature does not verify.");
  }

  const { tenantId } = options;
  const issuers = [
    `https://sts.windows.net/${tenantId}/`,
    `https://login.microsoftonline.com/${tenantId}/v2.0`,
  ];
  if (typeof claims.iss !== "string" || !issuers.includes(claims.iss)) {
    return invalid(`The issuer ${JSON.stringify(claims.iss)} is not an issuer of tenant ${tenantId}.`);
  }
  if (claims.tid !== undefined && claims.tid !== tenantId) {
    return invalid(`The tenant ${JSON.stringify(claims.tid)} is not ${tenantId}.`);
  }

  const nowSeconds = (options.nowMs ?? Date.now()) / 1000;
  const skew = options.clockSkewInSeconds ?? 30;
  if (typeof claims.exp !== "number") return invalid("The token has no numeric exp claim.");
  if (claims.nbf !== undefined && typeof claims.nbf !== "number")
    return invalid("The nbf claim is not numeric.");
  if (typeof claims.nbf === "number" && claims.nbf > nowSeconds + skew) {
    return invalid(`The token is not valid before ${new Date(claims.nbf * 1000).toISOString()}.`);
  }
  if (claims.exp + skew <= nowSeconds) {
    return {
      ok: false,
      reason: "expired",
      detail: `The token expired at ${new Date(claims.exp * 1000).toISOString()}.`,
    };
  }

  const accepted = new Set(options.audiences.map(stripSlash));
  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!audiences.some((aud) => typeof aud === "string" && accepted.has(stripSlash(aud)))) {
    return {
      ok: false,
      reason: "audience",
      detail: `The audience ${JSON.stringify(claims.aud)} is not accepted.`,
    };
  }

  return { ok: true, claims: Object.freeze({ ...claims }), principalName: principalNameOf(claims) };
}

/**
 * The name a database uses for the token's principal: the last segment of `xms_mirid` (managed
 * identities), else `upn`, `preferred_username` or `unique_name`.
 *
 * @returns The name, or undefined when the token carries none of these claims.
 */
export function principalNameOf(claims: Readonly<Record<string, unknown>>): string | undefined {
  if (typeof claims.xms_mirid === "string" && claims.xms_mirid.length > 0) {
    const last = claims.xms_mirid.split("/").filter(Boolean).pop();
    if (last) return last;
  }
  for (const name of ["upn", "preferred_username", "unique_name"]) {
    const value = claims[name];
    if (typeof value === "string" && value.length > 0) return value;
  }
  return undefined;
}

function selectKey(header: Record<string, unknown>, options: TokenValidationOptions): KeyObject | undefined {
  if (options.jwks) {
    const jwk = options.jwks.keys.find((candidate) => candidate.kid === header.kid);
    if (jwk) return createPublicKey({ key: { kty: jwk.kty, n: jwk.n, e: jwk.e }, format: "jwk" });
    if (!options.publicKey) return undefined;
  }
  if (!options.publicKey) return undefined;
  return typeof options.publicKey === "string" ? createPublicKey(options.publicKey) : options.publicKey;
}

/** A compact JWS split into its decoded parts; undefined when it is not one. */
export function parseJwt(token: string):
  | {
      readonly header: Readonly<Record<string, unknown>>;
      readonly claims: Readonly<Record<string, unknown>>;
      readonly signingInput: string;
      readonly signature: Buffer;
    }
  | undefined {
  const parts = typeof token === "string" ? token.split(".") : [];
  if (parts.length !== 3 || parts.some((part) => !/^[A-Za-z0-9_-]*$/.test(part))) return undefined;
  const [headerPart = "", payloadPart = "", signaturePart = ""] = parts;
  const header = decodeJson(headerPart);
  const claims = decodeJson(payloadPart);
  if (!header || !claims) return undefined;
  return {
    header,
    claims,
    signingInput: `${headerPart}.${payloadPart}`,
    signature: Buffer.from(signaturePart, "base64url"),
  };
}

function decodeJson(segment: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, "base64url").toString("utf8"));
    return value && typeof value === "object" && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function stripSlash(value: string): string {
  return value.endsWith("/") ? value.slice(0, -1) : value;
}
