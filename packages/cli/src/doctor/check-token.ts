import { deriveUsername, type Engine, scopeFor } from "@org/entra-core";
import type { Check } from "./check.js";
import { readClaims, resourceOf } from "./read-claims.js";

/** Input of {@link checkToken}. */
export interface CheckTokenInput {
  readonly token: string;
  readonly engine: Engine;
  readonly host?: string | undefined;
  /** The scope the token was requested for. */
  readonly scope: string;
  /** `--user` or `*_USER`, and where it came from; absent when neither is set (the token's name is used). */
  readonly user?: string | undefined;
  readonly userSource?: string | undefined;
  /** Expiry reported by the credential, epoch ms. Defaults to the token's `exp`. */
  readonly expiresOnTimestamp?: number | undefined;
  /** Epoch ms. */
  readonly now: number;
}

/** Below this, the token check warns. */
export const EXPIRY_WARNING_IN_MS = 5 * 60_000;

/**
 * The `token` check: decodes the token's claims (audience, tenant, principal, `idtyp`, expiry)
 * without printing the token, and compares the audience with the scope the engine and the cloud
 * of the host need (`scopeFor`). Fails on a wrong audience or an expired token; warns when it
 * expires within 5 minutes or when the configured user differs from the token's name.
 */
export function checkToken(input: CheckTokenInput): Check {
  const claims = readClaims(input.token);
  if (!claims) {
    return {
      name: "token",
      status: "fail",
      detail: "the credential returned a token that is not a JWT",
      cause: "The credential is not an Entra credential, or returned something else than an access token.",
      fix: "Use a Microsoft Entra credential (managed identity, az login, a service principal).",
    };
  }
  const derived = deriveUsername(input.token);
  const principal =
    (claims.xmsMirid ? `${derived} (managed identity)` : undefined) ??
    claims.upn ??
    claims.preferredUsername ??
    claims.uniqueName ??
    (claims.oid ? `oid ${claims.oid}` : "unknown");
  const expiresAt = input.expiresOnTimestamp ?? (claims.exp === undefined ? undefined : claims.exp * 1000);
  const minutesLeft = expiresAt === undefined ? undefined : Math.floor((expiresAt - input.now) / 60_000);
  const expected = resourceOf(scopeFor(input.engine, input.host));
  const audience = claims.aud === undefined ? undefined : resourceOf(claims.aud);
  const data = {
    xmsMirid: claims.xmsMirid,
    audience: claims.aud,
    tenant: claims.tid,
    issuer: claims.iss,
    principal,
    objectId: claims.oid,
    appId: claims.appid,
    idtyp: claims.idtyp,
    expiresOn: expiresAt === undefined ? undefined : new Date(expiresAt).toISOString(),
    minutesLeft,
    derivedUsername: derived,
    expectedAudience: expected,
  };
  const expiry =
    expiresAt === undefined
      ? "no expiry"
      : `expires ${new Date(expiresAt).toISOString()} (${minutesLeft} min left)`;
  const detail = `aud ${claims.aud ?? "?"}, tenant ${claims.tid ?? "?"}, principal ${principal}, idtyp ${claims.idtyp ?? "?"}, ${expiry}; username ${derived ?? "?"}`;

  if (audience !== expected) {
    return {
      name: "token",
      status: "fail",
      detail,
      cause: `The token is for "${claims.aud ?? "no audience"}", but ${input.engine}${input.host ? ` at ${input.host}` : ""} accepts only "${expected}" (requested scope ${input.scope}).`,
      fix: `Remove --scope (and any scope option) so the scope is chosen from the engine and host, or use --scope ${expected}/.default.`,
      data,
    };
  }
  if (expiresAt !== undefined && expiresAt <= input.now) {
    return {
      name: "token",
      status: "fail",
      detail,
      cause: "The credential returned an expired token.",
      fix: "Check this machine's clock; for az login run `az account get-access-token` to refresh the sign-in.",
      data,
    };
  }
  if (expiresAt !== undefined && expiresAt - input.now < EXPIRY_WARNING_IN_MS) {
    return {
      name: "token",
      status: "warn",
      detail,
      cause: `The token expires in less than 5 minutes (${minutesLeft} min).`,
      fix: "Fetch a token per connection (the @org/*-entra adapters do) instead of reusing this one; check the clock if new tokens are this short.",
      data,
    };
  }
  if (input.user && derived && input.user !== derived) {
    return {
      name: "token",
      status: "warn",
      detail,
      cause: `The user "${input.user}" (from ${input.userSource ?? "the settings"}) is not the token's name "${derived}".`,
      fix: `Fine if "${input.user}" is an Entra group the principal belongs to; otherwise use --user ${derived} or set the *_USER variable to "${derived}".`,
      data,
    };
  }
  return { name: "token", status: "ok", detail, data };
}
