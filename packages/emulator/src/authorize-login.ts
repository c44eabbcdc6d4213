import type { KeyObject } from "node:crypto";
import type { GatewayLoginDecision, GatewayLoginRequest } from "@org/entra-wire";
import type { JsonWebKeySet } from "./token-issuer.js";
import { type TokenValidationResult, validateToken } from "./token-validation.js";

/** Why a database login was refused; each gateway maps it to the error its engine sends. */
export type LoginRejectionReason = "expired" | "audience" | "invalid" | "principal" | "tls-required";

/** The decision for one database login: the backend user to log in as, or why not. */
export type LoginDecision = GatewayLoginDecision<LoginRejectionReason>;

/** One login as the gateway sees it: `token` is the password the client sent, the Entra access token. */
export type LoginRequest = GatewayLoginRequest;

/**
 * The resource Azure Database for PostgreSQL and MySQL accept tokens for: the audience
 * {@link authorizeLogin} expects and `mintToken` uses when none is given.
 */
export const ossrdbmsResource = "https://ossrdbms-aad.database.windows.net";

/** Everything {@link authorizeLogin} needs besides the request. */
export interface LoginPolicy {
  /** The tenant tokens must come from. */
  readonly tenantId: string;
  /** Keys to verify signatures with; without them `publicKey` is required. */
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
   * Extra roles (e.g. Entra groups) and the object ids allowed to log in as each. Without them a
   * principal may only log in as the role named after itself.
   */
  readonly roles?: Readonly<Record<string, readonly string[]>>;
  /**
   * Injected rejections, consumed first-in first-out, one per login, before any validation.
   * The array is mutated.
   */
  readonly pendingRejections?: LoginRejectionReason[];
  /**
   * Service principals that are database principals under their display names. Their app tokens carry
   * no name (no `xms_mirid`, `upn`, …), so the server finds the principal by the id it stored when
   * the user was created: see {@link LoginPolicy.servicePrincipalClaim}. Defaults to none.
   */
  readonly servicePrincipals?: readonly ServicePrincipalEntry[];
  /**
   * The claim a service principal's token is matched by: `oid` (Azure Database for PostgreSQL,
   * `pgaadauth_create_principal` stores the object id; the default) or `appid` (Azure Database for
   * MySQL, `CREATE AADUSER '<name>' IDENTIFIED BY '<client id>'`; Azure SQL, whose user SID is the
   * application id).
   */
  readonly servicePrincipalClaim?: "oid" | "appid";
}

/** A service principal as a database knows it: its display name and ids (see {@link LoginPolicy.servicePrincipals}). */
export interface ServicePrincipalEntry {
  /** Display name: the database user/role name. */
  readonly name: string;
  /** Object id, the token's `oid`. */
  readonly objectId: string;
  /** Application (client) id, the token's `appid`. */
  readonly clientId: string;
}

/**
 * The database principal name of a validated token: its name claim (last segment of `xms_mirid`,
 * else `upn`, …), else, for an app token, the display name of the registered service principal whose
 * `oid` (or `appid`, per `policy.servicePrincipalClaim`) it carries.
 */
function databasePrincipalOf(
  principalName: string | undefined,
  claims: Readonly<Record<string, unknown>>,
  policy: Pick<LoginPolicy, "servicePrincipals" | "servicePrincipalClaim">,
): string | undefined {
  if (principalName !== undefined) return principalName;
  const claim = policy.servicePrincipalClaim ?? "oid";
  const id = claims[claim];
  if (typeof id !== "string") return undefined;
  const key = claim === "oid" ? "objectId" : "clientId";
  return policy.servicePrincipals?.find((entry) => entry[key].toLowerCase() === id.toLowerCase())?.name;
}

/**
 * Decides a database login the way Azure Database for PostgreSQL with Entra auth does: pending
 * injected rejections first, then token validation (signature, issuer, tenant, `nbf`, `exp`,
 * audience), then principal-to-role mapping (the requested user must be the token's principal
 * name, or the display name of the service principal in `servicePrincipals` its app token names by
 * `oid`/`appid`, or a role in `roles` listing the token's `oid`). Unless the policy says otherwise it
 * expects the PostgreSQL/MySQL audience, uses the current time and allows 30 seconds of clock skew.
 *
 * @example
 * ```ts
 * const decision = authorizeLogin({ token, user: "orders-app", database: "postgres", remoteAddress: "127.0.0.1" },
 *   { tenantId, jwks });
 * if (!decision.ok) console.log(decision.reason); // "expired" | "audience" | "invalid" | "principal" | ...
 * ```
 */
export function authorizeLogin(request: LoginRequest, policy: LoginPolicy): LoginDecision {
  const result = checkLoginToken(request.token, policy, ossrdbmsResource);
  if (!result.ok) return { ok: false, reason: result.reason };

  const principal = databasePrincipalOf(result.principalName, result.claims, policy);
  if (principal !== undefined && principal === request.user) {
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

/**
 * The checks every gateway makes before mapping the principal: an injected rejection first, then
 * the token's signature, issuer, expiry and audience (`policy.audiences`, else `defaultAudience`,
 * each with and without a trailing slash).
 */
function checkLoginToken(
  token: string,
  policy: Omit<LoginPolicy, "roles">,
  defaultAudience: string,
): TokenValidationResult | { readonly ok: false; readonly reason: LoginRejectionReason } {
  const injected = policy.pendingRejections?.shift();
  if (injected) return { ok: false, reason: injected };
  const audiences = policy.audiences ?? [defaultAudience];
  return validateToken(token, {
    audiences: audiences.flatMap((audience) => [audience, withSlash(audience)]),
    tenantId: policy.tenantId,
    jwks: policy.jwks,
    publicKey: policy.publicKey,
    nowMs: policy.nowMs,
    clockSkewInSeconds: policy.clockSkewInSeconds,
  });
}

function withSlash(audience: string): string {
  return audience.endsWith("/") ? audience : `${audience}/`;
}

/**
 * The resource Azure SQL Database accepts tokens for (with and without the trailing slash): the
 * audience {@link authorizeSqlLogin} expects unless told otherwise.
 */
export const sqlDatabaseResource = "https://database.windows.net";

/** One Azure SQL (TDS) login: there is no user name, the token is the identity. */
export interface SqlLoginRequest {
  /** The access token from the FEDAUTH feature extension or the FEDAUTH_TOKEN message. */
  readonly token: string;
  /** The database the client asked for (empty for the default). */
  readonly database: string;
  /** The client's address. */
  readonly remoteAddress: string;
}

/** The decision for one Azure SQL login: who the session runs as, or why not. */
export type SqlLoginDecision =
  | {
      /** The login is accepted. */
      readonly ok: true;
      /** The database user the session runs as (`CURRENT_USER`). */
      readonly user: string;
      /** The token's principal name (`SUSER_SNAME()`). */
      readonly login: string;
      /** The token's `exp` in epoch milliseconds: when the session's token expires. */
      readonly expiresOnTimestamp?: number;
    }
  | {
      /** The login is refused. */
      readonly ok: false;
      /** Why: the endpoint sends the matching Azure SQL login error. */
      readonly reason: LoginRejectionReason;
    };

/** Everything {@link authorizeSqlLogin} needs besides the request. */
export interface SqlLoginPolicy extends Omit<LoginPolicy, "roles" | "audiences"> {
  /** Accepted audiences. Defaults to `https://database.windows.net` (with or without slash). */
  readonly audiences?: readonly string[];
  /** Database users created `FROM EXTERNAL PROVIDER` for principals of that name (the identities). */
  readonly principals: readonly string[];
  /** Extra database users (e.g. Entra groups) and the object ids that are members. */
  readonly users?: Readonly<Record<string, readonly string[]>>;
}

/**
 * Decides an Azure SQL login: injected rejections, then token validation (audience
 * `https://database.windows.net`), then the principal must be a database user: its name (last
 * segment of `xms_mirid`, else `upn`/`preferred_username`/`unique_name`, else the display name of the
 * service principal whose `appid` it carries) is in `principals`, or its
 * `oid` is a member of one of `users`. Unless the policy says otherwise it expects the SQL audience,
 * uses the current time and allows 30 seconds of clock skew.
 *
 * @example
 * ```ts
 * authorizeSqlLogin({ token, database: "emulated-db", remoteAddress: "127.0.0.1" },
 *   { tenantId, jwks, principals: ["emulated-app"] }); // { ok: true, user: "emulated-app", login: "emulated-app" }
 * ```
 */
export function authorizeSqlLogin(request: SqlLoginRequest, policy: SqlLoginPolicy): SqlLoginDecision {
  const result = checkLoginToken(request.token, policy, sqlDatabaseResource);
  if (!result.ok) return { ok: false, reason: result.reason };
  const principal = databasePrincipalOf(result.principalName, result.claims, {
    servicePrincipals: policy.servicePrincipals,
    servicePrincipalClaim: policy.servicePrincipalClaim ?? "appid",
  });
  const login = principal ?? (typeof result.claims.oid === "string" ? result.claims.oid : "");
  const exp = result.claims.exp;
  const expiresOnTimestamp = typeof exp === "number" ? exp * 1000 : undefined;
  if (principal !== undefined && policy.principals.includes(principal)) {
    return { ok: true, user: principal, login, expiresOnTimestamp };
  }
  const oid = result.claims.oid;
  if (typeof oid === "string" && policy.users) {
    for (const [user, members] of Object.entries(policy.users)) {
      if (members.some((member) => member.toLowerCase() === oid.toLowerCase())) {
        return { ok: true, user, login, expiresOnTimestamp };
      }
    }
  }
  return { ok: false, reason: "principal" };
}
