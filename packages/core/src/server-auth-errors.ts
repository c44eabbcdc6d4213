import type { EntraAuthErrorCode } from "./entra-auth-error.js";
import type { Engine } from "./scope-for.js";

/** What a database server's authentication error means, from {@link describeServerAuthError}. Defaults to `undefined` for unknown messages. */
export interface ServerAuthErrorDescription {
  /** The matching error code. */
  readonly code: EntraAuthErrorCode;
  /** What to change. */
  readonly hint: string;
}

function principalHint(engine: Engine, name: string | undefined): string {
  const who = name ?? "<name>";
  const create =
    engine === "postgresql"
      ? `as an Entra admin in database postgres run: select * from pgaadauth_create_principal('${who}', false, false);`
      : engine === "mysql"
        ? `as an Entra admin run: CREATE AADUSER '${who}';`
        : `as an Entra admin in the target database run: CREATE USER [${who}] FROM EXTERNAL PROVIDER;`;
  return `The server has no database role for this Entra principal, or the username does not match the identity's name. Create it (${create}) and check that the username equals the managed identity's (or user's) name.`;
}

function audienceHint(engine: Engine): string {
  const scope =
    engine === "sqlserver"
      ? "https://database.windows.net/.default"
      : "https://ossrdbms-aad.database.windows.net/.default";
  return `The token was requested for the wrong resource: use scope ${scope} (or leave the scope option unset so it is chosen from the host).`;
}

/**
 * Maps a database server's authentication error message (Azure PostgreSQL, Azure MySQL, Azure SQL)
 * to an error code and a hint: expired token -> `TOKEN_EXPIRED`, wrong audience -> `TOKEN_AUDIENCE`,
 * invalid token -> `TOKEN_INVALID`, unknown principal / wrong username -> `PRINCIPAL_UNKNOWN`,
 * TLS required -> `INSECURE_TRANSPORT`.
 *
 * @example
 * ```ts
 * const known = describeServerAuthError(err.message, "postgresql");
 * if (known) throw new EntraAuthError(known.code, err.message, { hint: known.hint, cause: err });
 * ```
 *
 * Defaults to `undefined` for messages that are not a known authentication failure.
 */
export function describeServerAuthError(
  message: string,
  engine: Engine,
): ServerAuthErrorDescription | undefined {
  if (typeof message !== "string" || message === "") return undefined;
  if (/access token has expired|token is expired/i.test(message)) {
    return {
      code: "TOKEN_EXPIRED",
      hint: "The token expired before the server checked it; a fresh token is fetched for the next connection. If this repeats, check the machine's clock.",
    };
  }
  if (/does not have a valid audience/i.test(message)) {
    return { code: "TOKEN_AUDIENCE", hint: audienceHint(engine) };
  }
  if (/error occurred while validating the access token|incorrect or invalid token/i.test(message)) {
    return {
      code: "TOKEN_INVALID",
      hint: "The server could not validate the token: it is from another tenant or not a token for this server. Check the credential's tenant and the scope.",
    };
  }
  if (/Service Principals cannot generate AAD_AUTH_TOKENTYPE_APP_USER tokens/i.test(message)) {
    return { code: "PRINCIPAL_UNKNOWN", hint: principalHint(engine, undefined) };
  }
  const pg = /password authentication failed for user "([^"]*)"/i.exec(message);
  if (pg) return { code: "PRINCIPAL_UNKNOWN", hint: principalHint(engine, pg[1] || undefined) };
  const mysql = /Access denied for user '([^']*)'/i.exec(message);
  if (mysql) return { code: "PRINCIPAL_UNKNOWN", hint: principalHint(engine, mysql[1] || undefined) };
  if (/Login failed for user/i.test(message)) {
    return { code: "PRINCIPAL_UNKNOWN", hint: principalHint(engine, undefined) };
  }
  if (
    /no pg_hba\.conf entry.*no encryption/is.test(message) ||
    /insecure transport|\b3159\b/i.test(message)
  ) {
    return {
      code: "INSECURE_TRANSPORT",
      hint: "The server requires TLS: set ssl: true (pg) or ssl: { verifyIdentity: true } (mysql2), and pass { ca } for a private CA.",
    };
  }
  return undefined;
}

/**
 * True when a server error with this code means the cached token is unusable, so the provider
 * should be invalidated before the next connection (`TOKEN_EXPIRED`, `TOKEN_INVALID`).
 *
 * @example
 * ```ts
 * if (shouldInvalidateToken(known.code)) provider.invalidate();
 * ```
 *
 * Defaults to `false` for every other code.
 */
export function shouldInvalidateToken(code: EntraAuthErrorCode): boolean {
  return code === "TOKEN_EXPIRED" || code === "TOKEN_INVALID";
}
