/** A token handed out by an {@link EntraTokenProvider}. */
export interface EntraAccessToken {
  /** The bearer token. Treat as a secret. */
  readonly token: string;
  /** Expiry, epoch milliseconds. */
  readonly expiresOnTimestamp: number;
}

/** Options for {@link EntraTokenProvider.getToken}. */
export interface GetEntraTokenOptions {
  /** Abort waiting (the shared fetch continues for other callers). */
  readonly abortSignal?: AbortSignal;
  /**
   * Skip the cache and fetch a new token, e.g. after the server rejected one as expired. Concurrent
   * forced calls still share one credential call. Defaults to `false`.
   */
  readonly forceRefresh?: boolean;
  /**
   * The token must stay valid at least this long (ms) after it is handed out, e.g. for a token
   * embedded in a connection URL: a cached token with less left is replaced by a fresh one. A
   * freshly fetched token shorter-lived than twice this minimum passes with half its lifetime left.
   * Defaults to 0 (only the must-refresh margin applies).
   */
  readonly minimumValidityInMs?: number;
}

/** Counters of an {@link EntraTokenProvider}; a snapshot each time it is read. */
export interface EntraTokenProviderStats {
  /** Calls to `credential.getToken`. */
  readonly credentialCalls: number;
  /** `getToken` calls answered from the cache without waiting. */
  readonly cacheHits: number;
  /** Background refreshes started. */
  readonly refreshes: number;
  /** Credential calls that failed. */
  readonly failures: number;
  /** Refreshes that returned the token already cached. */
  readonly sameTokenReturned: number;
  /** Current holds (open connections, pools) that keep a shared provider refreshing ahead. */
  readonly holds: number;
  /** Expiry of the cached token (epoch ms), or `undefined` when none is cached. */
  readonly expiresOnTimestamp: number | undefined;
}

/**
 * The contract adapters use: hands out a currently valid token, fetched once and shared,
 * refreshed ahead of expiry.
 */
export interface EntraTokenProvider {
  /** The scope tokens are requested for. */
  readonly scope: string;
  /** Resolves a token valid for at least the must-refresh margin, or rejects with `EntraAuthError`. */
  getToken(options?: GetEntraTokenOptions): Promise<EntraAccessToken>;
  /**
   * Drops the cached token so that the next `getToken` fetches a new one. With `token` (the one a
   * server rejected), only if it is still the cached one: a late rejection of an old token never
   * throws away a fresh one.
   */
  invalidate(token?: string): void;
  /** Counters. */
  readonly stats: EntraTokenProviderStats;
  /** Stops timers and rejects later calls. Idempotent. */
  close(): void;
}
