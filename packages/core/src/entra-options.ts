import type { TokenCredential } from "@azure/core-auth";
import type { EntraTokenProvider } from "./entra-token-provider.js";
import type { TokenErrorListener, TokenRefreshedListener } from "./token-events.js";

/**
 * Refresh tuning for the token provider. All durations are in milliseconds.
 */
export interface RefreshOptions {
  /**
   * A token whose remaining lifetime is below this margin is never handed out: it covers clock
   * skew and connection set-up. Capped at an eighth of the token's lifetime (measured from when it
   * was fetched), so short-lived tokens still leave room for a background refresh.
   * Defaults to 120_000 (2 min).
   */
  readonly mustRefreshMarginInMs?: number;
  /**
   * Start a background refresh when the remaining lifetime falls below this window (or at the
   * token's `refreshAfterTimestamp`, whichever comes first). Capped at a quarter of the token's lifetime.
   * Defaults to 600_000 (10 min).
   */
  readonly refreshWindowInMs?: number;
  /** First retry delay after a failed refresh. Defaults to 1_000. */
  readonly retryInitialDelayInMs?: number;
  /** Upper bound for the exponential retry delay. Defaults to 60_000. */
  readonly retryMaxDelayInMs?: number;
  /**
   * Randomisation of retry delays: `"full"` picks from `[0, d)`, `"equal"` from `[d/2, d)`.
   * Defaults to `"equal"`.
   */
  readonly retryJitter?: "full" | "equal";
  /**
   * How long one credential call may take before it is abandoned; callers waiting for it fail with
   * `EntraAuthError` code `TOKEN_TIMEOUT`. Defaults to 30_000.
   */
  readonly getTokenTimeoutInMs?: number;
}

/**
 * Options accepted as the second argument of every adapter's `withEntra`.
 */
export interface EntraOptions extends RefreshOptions {
  /**
   * Any `TokenCredential`. Defaults to `new DefaultAzureCredential({ managedIdentityClientId })`
   * with `clientId` (or the Service Connector `*_CLIENTID` variable).
   */
  readonly credential?: TokenCredential;
  /** Client ID of a user-assigned managed identity. Defaults to the Service Connector `*_CLIENTID` variable. */
  readonly clientId?: string;
  /** Token scope. Defaults to {@link @org/entra-core!scopeFor | scopeFor} of the engine and host. */
  readonly scope?: string;
  /**
   * Database username. Defaults to the Service Connector `*_USER` variable, then the token's
   * claims (see `deriveUsername`).
   */
  readonly username?: string;
  /** Allow configs that disable TLS or certificate verification. Defaults to `false`. */
  readonly allowInsecure?: boolean;
  /** Use this provider instead of the shared one. Defaults to the process-wide shared provider. */
  readonly tokenProvider?: EntraTokenProvider;
  /** Environment to read Service Connector variables from. Defaults to `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /**
   * Start fetching the token in the background as soon as `withEntra` is called, so that the first
   * connection does not wait for the identity endpoint. A failure there is logged and never an
   * unhandled rejection; the first connection then waits for the next attempt of the retry
   * schedule (at most about a second). `await warmUp()` waits for it. Defaults to `true`.
   */
  readonly warmStart?: boolean;
  /**
   * Called after each new token of the provider this config uses (see `TokenRefreshedEvent`).
   * Listeners of every config sharing a provider are all called. For apps without OpenTelemetry.
   */
  readonly onTokenRefreshed?: TokenRefreshedListener;
  /** Called after each failed credential call of the provider this config uses (see `TokenErrorEvent`). */
  readonly onTokenError?: TokenErrorListener;
}
