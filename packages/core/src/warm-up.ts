import { EntraAuthError } from "./entra-auth-error.js";
import { liveProviders, processRegistry } from "./process-registry.js";

/** Options for {@link warmUp}. */
export interface WarmUpOptions {
  /** Stop waiting when it fires (fetches continue for the connections that need them). */
  readonly abortSignal?: AbortSignal;
  /**
   * Give up after this many milliseconds with `EntraAuthError` code `TOKEN_TIMEOUT`. Defaults to
   * no limit of its own: each provider's `getTokenTimeoutInMs` bounds its fetch.
   */
  readonly timeoutInMs?: number;
}

/**
 * Waits until every shared token provider of the process (those `withEntra` created) holds a
 * valid token, so that the first request after boot does not wait for the identity endpoint.
 * `withEntra` already starts each fetch when it is called; call this after creating your pools and
 * before accepting traffic (or from a readiness probe's start-up phase).
 *
 * @example
 * ```ts
 * const pool = new pg.Pool(withEntra({ host, database }));
 * await warmUp(); // throws EntraAuthError if no token can be had
 * app.listen(3000);
 * ```
 *
 * @throws EntraAuthError the first provider's failure (`CREDENTIAL_FAILED`, `TOKEN_TIMEOUT`,
 *   `ABORTED`). Resolves at once when no shared provider exists yet.
 */
export async function warmUp(options: WarmUpOptions = {}): Promise<void> {
  const { timeoutInMs } = options;
  if (timeoutInMs !== undefined && (typeof timeoutInMs !== "number" || !(timeoutInMs > 0))) {
    throw new EntraAuthError(
      "INVALID_SETTING",
      `warmUp timeoutInMs must be a positive number of milliseconds (got ${String(timeoutInMs)}).`,
    );
  }
  const registry = processRegistry();
  const providers = [...liveProviders()].filter(({ provider }) => registry.shared.has(provider));
  if (providers.length === 0) return;
  const signals = [
    options.abortSignal,
    timeoutInMs === undefined ? undefined : AbortSignal.timeout(timeoutInMs),
  ];
  const given = signals.filter((signal): signal is AbortSignal => signal !== undefined);
  const abortSignal = given.length === 0 ? undefined : given.length === 1 ? given[0] : AbortSignal.any(given);
  try {
    await Promise.all(providers.map(({ provider }) => provider.getToken({ abortSignal })));
  } catch (error) {
    const timedOut =
      abortSignal?.aborted && (abortSignal.reason as Error | undefined)?.name === "TimeoutError";
    if (timedOut && !options.abortSignal?.aborted) {
      throw new EntraAuthError("TOKEN_TIMEOUT", `warmUp got no token within ${timeoutInMs} ms.`, {
        hint: "Check the identity (see `entra-db doctor`), or raise timeoutInMs.",
        cause: error,
      });
    }
    throw error;
  }
}
