import {
  type EntraAuthErrorCode,
  isEntraAuthError,
  logger,
  reactToServerRejection,
  type ServerAuthErrorDescription,
} from "@org/entra-core";
import { isEntraTokenCredential } from "./entra-token-credential.js";

/** Azure SQL's error number when it re-validates an open session's token and finds it expired. */
export const SESSION_TOKEN_EXPIRED = 37396;

/** Anything that carries a tedious-shaped `authentication`: a tedious or mssql config, or a `Connection`. */
export type EntraErrorSource =
  | {
      /** A config's `authentication`: its Entra credential drops an expired token. */
      readonly authentication?: unknown;
    }
  | {
      /** A `Connection`'s config. */
      readonly config?: {
        /** The config's `authentication`: its Entra credential drops an expired token. */
        readonly authentication?: unknown;
      };
    }
  | undefined;

/** The error fields tedious and mssql set (`ConnectionError`, `RequestError`, mssql's wrappers). */
interface DriverError extends Error {
  code?: string;
  readonly number?: number;
  readonly errors?: readonly unknown[];
  readonly originalError?: unknown;
}

/** The parts of a tedious `Connection` that {@link watchEntraErrors} uses. */
export interface WatchableConnection {
  /** The connection's config. */
  readonly config?: {
    /** The config's `authentication`: its Entra credential drops a token the server refused. */
    readonly authentication?: unknown;
  };
  /** Adds the `connect` listener that explains a failed login before your callback sees it. */
  prependOnceListener(event: "connect", listener: (error?: Error) => void): unknown;
  /** Adds the `errorMessage` listener that watches for error 37396 (session token expired) and explains its message. */
  on(
    event: "errorMessage",
    listener: (message: { readonly number?: number; message?: string }) => void,
  ): unknown;
  /** Removes the `errorMessage` listener when the connection ends. */
  removeListener(
    event: "errorMessage",
    listener: (message: { readonly number?: number; message?: string }) => void,
  ): unknown;
  /** Adds the `end` listener that removes the `errorMessage` listener. */
  once(event: "end", listener: () => void): unknown;
}

/** Options for {@link watchEntraErrors}. */
export interface WatchEntraErrorsOptions {
  /**
   * Called when Azure SQL reports that the open session's token expired (error 37396): the
   * session must be replaced. mssql-entra uses it to mark the pooled connection broken.
   * Defaults to only logging a warning.
   */
  readonly onSessionTokenExpired?: () => void;
}

/**
 * Explains an Azure SQL authentication failure in place and returns the same error: its message
 * gains `[@org/tedious-entra <code>]` and what to change, and a non-enumerable `entraCode`. When
 * the server says the token is expired or invalid (login error 18456 `... Token is expired.`,
 * `... Incorrect or invalid token.`) and `source` uses an Entra credential from this package, that
 * credential's cached token is dropped so the next connection fetches a fresh one.
 *
 * Also handles tedious's `AggregateError` for a failed token fetch (`EFEDAUTH`, whose message is
 * empty) by giving it the credential's message, and mid-session error 37396. Unknown errors,
 * and errors already explained, are returned unchanged.
 *
 * tedious has no config-level hook for login failures, so call this in your `connect` callback
 * (or use {@link @org/tedious-entra!watchEntraErrors | watchEntraErrors} once per connection; `@org/mssql-entra` does that for you).
 *
 * @example
 * ```ts
 * const connection = new Connection(config);
 * connection.connect((err) => {
 *   if (err) throw explainEntraError(err, config);
 * });
 * ```
 *
 * @param error - What tedious or mssql reported.
 * @param source - The config (or `Connection`) whose credential should drop an expired token.
 * @returns `error`, explained when it is a known Entra failure.
 */
export function explainEntraError<E>(error: E, source?: EntraErrorSource): E {
  if (!(error instanceof Error) || "entraCode" in error) return error;
  const driverError = error as DriverError;
  const inner = driverError.originalError;
  if (inner instanceof Error && "entraCode" in inner) {
    // mssql copied the message of a tedious error this package already explained.
    Object.defineProperty(error, "entraCode", {
      value: inner.entraCode,
      enumerable: false,
      configurable: true,
    });
    return error;
  }
  const aggregate = findFedAuthAggregate(driverError);
  if (aggregate) {
    explainFedAuthFailure(driverError, aggregate);
    return error;
  }
  const sessionExpired =
    driverError.number === SESSION_TOKEN_EXPIRED ||
    /query cannot be executed, access token/i.test(error.message);
  if (sessionExpired) {
    annotate(driverError, SESSION_EXPIRED.code, SESSION_EXPIRED.hint);
    return error;
  }
  reactToServerRejection(driverError, {
    engine: "sqlserver",
    adapter: "@org/tedious-entra",
    serverCode: driverError.number,
    provider: credentialOf(source),
  });
  return error;
}

/**
 * Watches one tedious `Connection` for Entra failures: a failed login is passed to
 * {@link explainEntraError} before your `connect` callback (or mssql) sees it, and a later
 * error 37396 (Azure SQL re-validated the session's token and found it expired) is logged,
 * explained in the failed request's error (`[@org/tedious-entra TOKEN_EXPIRED]` and what to do)
 * and reported to `onSessionTokenExpired`. Attach it right after `new Connection(config)`, before
 * or after calling `connect()`.
 *
 * @example
 * ```ts
 * const connection = new Connection(withEntra({ server, options: { database } }));
 * watchEntraErrors(connection);
 * connection.connect((err) => { ... }); // err.message now says what to change
 * ```
 *
 * @param connection - A tedious `Connection` built from a config with an Entra credential.
 * @param options - What to do when an open session's token expires. Defaults to logging a warning.
 * @returns `connection`.
 */
export function watchEntraErrors<C extends WatchableConnection>(
  connection: C,
  options: WatchEntraErrorsOptions = {},
): C {
  connection.prependOnceListener("connect", (error?: Error) => {
    if (error) explainEntraError(error, connection);
  });
  const onErrorMessage = (message: { readonly number?: number; message?: string }) => {
    if (message?.number !== SESSION_TOKEN_EXPIRED) return;
    logger.warning(
      "Azure SQL re-validated an open session's access token and found it expired (37396); the session must be replaced.",
    );
    // tedious builds the request's RequestError from this token's message right after this event,
    // so the error the caller sees says what to do.
    if (typeof message.message === "string" && !message.message.includes(MARKER)) {
      message.message = `${message.message} [@org/tedious-entra ${SESSION_EXPIRED.code}] ${SESSION_EXPIRED.hint}`;
    }
    options.onSessionTokenExpired?.();
  };
  connection.on("errorMessage", onErrorMessage);
  connection.once("end", () => connection.removeListener("errorMessage", onErrorMessage));
  return connection;
}

const MARKER = "[@org/tedious-entra ";

const SESSION_EXPIRED: ServerAuthErrorDescription = {
  code: "TOKEN_EXPIRED",
  hint: "Azure SQL re-validated this open session's token and found it expired (error 37396): the session was kept open past its token's expiry (a long transaction, a connection held outside the pool, or a pool without the withEntra hooks that retire sessions first). Close this connection and run the query on a new one; new connections get a fresh token. Do not hold one connection across token lifetimes.",
};

function credentialOf(source: EntraErrorSource): { invalidate(): void } | undefined {
  const authentication =
    source && "authentication" in source
      ? source.authentication
      : (source as { config?: { authentication?: unknown } } | undefined)?.config?.authentication;
  const credential = (authentication as { options?: { credential?: unknown } } | undefined)?.options
    ?.credential;
  return isEntraTokenCredential(credential) ? credential : undefined;
}

/** tedious reports a failed token fetch as `AggregateError([ConnectionError EFEDAUTH, cause])`; mssql wraps it. */
function findFedAuthAggregate(error: DriverError): DriverError | undefined {
  for (const candidate of [error, error.originalError]) {
    const errors = (candidate as DriverError | undefined)?.errors;
    if (Array.isArray(errors) && (errors[0] as DriverError | undefined)?.code === "EFEDAUTH") {
      return candidate as DriverError;
    }
  }
  return undefined;
}

function explainFedAuthFailure(error: DriverError, aggregate: DriverError): void {
  const [first, cause] = aggregate.errors as [DriverError, unknown];
  const code: EntraAuthErrorCode = isEntraAuthError(cause) ? cause.code : "CREDENTIAL_FAILED";
  const reason = cause instanceof Error ? cause.message : "the credential returned no token";
  for (const target of new Set([aggregate, error])) {
    if (target.message === "") target.message = `${first.message} ${reason}`;
    target.code ??= "EFEDAUTH";
    Object.defineProperty(target, "entraCode", { value: code, enumerable: false, configurable: true });
  }
}

function annotate(error: DriverError, code: EntraAuthErrorCode, hint: string): void {
  // watchEntraErrors may have explained the message already (tedious copied it from the token).
  if (!error.message.includes(MARKER))
    error.message = `${error.message} [@org/tedious-entra ${code}] ${hint}`;
  Object.defineProperty(error, "entraCode", { value: code, enumerable: false, configurable: true });
}
