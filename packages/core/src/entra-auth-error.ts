/**
 * Machine-readable reason carried by every {@link EntraAuthError}.
 *
 * - `CREDENTIAL_FAILED`: the credential could not produce a token (and no cached token is valid).
 * - `TOKEN_TIMEOUT`: no token could be had within `getTokenTimeoutInMs`.
 * - `ABORTED`: the caller's `AbortSignal` fired.
 * - `PROVIDER_CLOSED`: `getToken` was called after `close()`.
 * - `INSECURE_TRANSPORT`: the config disables TLS or certificate verification.
 * - `INVALID_SETTING`: an environment variable or option has a malformed value.
 * - `MISSING_SETTING`: a required setting (host, database, ...) is absent.
 * - `USERNAME_UNRESOLVED`: no username was given and none could be derived from the token.
 * - `TOKEN_EXPIRED`, `TOKEN_AUDIENCE`, `TOKEN_INVALID`, `PRINCIPAL_UNKNOWN`: the database server
 *   rejected the token (mapped from the server's own message).
 */
export type EntraAuthErrorCode =
  | "CREDENTIAL_FAILED"
  | "TOKEN_TIMEOUT"
  | "ABORTED"
  | "PROVIDER_CLOSED"
  | "INSECURE_TRANSPORT"
  | "INVALID_SETTING"
  | "MISSING_SETTING"
  | "USERNAME_UNRESOLVED"
  | "TOKEN_EXPIRED"
  | "TOKEN_AUDIENCE"
  | "TOKEN_INVALID"
  | "PRINCIPAL_UNKNOWN";

/** Options for {@link EntraAuthError}. */
export interface EntraAuthErrorOptions {
  /** The underlying error, if any. It must not contain a token. */
  readonly cause?: unknown;
  /** What the user should change, in one or two sentences. */
  readonly hint?: string;
}

/**
 * The one error type raised by every `@org/*-entra` package. `message` says what went wrong and
 * what to do; `code` is stable for programs. Never contains a token.
 *
 * @example
 * ```ts
 * try { await pool.query("select 1"); }
 * catch (e) { if (e instanceof EntraAuthError && e.code === "TOKEN_EXPIRED") { ... } }
 * ```
 */
export class EntraAuthError extends Error {
  /** Stable machine-readable reason. */
  readonly code: EntraAuthErrorCode;
  /** What to change to fix it; an empty string when there is no specific advice. */
  readonly hint: string;

  constructor(code: EntraAuthErrorCode, message: string, options: EntraAuthErrorOptions = {}) {
    const hint = options.hint ?? "";
    super(
      hint ? `${message} ${hint}` : message,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = "EntraAuthError";
    this.code = code;
    this.hint = hint;
  }
}

/** True when `value` is an {@link EntraAuthError} (also across duplicate package copies). */
export function isEntraAuthError(value: unknown): value is EntraAuthError {
  return (
    value instanceof EntraAuthError ||
    (value instanceof Error && value.name === "EntraAuthError" && "code" in value)
  );
}
