import type { KeyObject } from "node:crypto";
import type { JsonWebKeySet } from "./token-issuer.js";
import { validateToken } from "./token-validation.js";

/**
 * Why a database login was refused (the same union as the PostgreSQL gateway's `RejectionReason`).
 *
 * Defaults to none: every refusal names one.
 */
export type LoginRejectionReason = "expired" | "audience" | "invalid" | "principal" | "tls-required";

/**
 * The decision for one database login (structurally the gateway's `AuthDecision`).
 *
 * Defaults to none: `authorizeLogin` always returns one.
 */
export type LoginDecision =
  | { readonly ok: true; readonly backendUser: string }
  | { readonly ok: false; readonly reason: LoginRejectionReason };

/**
 * One login as the gateway sees it.
 *
 * Defaults to none: the gateway fills every field.
 */
export interface LoginRequest {
  /** The password the client sent: the Entra access token. */
  readonly token: string;
  /** The user name the client asked for (the database role). */
  readonly user: string;
  /** The database the client asked for. */
  readonly database: string;
  /** The client's address. */
  readonly remoteAddress: string;
}

/**
 * The resource Azure Database for PostgreSQL and MySQL accept tokens for.
 *
 * Defaults to this value wherever an audience is optional.
 */
export const ossrdbmsResource = "https://ossrdbms-aad.database.windows.net";

/**
 * Everything {@link authorizeLogin} needs besides the request.
 *
 * Defaults to the values named on each member.
 */
export interface LoginPolicy {
  /** The tenant tokens must come from. */
  readonly tenantId: string;
  /** Keys to verify signatures with. Defaults to none (then `publicKey` is required). */
  readonly jwks?: JsonWebKeySet;
  /** Key to verify signatures with. Defaults to the key in `jwks` named by the token's `kid`. */
  readonly publicKey?: KeyObject | string;
  /** Current time in epoch milliseconds. Defaults to `Date.now()`. */
  readonly nowMs?: number;
  /** Tolerance for `exp` and `nbf`. Defaults to 30 seconds. */
  readonly clockSkewInSeconds?: number;
  /** Accepted audiences (each with or without trailing slash). Defaults to `https://ossrdbms-aad.database.windows.net`. */
  readonly audiences?: readonly string[];
  /**
   * Extra roles (e.g. Entra groups) and the object ids allowed to log in as each.
   * Defaults to none: a principal may only log in as the role named after itself.
   */
  readonly roles?: Readonly<Record<string, readonly string[]>>;
  /**
   * Injected rejections, consumed first-in first-out, one per login, before any validation.
   * The array is mutated. Defaults to none.
   */
  readonly pendingRejections?: LoginRejectionReason[];
}

/**
 * Decides a database login the way Azure Database for PostgreSQL with Entra auth does: pending
 * injected rejections first, then token validation (signature, issuer, tenant, `nbf`, `exp`,
 * audience), then principal-to-role mapping (the requested user must be the token's principal
 * name, or a role in `roles` listing the token's `oid`).
 *
 * @example
 * ```ts
 * const decision = authorizeLogin({ token, user: "orders-app", database: "postgres", remoteAddress: "127.0.0.1" },
 *   { tenantId, jwks });
 * if (!decision.ok) console.log(decision.reason); // "expired" | "audience" | "invalid" | "principal" | ...
 * ```
 *
 * Defaults to the PostgreSQL/MySQL audience, the current time and 30 seconds of clock skew.
 */
export function authorizeLogin(request: LoginRequest, policy: LoginPolicy): LoginDecision {
  const injected = policy.pendingRejections?.shift();
  if (injected) return { ok: false, reason: injected };

  const audiences = policy.audiences ?? [ossrdbmsResource];
  const result = validateToken(request.token, {
    audiences: audiences.flatMap((audience) => [audience, withSlash(audience)]),
    tenantId: policy.tenantId,
    jwks: policy.jwks,
    publicKey: policy.publicKey,
    nowMs: policy.nowMs,
    clockSkewInSeconds: policy.clockSkewInSeconds,
  });
  if (!result.ok) return { ok: false, reason: result.reason };

  if (result.principalName !== undefined && result.principalName === request.user) {
    return { ok: true, backendUser: request.user };
  }
  const oid = result.claims.oid;
  const members =
    policy.roles && Object.hasOwn(policy.roles, request.user) ? policy.roles[request.user] : undefined;
  if (typeof oid === "string" && members?.some((member) => member.toLowerCase() === oid.toLowerCase())) {
    return { ok: true, backendUser: request.user };
  }
  return { ok: false, reason: "principal" };
}

function withSlash(audience: string): string {
  return audience.endsWith("/") ? audience : `${audience}/`;
}
