import type { EntraAuthError } from "./entra-auth-error.js";

/** What {@link TokenRefreshedListener} receives: a new token arrived from the credential. */
export interface TokenRefreshedEvent {
  /** The scope the token is for. */
  readonly scope: string;
  /** The credential's class name, e.g. `DefaultAzureCredential`. */
  readonly credential: string;
  /** Expiry of the new token, epoch milliseconds. */
  readonly expiresOnTimestamp: number;
  /** How long the credential call took, in milliseconds. */
  readonly durationInMs: number;
  /** `true` for a refresh ahead of expiry that no caller waited for. */
  readonly background: boolean;
}

/** What {@link TokenErrorListener} receives: a credential call failed. Never contains a token. */
export interface TokenErrorEvent {
  /** The scope the token was requested for. */
  readonly scope: string;
  /** The credential's class name, e.g. `DefaultAzureCredential`. */
  readonly credential: string;
  /** The error callers waiting for this call receive (code `CREDENTIAL_FAILED` or `TOKEN_TIMEOUT`). */
  readonly error: EntraAuthError;
  /** `true` for a background refresh that no caller waited for. */
  readonly background: boolean;
  /** `true` when the cached token is still valid and handed out meanwhile. */
  readonly stillServing: boolean;
  /** When the next credential call may start, in milliseconds from now (the shared retry schedule). */
  readonly nextAttemptInMs: number;
}

/** Called after each new token; exceptions it throws are logged and ignored. */
export type TokenRefreshedListener = (event: TokenRefreshedEvent) => void;

/** Called after each failed credential call; exceptions it throws are logged and ignored. */
export type TokenErrorListener = (event: TokenErrorEvent) => void;
