import type { AccessToken, TokenCredential } from "@azure/core-auth";
import { type Clock, systemClock } from "./clock.js";
import { jwtLifetimeInMs } from "./decode-jwt-payload.js";
import { EntraAuthError, type EntraAuthErrorCode } from "./entra-auth-error.js";
import type { RefreshOptions } from "./entra-options.js";
import type { EntraAccessToken, EntraTokenProvider, GetEntraTokenOptions } from "./entra-token-provider.js";
import { logger, redactToken } from "./logger.js";
import { liveProviders, type ProviderControl, processRegistry } from "./process-registry.js";
import {
  type CachedToken,
  COLD_RETRY_MAX_DELAY_IN_MS,
  lifetimeInMs,
  mustRefresh,
  nextRefreshAt,
  resolveRefreshPolicy,
  retryAfterInMs,
  retryDelayInMs,
  shouldRefresh,
} from "./refresh-policy.js";
import { setTokenExpirySource, startTokenRequest } from "./telemetry.js";
import type { TokenErrorListener, TokenRefreshedListener } from "./token-events.js";
import type { EntraTokenHealth } from "./token-health.js";

/** Listeners for token events, accepted by {@link createTokenProvider} and every adapter's `withEntra`. */
export interface TokenEventOptions {
  /**
   * Called after each new token from the credential (not for answers from the cache). For apps
   * without OpenTelemetry; exceptions it throws are logged and ignored.
   */
  readonly onTokenRefreshed?: TokenRefreshedListener;
  /** Called after each failed credential call; exceptions it throws are logged and ignored. */
  readonly onTokenError?: TokenErrorListener;
}

/** Options for {@link createTokenProvider}; refresh options not given take the default refresh policy's values. */
export interface TokenProviderOptions extends RefreshOptions, TokenEventOptions {
  /** Where tokens come from, e.g. `new DefaultAzureCredential()`. Required. */
  readonly credential: TokenCredential;
  /** The scope to request, e.g. `https://ossrdbms-aad.database.windows.net/.default`. Required. */
  readonly scope: string;
  /** Time source and timers. Defaults to {@link systemClock}. */
  readonly clock?: Clock;
  /** Random numbers in `[0, 1)` for retry jitter. Defaults to `Math.random`. */
  readonly random?: () => number;
  /**
   * When the provider refreshes ahead of expiry in the background: `"always"`, or `"while-held"`:
   * only while something holds it ({@link holdTokenProvider}: an open connection, a pool), as the
   * shared providers of `getSharedTokenProvider` do. Without a background refresh, a caller that
   * finds the token inside the refresh window still gets it at once and starts the refresh.
   * Defaults to `"always"`.
   */
  readonly backgroundRefresh?: "always" | "while-held";
}

/** Longest delay Node timers accept. */
const MAX_TIMER_DELAY_IN_MS = 2_147_483_647;

/**
 * True once `close()` was called on a provider made by {@link createTokenProvider}. Internal.
 *
 * `false` for providers made elsewhere.
 */
export function isTokenProviderClosed(provider: EntraTokenProvider): boolean {
  return processRegistry().closed.has(provider);
}

/** For a credential that answered, but not with a usable token (typically a credential of your own). */
const ANSWER_HINT =
  "getToken() must resolve to { token, expiresOnTimestamp } with expiresOnTimestamp in epoch milliseconds " +
  "and in the future: check what your credential returns (seconds instead of milliseconds, a token cached " +
  "past its expiry) and this machine's clock.";

const CREDENTIAL_HINT =
  "On Azure, check that the managed identity is enabled (or the user-assigned identity is assigned) on this " +
  'resource and that clientId is the identity\'s client ID; locally, sign in with "az login".';

function credentialClassName(credential: TokenCredential): string {
  const name = (credential as { constructor?: { name?: unknown } }).constructor?.name;
  return typeof name === "string" && name !== "" && name !== "Object" ? name : "TokenCredential";
}

function errorText(error: unknown): string {
  const text = (error instanceof Error ? error.message || error.name : String(error)).trim();
  return /[.!?]$/.test(text) ? text : `${text}.`;
}

function unref(handle: unknown): unknown {
  (handle as { unref?: () => void } | undefined)?.unref?.();
  return handle;
}

function ref(handle: unknown): unknown {
  (handle as { ref?: () => void } | undefined)?.ref?.();
  return handle;
}

interface Fetch {
  readonly promise: Promise<EntraAccessToken>;
  cancel(error: EntraAuthError): void;
}

interface Gate {
  readonly promise: Promise<EntraAccessToken>;
  cancel(error: EntraAuthError): void;
}

/** The background refresh of each live provider, found through a weak reference only. */
const TICKS = new WeakMap<object, () => void>();

/**
 * A timer callback that holds its provider weakly: a pending refresh timer must not keep an
 * unused provider (and its credential) alive. Module-level so that it closes over `ref` only.
 */
function timerCallback(providerRef: WeakRef<object>): () => void {
  return () => {
    const provider = providerRef.deref();
    if (provider) TICKS.get(provider)?.();
  };
}

/** Clears the pending timer of a provider that was garbage-collected. */
const TIMER_FINALIZER = new FinalizationRegistry<{ clock: Clock; handle: unknown }>((box) => {
  if (box.handle !== undefined) box.clock.clearTimeout(box.handle);
});

let expirySourceSet = false;

/**
 * The live providers' expiries for the telemetry gauge. Module-level: a function created inside
 * `createTokenProvider` would keep the first provider's scope (and credential) alive for good.
 */
function* expirySource(): Generator<{
  scope: string;
  credential: string;
  expiresOnTimestamp: number | undefined;
}> {
  for (const { control } of liveProviders()) {
    yield {
      scope: control.scope,
      credential: control.credentialName,
      expiresOnTimestamp: control.expiresOnTimestamp(),
    };
  }
}

/**
 * Creates a token provider: one cached token per credential and scope, fetched once for any
 * number of concurrent callers, refreshed in the background before it expires, never handed out
 * inside the must-refresh margin. See the package README for the exact refresh rules.
 *
 * - When credential calls fail and no valid token is cached, callers share one retry schedule:
 *   the next call starts after a backoff with jitter (at most 1 s, or the `Retry-After` the
 *   credential's error carries), and callers that arrive meanwhile wait for it, each within
 *   `getTokenTimeoutInMs` and its own `abortSignal`.
 * - The provider holds its credential, not the other way round: a provider nothing references any
 *   more is garbage-collected with its credential, pending timers included.
 *
 * The token is kept in a closure: `util.inspect(provider)`, `JSON.stringify(provider)` and errors
 * never contain it. Timers are `unref()`ed. Most code should use `getSharedTokenProvider` instead.
 *
 * @example
 * ```ts
 * const provider = createTokenProvider({
 *   credential: new DefaultAzureCredential(),
 *   scope: "https://ossrdbms-aad.database.windows.net/.default",
 * });
 * const { token } = await provider.getToken();
 * ```
 *
 * Without `clock`, `random` or refresh options it uses {@link systemClock}, `Math.random` and the default refresh policy
 * (2 min must-refresh margin, 10 min refresh window, 1-60 s retries, 30 s timeout).
 */
export function createTokenProvider(options: TokenProviderOptions): EntraTokenProvider {
  const { credential, scope } = options;
  if (!credential || typeof credential.getToken !== "function") {
    throw new EntraAuthError(
      "INVALID_SETTING",
      "createTokenProvider needs a credential with a getToken method.",
    );
  }
  if (typeof scope !== "string" || scope.trim() === "") {
    throw new EntraAuthError("INVALID_SETTING", "createTokenProvider needs a non-empty scope.");
  }
  if (
    options.backgroundRefresh !== undefined &&
    options.backgroundRefresh !== "always" &&
    options.backgroundRefresh !== "while-held"
  ) {
    throw new EntraAuthError(
      "INVALID_SETTING",
      `backgroundRefresh must be "always" or "while-held" (got ${String(options.backgroundRefresh)}).`,
    );
  }
  const clock = options.clock ?? systemClock;
  const random = options.random ?? Math.random;
  const policy = resolveRefreshPolicy(options);
  // With no usable token, callers wait for the next attempt: keep that wait short, so that
  // connections succeed within a second of the identity endpoint recovering.
  const coldPolicy = Object.freeze({
    ...policy,
    retryMaxDelayInMs: Math.min(policy.retryMaxDelayInMs, COLD_RETRY_MAX_DELAY_IN_MS),
    retryInitialDelayInMs: Math.min(policy.retryInitialDelayInMs, COLD_RETRY_MAX_DELAY_IN_MS),
  });
  const whileHeld = options.backgroundRefresh === "while-held";
  const credentialName = credentialClassName(credential);
  const refreshedListeners = new Set<TokenRefreshedListener>();
  const errorListeners = new Set<TokenErrorListener>();
  if (options.onTokenRefreshed) refreshedListeners.add(options.onTokenRefreshed);
  if (options.onTokenError) errorListeners.add(options.onTokenError);

  /** The token handed out while it is outside the must-refresh margin. */
  let cached: CachedToken | undefined;
  /** The frozen object returned to callers for `cached`. */
  let handout: EntraAccessToken | undefined;
  /** The last token received (kept after invalidate) to detect a credential returning it again. */
  let previous: CachedToken | undefined;
  let inflight: Fetch | undefined;
  /** Callers waiting for the next attempt of the shared retry schedule. */
  let gate: Gate | undefined;
  const timerBox: { clock: Clock; handle: unknown } = { clock, handle: undefined };
  /** When the armed timer fires. */
  let timerAt = Number.POSITIVE_INFINITY;
  /** When the next background refresh (or retry) is due, armed or not. */
  let dueAt = Number.POSITIVE_INFINITY;
  let retryAttempt = 0;
  /** The shared retry schedule: no credential call starts before this time. */
  let nextAttemptAt = 0;
  /** The last failure since the last success. */
  let lastFailure: { readonly error: EntraAuthError; readonly text: string; readonly at: number } | undefined;
  let holds = 0;
  let closed = false;
  let self: WeakRef<object> | undefined;
  const counters = { credentialCalls: 0, cacheHits: 0, refreshes: 0, failures: 0, sameTokenReturned: 0 };

  const redact = (text: string): string => redactToken(redactToken(text, cached?.token), previous?.token);

  const closedError = (): EntraAuthError =>
    new EntraAuthError("PROVIDER_CLOSED", `The token provider for scope "${scope}" was closed.`, {
      hint: "Create a new provider (or stop using this one) after calling close().",
    });

  const refreshingAhead = (): boolean => !closed && (!whileHeld || holds > 0);

  function clearTimer(): void {
    if (timerBox.handle !== undefined) clock.clearTimeout(timerBox.handle);
    timerBox.handle = undefined;
    timerAt = Number.POSITIVE_INFINITY;
  }

  /** Arms the timer for {@link dueAt} while the provider refreshes ahead. */
  function armTimer(): void {
    clearTimer();
    if (!refreshingAhead() || dueAt === Number.POSITIVE_INFINITY || !self) return;
    const delay = Math.min(Math.max(0, dueAt - clock.now()), MAX_TIMER_DELAY_IN_MS);
    timerAt = dueAt;
    timerBox.handle = unref(clock.setTimeout(timerCallback(self), delay));
  }

  function dueAtTime(timestamp: number, why: string): void {
    dueAt = timestamp;
    armTimer();
    if (logger.verbose.enabled) {
      logger.verbose(
        `Token refresh for scope ${scope} ${why} in ${Math.max(0, timestamp - clock.now())} ms` +
          (timerAt === Number.POSITIVE_INFINITY ? " (when next used: nothing holds the provider)." : "."),
      );
    }
  }

  function notDue(): void {
    dueAt = Number.POSITIVE_INFINITY;
    clearTimer();
  }

  /** Moves the shared retry schedule after a failed or fruitless call; returns the delay. */
  function backOff(now: number, stillServing: CachedToken | undefined, error?: unknown): number {
    let delay = stillServing
      ? retryDelayInMs(retryAttempt, policy, random, stillServing, now)
      : retryDelayInMs(retryAttempt, coldPolicy, random);
    const asked = error === undefined ? undefined : retryAfterInMs(error, now);
    if (asked !== undefined) delay = Math.max(delay, Math.min(asked, policy.retryMaxDelayInMs));
    retryAttempt++;
    nextAttemptAt = now + delay;
    return delay;
  }

  function tick(): void {
    timerBox.handle = undefined;
    timerAt = Number.POSITIVE_INFINITY;
    if (closed || inflight || !cached) return;
    if (clock.now() < nextAttemptAt) {
      dueAtTime(nextAttemptAt, "waits for the retry schedule");
      return;
    }
    dueAt = Number.POSITIVE_INFINITY;
    counters.refreshes++;
    logger.verbose(`Refreshing the token for scope ${scope} in the background.`);
    startFetch(true);
  }

  function emitRefreshed(entry: CachedToken, startedAt: number, background: boolean): void {
    if (refreshedListeners.size === 0) return;
    const event = Object.freeze({
      scope,
      credential: credentialName,
      expiresOnTimestamp: entry.expiresOnTimestamp,
      durationInMs: Math.max(0, clock.now() - startedAt),
      background,
    });
    notify(refreshedListeners, event, "onTokenRefreshed");
  }

  function emitError(error: EntraAuthError, background: boolean, stillServing: boolean): void {
    if (errorListeners.size === 0) return;
    const event = Object.freeze({
      scope,
      credential: credentialName,
      error,
      background,
      stillServing,
      nextAttemptInMs: Math.max(0, nextAttemptAt - clock.now()),
    });
    notify(errorListeners, event, "onTokenError");
  }

  /** Calls each listener; one that throws is logged (redacted) and the others still run. */
  function notify<E>(listeners: ReadonlySet<(event: E) => void>, event: E, option: string): void {
    for (const listener of listeners) {
      try {
        listener(event);
      } catch (error) {
        logger.warning(`An ${option} listener threw: ${redact(errorText(error))}`);
      }
    }
  }

  function accept(
    answer: AccessToken | null | undefined,
    background: boolean,
    startedAt: number,
  ): EntraAccessToken {
    const now = clock.now();
    if (
      !answer ||
      typeof answer.token !== "string" ||
      answer.token === "" ||
      typeof answer.expiresOnTimestamp !== "number" ||
      !Number.isFinite(answer.expiresOnTimestamp)
    ) {
      throw fail("CREDENTIAL_FAILED", new Error("the credential returned no token"), background, ANSWER_HINT);
    }
    if (answer.expiresOnTimestamp <= now) {
      throw fail(
        "CREDENTIAL_FAILED",
        new Error("the credential returned a token that has already expired"),
        background,
        ANSWER_HINT,
      );
    }
    if (previous && answer.token === previous.token) {
      counters.sameTokenReturned++;
      const entry = previous;
      if (mustRefresh(entry, now, policy)) {
        throw fail(
          "CREDENTIAL_FAILED",
          new Error(
            `it returned the same token again, and that token expires in ${Math.round((entry.expiresOnTimestamp - now) / 1000)} s`,
          ),
          background,
          "The identity endpoint keeps serving a cached token; retry shortly.",
        );
      }
      cached = entry;
      handout ??= Object.freeze({ token: entry.token, expiresOnTimestamp: entry.expiresOnTimestamp });
      if (shouldRefresh(entry, now, policy)) {
        const delay = backOff(now, entry);
        dueAtTime(now + delay, `got the same token again; retry ${retryAttempt}`);
      } else {
        dueAtTime(nextRefreshAt(entry, policy), "scheduled");
      }
      return handout;
    }
    const entry: CachedToken = {
      token: answer.token,
      expiresOnTimestamp: answer.expiresOnTimestamp,
      refreshAfterTimestamp: answer.refreshAfterTimestamp,
      fetchedOnTimestamp: now,
      lifetimeInMs: jwtLifetimeInMs(answer.token),
    };
    cached = entry;
    previous = entry;
    handout = Object.freeze({ token: entry.token, expiresOnTimestamp: entry.expiresOnTimestamp });
    retryAttempt = 0;
    nextAttemptAt = 0;
    lastFailure = undefined;
    logger.info(
      `Got a token for scope ${scope} from ${credentialName}; expires at ${new Date(
        entry.expiresOnTimestamp,
      ).toISOString()} (in ${Math.round((entry.expiresOnTimestamp - now) / 1000)} s).`,
    );
    dueAtTime(nextRefreshAt(entry, policy), "scheduled");
    emitRefreshed(entry, startedAt, background);
    return handout;
  }

  function fail(
    code: EntraAuthErrorCode,
    error: unknown,
    background: boolean,
    hint = CREDENTIAL_HINT,
  ): EntraAuthError {
    if (closed) return closedError();
    counters.failures++;
    const now = clock.now();
    const detail = redact(errorText(error));
    const stillValid = cached !== undefined && !mustRefresh(cached, now, policy) ? cached : undefined;
    const delay = backOff(now, stillValid, error);
    logger.warning(
      `${credentialName} failed to get a token for scope ${scope}: ${detail}` +
        (stillValid ? " Still serving the cached token." : "") +
        ` Next attempt in ${delay} ms.`,
    );
    if (stillValid) dueAtTime(nextAttemptAt, `failed; retry ${retryAttempt}`);
    else notDue();
    let failure: EntraAuthError;
    let text: string;
    if (code === "TOKEN_TIMEOUT") {
      text = `${credentialName} did not return a token for scope "${scope}" within ${policy.getTokenTimeoutInMs} ms.`;
      failure = new EntraAuthError("TOKEN_TIMEOUT", text, {
        hint: `${CREDENTIAL_HINT} Raise getTokenTimeoutInMs if the identity endpoint is slow.`,
      });
    } else {
      const full = error instanceof Error ? `${error.message}\n${error.stack ?? ""}` : "";
      const cause = error instanceof Error && redact(full) === full ? error : new Error(detail);
      text = `${credentialName} could not get a token for scope "${scope}": ${detail}`;
      failure = new EntraAuthError("CREDENTIAL_FAILED", text, { hint, cause });
    }
    lastFailure = { error: failure, text, at: now };
    emitError(failure, background, stillValid !== undefined);
    return failure;
  }

  function startFetch(background: boolean): Fetch {
    counters.credentialCalls++;
    const startedAt = clock.now();
    const record = startTokenRequest({ scope, credential: credentialName, background });
    const controller = new AbortController();
    let cancel: (error: EntraAuthError) => void = () => {};
    const promise = new Promise<EntraAccessToken>((resolve, reject) => {
      let done = false;
      const finish = (settle: () => void): void => {
        if (done) return;
        done = true;
        clock.clearTimeout(timeout);
        if (inflight === fetch) inflight = undefined;
        settle();
      };
      const failed = (error: EntraAuthError): void => {
        record.fail({
          code: error.code,
          stillServing: cached !== undefined && !mustRefresh(cached, clock.now(), policy),
        });
        reject(error);
      };
      const timeout = unref(
        clock.setTimeout(
          () =>
            finish(() => {
              controller.abort();
              failed(fail("TOKEN_TIMEOUT", new Error("timed out"), background));
            }),
          policy.getTokenTimeoutInMs,
        ),
      );
      cancel = (error) =>
        finish(() => {
          controller.abort();
          failed(error);
        });
      let call: Promise<AccessToken | null>;
      try {
        call = Promise.resolve(credential.getToken(scope, { abortSignal: controller.signal }));
      } catch (error) {
        call = Promise.reject(error);
      }
      call.then(
        (answer) =>
          finish(() => {
            const before = previous;
            let token: EntraAccessToken;
            try {
              token = accept(answer, background, startedAt);
            } catch (error) {
              failed(error as EntraAuthError);
              return;
            }
            record.succeed({
              expiresOnTimestamp: token.expiresOnTimestamp,
              sameToken: before?.token === token.token,
            });
            resolve(token);
          }),
        (error: unknown) => finish(() => failed(fail("CREDENTIAL_FAILED", error, background))),
      );
    });
    // Background refreshes have no caller; their failures are handled above.
    promise.catch(() => {});
    const fetch: Fetch = { promise, cancel: (error) => cancel(error) };
    inflight = fetch;
    return fetch;
  }

  /** The error for a caller who would have to wait longer than it may for the next attempt. */
  function retryLaterError(waitInMs: number): EntraAuthError {
    const last = lastFailure;
    return new EntraAuthError(
      last?.error.code ?? "CREDENTIAL_FAILED",
      `${last?.text ?? `No token for scope "${scope}".`} The next attempt is in ${Math.ceil(waitInMs / 1000)} s (the identity endpoint asked to wait).`,
      { hint: last?.error.hint ?? CREDENTIAL_HINT, cause: last?.error },
    );
  }

  /** One credential call for every caller: the one in flight, the next scheduled one, or a new one. */
  function sharedFetch(now: number): Promise<EntraAccessToken> {
    if (inflight) return inflight.promise;
    if (gate) return gate.promise;
    if (now >= nextAttemptAt) return startFetch(false).promise;
    const wait = nextAttemptAt - now;
    if (wait > policy.getTokenTimeoutInMs) return Promise.reject(retryLaterError(wait));
    let handle: unknown;
    let rejectGate: (error: EntraAuthError) => void = () => {};
    const promise = new Promise<EntraAccessToken>((resolve, reject) => {
      rejectGate = reject;
      // Not unref()ed: callers are waiting for it, and it fires within a second or so.
      handle = ref(
        clock.setTimeout(() => {
          gate = undefined;
          if (closed) {
            reject(closedError());
            return;
          }
          (inflight ?? startFetch(false)).promise.then(resolve, reject);
        }, wait),
      );
    });
    promise.catch(() => {});
    const opened: Gate = {
      promise,
      cancel(error) {
        clock.clearTimeout(handle);
        rejectGate(error);
      },
    };
    gate = opened;
    logger.verbose(`Waiting ${wait} ms for the next attempt of the retry schedule for scope ${scope}.`);
    return promise;
  }

  function waitWithAbort(promise: Promise<EntraAccessToken>, signal: AbortSignal): Promise<EntraAccessToken> {
    return new Promise<EntraAccessToken>((resolve, reject) => {
      const onAbort = (): void =>
        reject(
          new EntraAuthError("ABORTED", `Waiting for a token for scope "${scope}" was aborted.`, {
            cause: signal.reason,
          }),
        );
      signal.addEventListener("abort", onAbort, { once: true });
      promise.then(
        (value) => {
          signal.removeEventListener("abort", onAbort);
          resolve(value);
        },
        (error: unknown) => {
          signal.removeEventListener("abort", onAbort);
          reject(error);
        },
      );
    });
  }

  /** Rejects a token with less than the caller's minimum left, unless it is a fresh short-lived one. */
  function checkMinimum(token: EntraAccessToken, minimumInMs: number): EntraAccessToken {
    const now = clock.now();
    const left = token.expiresOnTimestamp - now;
    const entry = cached?.token === token.token ? cached : undefined;
    const lifetime = entry ? lifetimeInMs(entry) : left;
    if (left >= Math.min(minimumInMs, lifetime / 2)) return token;
    throw new EntraAuthError(
      "CREDENTIAL_FAILED",
      `${credentialName} returned a token for scope "${scope}" that expires in ${Math.round(left / 1000)} s; at least ${Math.round(minimumInMs / 1000)} s are needed here.`,
      { hint: "The credential serves a cached token close to its expiry; retry in a few minutes." },
    );
  }

  function getToken(getOptions: GetEntraTokenOptions = {}): Promise<EntraAccessToken> {
    if (closed) return Promise.reject(closedError());
    const signal = getOptions.abortSignal;
    if (signal?.aborted) {
      return Promise.reject(
        new EntraAuthError("ABORTED", `Waiting for a token for scope "${scope}" was aborted.`, {
          cause: signal.reason,
        }),
      );
    }
    const minimum = getOptions.minimumValidityInMs ?? 0;
    if (typeof minimum !== "number" || !Number.isFinite(minimum) || minimum < 0) {
      return Promise.reject(
        new EntraAuthError(
          "INVALID_SETTING",
          `minimumValidityInMs must be a non-negative number of milliseconds (got ${String(minimum)}).`,
        ),
      );
    }
    const now = clock.now();
    if (!getOptions.forceRefresh && cached !== undefined && handout !== undefined) {
      if (!mustRefresh(cached, now, policy) && cached.expiresOnTimestamp - now >= minimum) {
        counters.cacheHits++;
        // The refresh is due (the timer is late, or nothing holds the provider): start it now.
        if (now >= dueAt && !inflight) {
          clearTimer();
          tick();
        }
        return Promise.resolve(handout);
      }
      logger.verbose(
        `The cached token for scope ${scope} is inside the must-refresh margin (or too short for this caller); waiting for a new one.`,
      );
    }
    let promise = sharedFetch(now);
    if (minimum > 0) promise = promise.then((token) => checkMinimum(token, minimum));
    return signal ? waitWithAbort(promise, signal) : promise;
  }

  function health(): EntraTokenHealth {
    const now = clock.now();
    const usable = cached !== undefined && !mustRefresh(cached, now, policy);
    const last = lastFailure;
    const base = {
      scope,
      credential: credentialName,
      expiresOnTimestamp: cached?.expiresOnTimestamp,
      ...(last
        ? {
            lastError: Object.freeze({
              code: last.error.code,
              message: last.error.message,
              atTimestamp: last.at,
            }),
          }
        : {}),
    };
    const seconds = (until: number): number => Math.max(0, Math.round((until - now) / 1000));
    if (usable && cached) {
      if (last) {
        return Object.freeze({
          ...base,
          status: "degraded",
          reason: `Refreshing the token for ${scope} fails since ${new Date(last.at).toISOString()} (${last.error.code}); the cached token expires in ${seconds(cached.expiresOnTimestamp)} s.`,
        });
      }
      return Object.freeze({
        ...base,
        status: "healthy",
        reason: `A token for ${scope} is cached; it expires in ${seconds(cached.expiresOnTimestamp)} s.`,
      });
    }
    if (last) {
      return Object.freeze({
        ...base,
        status: "unhealthy",
        reason: `No valid token for ${scope}: ${last.error.message}`,
      });
    }
    if (inflight || gate) {
      return Object.freeze({ ...base, status: "degraded", reason: `Fetching a token for ${scope}.` });
    }
    return Object.freeze({
      ...base,
      status: "healthy",
      reason: `No token for ${scope} is cached; the next connection fetches one.`,
    });
  }

  const provider: EntraTokenProvider = {
    scope,
    getToken,
    invalidate(token?: string): void {
      if (token !== undefined && cached?.token !== token) return;
      cached = undefined;
      handout = undefined;
      retryAttempt = 0;
      notDue();
    },
    get stats() {
      return Object.freeze({ ...counters, holds, expiresOnTimestamp: cached?.expiresOnTimestamp });
    },
    close(): void {
      if (closed) return;
      closed = true;
      processRegistry().closed.add(provider);
      clearTimer();
      dueAt = Number.POSITIVE_INFINITY;
      cached = undefined;
      handout = undefined;
      previous = undefined;
      lastFailure = undefined;
      inflight?.cancel(closedError());
      inflight = undefined;
      gate?.cancel(closedError());
      gate = undefined;
    },
  };
  Object.freeze(provider);

  const control: ProviderControl = Object.freeze({
    scope,
    credentialName,
    hold(): void {
      holds++;
      if (holds === 1 && whileHeld) armTimer();
    },
    release(): void {
      if (holds > 0) holds--;
      if (holds === 0 && whileHeld) clearTimer();
    },
    listen(onRefreshed?: TokenRefreshedListener, onError?: TokenErrorListener): void {
      if (onRefreshed) refreshedListeners.add(onRefreshed);
      if (onError) errorListeners.add(onError);
    },
    health,
    expiresOnTimestamp: () => cached?.expiresOnTimestamp,
  });
  self = new WeakRef(provider);
  TICKS.set(provider, tick);
  TIMER_FINALIZER.register(provider, timerBox);
  const registry = processRegistry();
  registry.controls.set(provider, control);
  registry.providers.add(self as WeakRef<EntraTokenProvider>);
  registry.forget.register(provider, self as WeakRef<EntraTokenProvider>);
  if (!expirySourceSet) {
    expirySourceSet = true;
    setTokenExpirySource(expirySource);
  }
  return provider;
}

/** Keeps holding until released; `undefined` once released. */
interface Hold {
  control: ProviderControl | undefined;
}

const HOLD_FINALIZER = new FinalizationRegistry<Hold>((hold) => {
  hold.control?.release();
  hold.control = undefined;
});

/**
 * Marks `provider` as in use by `owner` (a connection, a pool, a config's credential): a shared
 * provider refreshes ahead of expiry in the background only while something holds it, so that
 * providers of pools that ended stop calling the identity endpoint and can be garbage-collected.
 * The hold ends when the returned function is called (idempotent) or when `owner` is
 * garbage-collected, whichever comes first. Adapters call it; apps do not need to.
 *
 * @example
 * ```ts
 * const release = holdTokenProvider(target.provider, client);
 * client.connection.once("end", release);
 * ```
 *
 * @returns The release function. A no-op for providers not made by {@link createTokenProvider}.
 */
export function holdTokenProvider(provider: EntraTokenProvider, owner: object): () => void {
  const control = processRegistry().controls.get(provider);
  if (!control) return () => {};
  const hold: Hold = { control };
  control.hold();
  HOLD_FINALIZER.register(owner, hold, hold);
  return () => {
    if (!hold.control) return;
    HOLD_FINALIZER.unregister(hold);
    hold.control.release();
    hold.control = undefined;
  };
}
