import type { AccessToken, TokenCredential } from "@azure/core-auth";
import { type Clock, systemClock } from "./clock.js";
import { EntraAuthError, type EntraAuthErrorCode } from "./entra-auth-error.js";
import type { RefreshOptions } from "./entra-options.js";
import type { EntraAccessToken, EntraTokenProvider, GetEntraTokenOptions } from "./entra-token-provider.js";
import { logger, redactToken } from "./logger.js";
import { processRegistry } from "./process-registry.js";
import {
  type CachedToken,
  mustRefresh,
  nextRefreshAt,
  resolveRefreshPolicy,
  retryDelayInMs,
  shouldRefresh,
} from "./refresh-policy.js";

/** Options for {@link createTokenProvider}; refresh options not given take the default refresh policy's values. */
export interface TokenProviderOptions extends RefreshOptions {
  /** Where tokens come from, e.g. `new DefaultAzureCredential()`. Required. */
  readonly credential: TokenCredential;
  /** The scope to request, e.g. `https://ossrdbms-aad.database.windows.net/.default`. Required. */
  readonly scope: string;
  /** Time source and timers. Defaults to {@link systemClock}. */
  readonly clock?: Clock;
  /** Random numbers in `[0, 1)` for retry jitter. Defaults to `Math.random`. */
  readonly random?: () => number;
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

interface Fetch {
  readonly promise: Promise<EntraAccessToken>;
  cancel(error: EntraAuthError): void;
}

/**
 * Creates a token provider: one cached token per credential and scope, fetched once for any
 * number of concurrent callers, refreshed in the background before it expires, never handed out
 * inside the must-refresh margin. See the package README for the exact refresh rules.
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
  const clock = options.clock ?? systemClock;
  const random = options.random ?? Math.random;
  const policy = resolveRefreshPolicy(options);
  const credentialName = credentialClassName(credential);

  /** The token handed out while it is outside the must-refresh margin. */
  let cached: CachedToken | undefined;
  /** The frozen object returned to callers for `cached`. */
  let handout: EntraAccessToken | undefined;
  /** The last token received (kept after invalidate) to detect a credential returning it again. */
  let previous: CachedToken | undefined;
  let inflight: Fetch | undefined;
  let timer: unknown;
  let timerAt = Number.POSITIVE_INFINITY;
  let retryAttempt = 0;
  let closed = false;
  const counters = { credentialCalls: 0, cacheHits: 0, refreshes: 0, failures: 0, sameTokenReturned: 0 };

  const redact = (text: string): string => redactToken(redactToken(text, cached?.token), previous?.token);

  const closedError = (): EntraAuthError =>
    new EntraAuthError("PROVIDER_CLOSED", `The token provider for scope "${scope}" was closed.`, {
      hint: "Create a new provider (or stop using this one) after calling close().",
    });

  function clearTimer(): void {
    if (timer !== undefined) clock.clearTimeout(timer);
    timer = undefined;
    timerAt = Number.POSITIVE_INFINITY;
  }

  function scheduleAt(timestamp: number, why: string): void {
    clearTimer();
    if (closed) return;
    const delay = Math.min(Math.max(0, timestamp - clock.now()), MAX_TIMER_DELAY_IN_MS);
    timerAt = timestamp;
    timer = unref(clock.setTimeout(runRefresh, delay));
    if (logger.verbose.enabled) logger.verbose(`Token refresh for scope ${scope} ${why} in ${delay} ms.`);
  }

  function scheduleRetry(token: CachedToken, now: number, why: string): void {
    const delay = retryDelayInMs(retryAttempt, policy, random, token, now);
    retryAttempt++;
    scheduleAt(now + delay, `${why}; retry ${retryAttempt}`);
  }

  function runRefresh(): void {
    timer = undefined;
    timerAt = Number.POSITIVE_INFINITY;
    if (closed || inflight || !cached) return;
    counters.refreshes++;
    logger.verbose(`Refreshing the token for scope ${scope} in the background.`);
    startFetch();
  }

  function accept(answer: AccessToken | null | undefined): EntraAccessToken {
    const now = clock.now();
    if (
      !answer ||
      typeof answer.token !== "string" ||
      answer.token === "" ||
      typeof answer.expiresOnTimestamp !== "number" ||
      !Number.isFinite(answer.expiresOnTimestamp)
    ) {
      throw fail("CREDENTIAL_FAILED", new Error("the credential returned no token"), ANSWER_HINT);
    }
    if (answer.expiresOnTimestamp <= now) {
      throw fail(
        "CREDENTIAL_FAILED",
        new Error("the credential returned a token that has already expired"),
        ANSWER_HINT,
      );
    }
    if (previous && answer.token === previous.token) {
      counters.sameTokenReturned++;
      const entry = previous;
      if (mustRefresh(entry, now, policy)) {
        clearTimer();
        throw new EntraAuthError(
          "CREDENTIAL_FAILED",
          `${credentialName} returned the same token again for scope "${scope}", and it expires in ${Math.round(
            (entry.expiresOnTimestamp - now) / 1000,
          )} s.`,
          { hint: "The identity endpoint keeps serving a cached token; retry shortly." },
        );
      }
      cached = entry;
      handout ??= Object.freeze({ token: entry.token, expiresOnTimestamp: entry.expiresOnTimestamp });
      if (shouldRefresh(entry, now, policy)) scheduleRetry(entry, now, "got the same token again");
      else scheduleAt(nextRefreshAt(entry, policy), "scheduled");
      return handout;
    }
    const entry: CachedToken = {
      token: answer.token,
      expiresOnTimestamp: answer.expiresOnTimestamp,
      refreshAfterTimestamp: answer.refreshAfterTimestamp,
      fetchedOnTimestamp: now,
    };
    cached = entry;
    previous = entry;
    handout = Object.freeze({ token: entry.token, expiresOnTimestamp: entry.expiresOnTimestamp });
    retryAttempt = 0;
    logger.info(
      `Got a token for scope ${scope} from ${credentialName}; expires at ${new Date(
        entry.expiresOnTimestamp,
      ).toISOString()} (in ${Math.round((entry.expiresOnTimestamp - now) / 1000)} s).`,
    );
    scheduleAt(nextRefreshAt(entry, policy), "scheduled");
    return handout;
  }

  function fail(code: EntraAuthErrorCode, error: unknown, hint = CREDENTIAL_HINT): EntraAuthError {
    if (closed) return closedError();
    counters.failures++;
    const now = clock.now();
    const detail = redact(errorText(error));
    const stillValid = cached !== undefined && !mustRefresh(cached, now, policy);
    logger.warning(
      `${credentialName} failed to get a token for scope ${scope}: ${detail}` +
        (stillValid ? " Still serving the cached token." : ""),
    );
    if (cached && stillValid) scheduleRetry(cached, now, "failed");
    else clearTimer();
    if (code === "TOKEN_TIMEOUT") {
      return new EntraAuthError(
        "TOKEN_TIMEOUT",
        `${credentialName} did not return a token for scope "${scope}" within ${policy.getTokenTimeoutInMs} ms.`,
        { hint: `${CREDENTIAL_HINT} Raise getTokenTimeoutInMs if the identity endpoint is slow.` },
      );
    }
    const text = error instanceof Error ? `${error.message}\n${error.stack ?? ""}` : "";
    const cause = error instanceof Error && redact(text) === text ? error : new Error(detail);
    return new EntraAuthError(
      "CREDENTIAL_FAILED",
      `${credentialName} could not get a token for scope "${scope}": ${detail}`,
      { hint, cause },
    );
  }

  function startFetch(): Fetch {
    counters.credentialCalls++;
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
      const timeout = unref(
        clock.setTimeout(
          () =>
            finish(() => {
              controller.abort();
              reject(fail("TOKEN_TIMEOUT", new Error("timed out")));
            }),
          policy.getTokenTimeoutInMs,
        ),
      );
      cancel = (error) =>
        finish(() => {
          controller.abort();
          reject(error);
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
            try {
              resolve(accept(answer));
            } catch (error) {
              reject(error);
            }
          }),
        (error: unknown) => finish(() => reject(fail("CREDENTIAL_FAILED", error))),
      );
    });
    // Background refreshes have no caller; their failures are handled above.
    promise.catch(() => {});
    const fetch: Fetch = { promise, cancel: (error) => cancel(error) };
    inflight = fetch;
    return fetch;
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
    if (!getOptions.forceRefresh && cached !== undefined && handout !== undefined) {
      const now = clock.now();
      if (!mustRefresh(cached, now, policy)) {
        counters.cacheHits++;
        // The refresh timer may be late (suspended process, fake clock): start the refresh now.
        if (now >= timerAt && !inflight) {
          clearTimer();
          runRefresh();
        }
        return Promise.resolve(handout);
      }
      logger.verbose(
        `The cached token for scope ${scope} is inside the must-refresh margin; waiting for a new one.`,
      );
    }
    const fetch = inflight ?? startFetch();
    return signal ? waitWithAbort(fetch.promise, signal) : fetch.promise;
  }

  const provider: EntraTokenProvider = {
    scope,
    getToken,
    invalidate(): void {
      cached = undefined;
      handout = undefined;
      retryAttempt = 0;
      clearTimer();
    },
    get stats() {
      return Object.freeze({ ...counters, expiresOnTimestamp: cached?.expiresOnTimestamp });
    },
    close(): void {
      if (closed) return;
      closed = true;
      processRegistry().closed.add(provider);
      clearTimer();
      cached = undefined;
      handout = undefined;
      previous = undefined;
      inflight?.cancel(closedError());
      inflight = undefined;
    },
  };
  return Object.freeze(provider);
}
