import type { EntraAuthErrorCode } from "./entra-auth-error.js";
import type { Engine } from "./scope-for.js";

/** What a database server's authentication error means, from {@link describeServerAuthError}. */
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

const EXPIRED: ServerAuthErrorDescription = {
  code: "TOKEN_EXPIRED",
  hint: "The token expired before the server checked it; a fresh token is fetched for the next connection. If this repeats, check the machine's clock.",
};

const TLS_REQUIRED: ServerAuthErrorDescription = {
  code: "INSECURE_TRANSPORT",
  hint: "The server requires TLS: set ssl: true (pg) or ssl: { verifyIdentity: true } (mysql2), and pass { ca } for a private CA.",
};

/**
 * The servers' error numbers that say what went wrong when the message alone may not (a driver
 * can keep the number but localise or shorten the text). Azure Database for MySQL: 9119 expired
 * token, 1045 unknown user, 3159 insecure transport. PostgreSQL's SQLSTATEs (28P01, 28000) and
 * Azure SQL's 18456 cover several causes, so their messages decide.
 */
const SERVER_ERROR_NUMBERS: Readonly<
  Record<Engine, Readonly<Record<string, (message: string) => ServerAuthErrorDescription>>>
> = {
  mysql: {
    "9119": () => EXPIRED,
    "1045": (message) => ({ code: "PRINCIPAL_UNKNOWN", hint: principalHint("mysql", mysqlUser(message)) }),
    "3159": () => TLS_REQUIRED,
  },
  postgresql: {},
  sqlserver: {},
};

function mysqlUser(message: string): string | undefined {
  return /Access denied for user '([^']*)'/i.exec(message)?.[1] || undefined;
}

/**
 * Maps a database server's authentication error (Azure PostgreSQL, Azure MySQL, Azure SQL) to an
 * error code and a hint: expired token -> `TOKEN_EXPIRED`, wrong audience -> `TOKEN_AUDIENCE`,
 * invalid token -> `TOKEN_INVALID`, unknown principal / wrong username -> `PRINCIPAL_UNKNOWN`,
 * TLS required -> `INSECURE_TRANSPORT`. The message decides; the server's error number (e.g.
 * MySQL's 9119) is consulted when the message is not recognised.
 *
 * @example
 * ```ts
 * const known = describeServerAuthError(err.message, "postgresql");
 * if (known) throw new EntraAuthError(known.code, err.message, { hint: known.hint, cause: err });
 * ```
 *
 * @param serverCode - The server's error number or SQLSTATE, when the driver kept it.
 * @returns The code and hint, or `undefined` for an error that is not a known authentication failure.
 */
export function describeServerAuthError(
  message: string,
  engine: Engine,
  serverCode?: number | string,
): ServerAuthErrorDescription | undefined {
  const text = typeof message === "string" ? message : "";
  const byMessage = text === "" ? undefined : describeMessage(text, engine);
  if (byMessage || serverCode === undefined) return byMessage;
  return SERVER_ERROR_NUMBERS[engine]?.[String(serverCode)]?.(text);
}

function describeMessage(message: string, engine: Engine): ServerAuthErrorDescription | undefined {
  if (/access token has expired|token is expired/i.test(message)) return EXPIRED;
  if (/does not have a valid audience/i.test(message)) {
    return { code: "TOKEN_AUDIENCE", hint: audienceHint(engine) };
  }
  if (/not currently configured to accept this token/i.test(message)) {
    return {
      code: "TOKEN_INVALID",
      hint: "The server does not accept tokens from this identity's tenant: set a Microsoft Entra admin on the server and use an identity from the same tenant.",
    };
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
  if (/Access denied for user '/i.test(message)) {
    return { code: "PRINCIPAL_UNKNOWN", hint: principalHint(engine, mysqlUser(message)) };
  }
  if (/Login failed for user/i.test(message)) {
    return { code: "PRINCIPAL_UNKNOWN", hint: principalHint(engine, undefined) };
  }
  if (
    /no pg_hba\.conf entry.*no encryption/is.test(message) ||
    /insecure transport|\b3159\b/i.test(message)
  ) {
    return TLS_REQUIRED;
  }
  return undefined;
}

/**
 * True when a server error with this code means the cached token is unusable, so the provider
 * should be invalidated before the next connection (`TOKEN_EXPIRED`, `TOKEN_INVALID`; `false` for
 * every other code).
 *
 * @example
 * ```ts
 * if (shouldInvalidateToken(known.code)) provider.invalidate();
 * ```
 */
export function shouldInvalidateToken(code: EntraAuthErrorCode): boolean {
  return code === "TOKEN_EXPIRED" || code === "TOKEN_INVALID";
}
