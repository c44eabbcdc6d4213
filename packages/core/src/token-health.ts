import type { EntraAuthErrorCode } from "./entra-auth-error.js";

/**
 * - `healthy`: a valid token is cached and refreshes succeed, or nothing needs a token right now.
 * - `degraded`: connections still get a token, but refreshes fail while it nears expiry (or the
 *   first token is still being fetched).
 * - `unhealthy`: no usable token: the last credential call failed and no valid token is cached.
 */
export type EntraHealthStatus = "healthy" | "degraded" | "unhealthy";

/** The state of one token provider, from {@link healthCheck}. Never contains a token. */
export interface EntraTokenHealth {
  /** See {@link EntraHealthStatus}. */
  readonly status: EntraHealthStatus;
  /** One sentence for a person: why this status. */
  readonly reason: string;
  /** The scope the provider serves. */
  readonly scope: string;
  /** The credential's class name. */
  readonly credential: string;
  /** Expiry of the cached token (epoch ms), `undefined` when none is cached. */
  readonly expiresOnTimestamp: number | undefined;
  /** The last failed credential call since the last success, if any. */
  readonly lastError?: {
    /** The error's code, e.g. `CREDENTIAL_FAILED`. */
    readonly code: EntraAuthErrorCode;
    /** The error's message (no token). */
    readonly message: string;
    /** When it failed, epoch milliseconds. */
    readonly atTimestamp: number;
  };
}

/** The process's token providers, from {@link healthCheck}. */
export interface EntraHealthReport {
  /** The worst status of {@link providers}; `healthy` when there are none. */
  readonly status: EntraHealthStatus;
  /** The reason of the worst provider, or why there is nothing to report. */
  readonly reason: string;
  /** Every live provider of the process (shared ones and those made by `createTokenProvider`). */
  readonly providers: readonly EntraTokenHealth[];
}
