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
  /** Drops the cached token so that the next `getToken` fetches a new one. */
  invalidate(): void;
  /** Counters. */
  readonly stats: EntraTokenProviderStats;
  /** Stops timers and rejects later calls. Idempotent. */
  close(): void;
}
