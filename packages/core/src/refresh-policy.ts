import { EntraAuthError } from "./entra-auth-error.js";
import type { RefreshOptions } from "./entra-options.js";

/** A token as the provider caches it: the credential's answer plus when it was fetched. */
export interface CachedToken {
  /** The bearer token. */
  readonly token: string;
  /** Expiry, epoch milliseconds. */
  readonly expiresOnTimestamp: number;
  /** When the credential suggests refreshing (from its `AccessToken`), epoch milliseconds. */
  readonly refreshAfterTimestamp?: number | undefined;
  /** When the token was received, epoch milliseconds. */
  readonly fetchedOnTimestamp: number;
  /**
   * The token's whole lifetime from its own claims (`exp - iat`), when it is a JWT that has them;
   * otherwise the lifetime is measured from {@link fetchedOnTimestamp}.
   */
  readonly lifetimeInMs?: number | undefined;
}

/** How retry delays are randomised: `full` = `[0, d)`, `equal` = `[d/2, d)`. Defaults to `"equal"`. */
export type RetryJitter = "full" | "equal";

/** {@link RefreshOptions} with every default filled in. */
export interface RefreshPolicy {
  /** See {@link RefreshOptions.mustRefreshMarginInMs}. */
  readonly mustRefreshMarginInMs: number;
  /** See {@link RefreshOptions.refreshWindowInMs}. */
  readonly refreshWindowInMs: number;
  /** See {@link RefreshOptions.retryInitialDelayInMs}. */
  readonly retryInitialDelayInMs: number;
  /** See {@link RefreshOptions.retryMaxDelayInMs}. */
  readonly retryMaxDelayInMs: number;
  /** See {@link RefreshOptions.getTokenTimeoutInMs}. */
  readonly getTokenTimeoutInMs: number;
  /** See {@link RefreshOptions.retryJitter}. */
  readonly retryJitter: RetryJitter;
}

/**
 * The default refresh policy: must-refresh margin 2 min, refresh window 10 min, retries from 1 s
 * up to 60 s with equal jitter, 30 s timeout for a caller waiting on a fetch.
 *
 */
export const DEFAULT_REFRESH_POLICY: RefreshPolicy = Object.freeze({
  mustRefreshMarginInMs: 120_000,
  refreshWindowInMs: 600_000,
  retryInitialDelayInMs: 1_000,
  retryMaxDelayInMs: 60_000,
  getTokenTimeoutInMs: 30_000,
  retryJitter: "equal",
});

/** Smallest retry delay ever scheduled (50 ms), so that a failing or repeating credential cannot spin. */
export const MIN_RETRY_DELAY_IN_MS = 50;

const DURATION_KEYS = [
  "mustRefreshMarginInMs",
  "refreshWindowInMs",
  "retryInitialDelayInMs",
  "retryMaxDelayInMs",
  "getTokenTimeoutInMs",
] as const;

/**
 * Fills in the defaults of {@link RefreshOptions} and validates them (finite, non-negative;
 * `getTokenTimeoutInMs` > 0). Throws `EntraAuthError` code `INVALID_SETTING` otherwise.
 *
 * @example
 * ```ts
 * resolveRefreshPolicy({ refreshWindowInMs: 300_000 }).mustRefreshMarginInMs; // 120_000
 * ```
 *
 * Options not given take their values from {@link DEFAULT_REFRESH_POLICY}.
 */
export function resolveRefreshPolicy(options: RefreshOptions = {}): RefreshPolicy {
  const policy: Record<string, unknown> = { ...DEFAULT_REFRESH_POLICY };
  for (const key of DURATION_KEYS) {
    const value = options[key];
    if (value === undefined) continue;
    if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
      throw new EntraAuthError(
        "INVALID_SETTING",
        `Refresh option ${key} must be a non-negative number of milliseconds (got ${String(value)}).`,
      );
    }
    policy[key] = value;
  }
  if ((policy.getTokenTimeoutInMs as number) <= 0) {
    throw new EntraAuthError("INVALID_SETTING", "Refresh option getTokenTimeoutInMs must be greater than 0.");
  }
  if (options.retryJitter !== undefined) {
    if (options.retryJitter !== "full" && options.retryJitter !== "equal") {
      throw new EntraAuthError(
        "INVALID_SETTING",
        `Refresh option retryJitter must be "full" or "equal" (got ${String(options.retryJitter)}).`,
      );
    }
    policy.retryJitter = options.retryJitter;
  }
  if ((policy.retryMaxDelayInMs as number) < (policy.retryInitialDelayInMs as number)) {
    policy.retryMaxDelayInMs = policy.retryInitialDelayInMs;
  }
  return Object.freeze(policy as unknown as RefreshPolicy);
}

/** The token's lifetime: from its claims, else from when it was fetched to its expiry. */
export function lifetimeInMs(token: CachedToken): number {
  return Math.max(0, token.lifetimeInMs ?? token.expiresOnTimestamp - token.fetchedOnTimestamp);
}

/**
 * The must-refresh margin that applies to `token`: the policy's margin, capped at an eighth of the
 * token's lifetime (so a 4 s token gets at most 0.5 s, leaving room for a background refresh before
 * it). The lifetime is the token's own (`exp - iat`) when it says so, so a token that a credential
 * kept in its cache for most of its life does not get a smaller margin.
 *
 * It is `policy.mustRefreshMarginInMs` for tokens living at least eight times as long.
 */
export function effectiveMustRefreshMarginInMs(token: CachedToken, policy: RefreshPolicy): number {
  return Math.min(policy.mustRefreshMarginInMs, lifetimeInMs(token) / 8);
}

/**
 * The refresh window that applies to `token`: the policy's window, capped at a quarter of the
 * token's lifetime (about one fetch per lifetime for short-lived tokens), and never smaller than the
 * must-refresh margin.
 *
 * It is `policy.refreshWindowInMs` for tokens living at least four times as long.
 */
export function effectiveRefreshWindowInMs(token: CachedToken, policy: RefreshPolicy): number {
  const window = Math.min(policy.refreshWindowInMs, lifetimeInMs(token) / 4);
  return Math.max(window, effectiveMustRefreshMarginInMs(token, policy));
}

/**
 * True when `token` must not be handed out any more: it expires within the must-refresh margin
 * (see {@link effectiveMustRefreshMarginInMs}). Callers then wait for a new token.
 *
 * @example
 * ```ts
 * mustRefresh(token, Date.now(), resolveRefreshPolicy());
 * ```
 *
 * `true` for no token.
 */
export function mustRefresh(token: CachedToken | undefined, nowMs: number, policy: RefreshPolicy): boolean {
  if (!token) return true;
  return nowMs >= token.expiresOnTimestamp - effectiveMustRefreshMarginInMs(token, policy);
}

/**
 * True when a background refresh should start: the token is inside the refresh window
 * (see {@link effectiveRefreshWindowInMs}), past the credential's `refreshAfterTimestamp`, or
 * inside the must-refresh margin.
 *
 * `true` for no token.
 */
export function shouldRefresh(token: CachedToken | undefined, nowMs: number, policy: RefreshPolicy): boolean {
  if (!token) return true;
  return nowMs >= nextRefreshAt(token, policy);
}

/**
 * When the background refresh of `token` is due (epoch ms): the start of the refresh window, or
 * the credential's `refreshAfterTimestamp` if that comes first.
 *
 * @example
 * ```ts
 * clock.setTimeout(refresh, nextRefreshAt(token, policy) - clock.now());
 * ```
 *
 * It is the start of the refresh window when the token has no `refreshAfterTimestamp`.
 */
export function nextRefreshAt(token: CachedToken, policy: RefreshPolicy): number {
  const windowStart = token.expiresOnTimestamp - effectiveRefreshWindowInMs(token, policy);
  const after = token.refreshAfterTimestamp;
  return typeof after === "number" && Number.isFinite(after) ? Math.min(windowStart, after) : windowStart;
}

/**
 * Delay before retry number `attempt` (0-based) of a failed or fruitless refresh: capped
 * exponential backoff (`retryInitialDelayInMs * 2^attempt`, at most `retryMaxDelayInMs`) with
 * full or equal jitter. When the still-served `token` and `nowMs` are given, the delay is also
 * capped at a quarter of the time left before the token's must-refresh point, so short-lived
 * tokens are retried before they run out. Never below {@link MIN_RETRY_DELAY_IN_MS}.
 *
 * @example
 * ```ts
 * retryDelayInMs(3, policy, Math.random); // 4_000..8_000 with the defaults (equal jitter)
 * ```
 *
 * Without `token` or `nowMs` there is no lifetime cap.
 */
export function retryDelayInMs(
  attempt: number,
  policy: RefreshPolicy,
  random: () => number,
  token?: CachedToken,
  nowMs?: number,
): number {
  const exponent = Math.min(Math.max(0, Math.floor(attempt)), 52);
  const base = Math.min(policy.retryMaxDelayInMs, policy.retryInitialDelayInMs * 2 ** exponent);
  const r = Math.min(Math.max(random(), 0), 1);
  let delay = policy.retryJitter === "full" ? base * r : base / 2 + (base / 2) * r;
  if (token && nowMs !== undefined) {
    const mustRefreshAt = token.expiresOnTimestamp - effectiveMustRefreshMarginInMs(token, policy);
    delay = Math.min(delay, (mustRefreshAt - nowMs) / 4);
  }
  return Math.max(MIN_RETRY_DELAY_IN_MS, Math.floor(delay));
}

/**
 * Longest wait (1 s) between credential calls while no valid token is cached and callers are
 * waiting: at most two calls per second per provider during an outage, and connections succeed
 * within a second of the identity endpoint recovering. A `Retry-After` the endpoint sends wins.
 */
export const COLD_RETRY_MAX_DELAY_IN_MS = 1_000;

const RETRY_AFTER_HEADERS = ["retry-after-ms", "x-ms-retry-after-ms", "retry-after"] as const;

function headerValue(headers: unknown, name: string): string | undefined {
  if (!headers || typeof headers !== "object") return undefined;
  const withGet = headers as { get?: (name: string) => unknown };
  const value =
    typeof withGet.get === "function" ? withGet.get(name) : (headers as Record<string, unknown>)[name];
  if (typeof value === "string") return value;
  if (typeof value === "number") return String(value);
  return undefined;
}

function parseRetryAfter(name: string, value: string, nowMs: number): number | undefined {
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) {
    const number = Number(trimmed);
    return name === "retry-after" ? number * 1000 : number;
  }
  if (name !== "retry-after") return undefined;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs);
}

/**
 * How long the server asked to wait before the next call (ms), read from a credential's error:
 * a numeric `retryAfterInMs` / `retryAfterMs` property, or the `retry-after-ms`,
 * `x-ms-retry-after-ms` or `Retry-After` (seconds or HTTP date) header of its `response`, also in
 * its `cause` and in the `errors` of an aggregate error (as `DefaultAzureCredential` throws).
 *
 * @example
 * ```ts
 * retryAfterInMs({ response: { headers: { "retry-after": "3" } } }, Date.now()); // 3000
 * ```
 *
 * `undefined` when the error carries none.
 */
export function retryAfterInMs(error: unknown, nowMs: number): number | undefined {
  const seen = new Set<unknown>();
  const pending: unknown[] = [error];
  while (pending.length > 0 && seen.size < 20) {
    const current = pending.shift();
    if (!current || typeof current !== "object" || seen.has(current)) continue;
    seen.add(current);
    const record = current as Record<string, unknown>;
    for (const key of ["retryAfterInMs", "retryAfterMs"]) {
      const value = record[key];
      if (typeof value === "number" && Number.isFinite(value) && value >= 0) return value;
    }
    for (const headers of [(record.response as { headers?: unknown } | undefined)?.headers, record.headers]) {
      for (const name of RETRY_AFTER_HEADERS) {
        const value = headerValue(headers, name);
        const parsed = value === undefined ? undefined : parseRetryAfter(name, value, nowMs);
        if (parsed !== undefined) return parsed;
      }
    }
    pending.push(record.cause);
    if (Array.isArray(record.errors)) pending.push(...record.errors);
  }
  return undefined;
}

/**
 * The least time (4 min) a token must have left when it is embedded somewhere it cannot be
 * refreshed: `entraDatabaseUrl`, `entra-db url`, `env` and `token`. Pass it as
 * `getToken({ minimumValidityInMs })`. Four minutes, because MSAL and the Azure CLI hand out a
 * cached token until 5 minutes before it expires: asking for more could not always be met.
 */
export const EMBEDDED_TOKEN_MINIMUM_VALIDITY_IN_MS = 240_000;
