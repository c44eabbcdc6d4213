import type { TokenCredential } from "@azure/core-auth";
import { DefaultAzureCredential } from "@azure/identity";
import { createTokenProvider, isTokenProviderClosed } from "./create-token-provider.js";
import type { EntraOptions } from "./entra-options.js";
import type { EntraTokenProvider } from "./entra-token-provider.js";
import { processRegistry } from "./process-registry.js";

function defaultCredentialFor(clientId: string | undefined): TokenCredential {
  const { defaultCredentials } = processRegistry();
  const key = clientId ?? "";
  let credential = defaultCredentials.get(key);
  if (!credential) {
    credential = new DefaultAzureCredential(clientId ? { managedIdentityClientId: clientId } : {});
    defaultCredentials.set(key, credential);
  }
  return credential;
}

/**
 * Returns the process-wide provider for (credential, scope), creating it on first use, so that
 * every pool connecting to the same server with the same identity shares one cached token. The
 * registry lives on `globalThis` under a `Symbol.for` key: the ESM and CommonJS builds, and two
 * installed copies of this package, share it.
 *
 * - `options.tokenProvider` is returned as is when given.
 * - `options.credential` is keyed by object identity (weakly held).
 * - Otherwise the key is `options.clientId`, with one lazily created
 *   `new DefaultAzureCredential({ managedIdentityClientId: clientId })` per client ID.
 *
 * Shared providers refresh ahead of expiry in the background only while something holds them
 * (`holdTokenProvider`: the adapters hold them for each open connection); a provider that nothing
 * uses stops calling the identity endpoint and is garbage-collected with its credential. The
 * refresh options of the FIRST call for a key win; `onTokenRefreshed` / `onTokenError` of every
 * call are added. Timers are `unref()`ed and never keep the process alive. A shared provider that
 * was closed is replaced on the next call.
 *
 * @example
 * ```ts
 * const provider = getSharedTokenProvider({ scope: scopeFor("postgresql", host), clientId });
 * const { token } = await provider.getToken();
 * ```
 *
 * The credential defaults to `DefaultAzureCredential` (system-assigned managed identity, or the developer's
 * sign-in) when neither `credential` nor `clientId` is given.
 */
export function getSharedTokenProvider(
  options: EntraOptions & { readonly scope: string },
): EntraTokenProvider {
  if (options.tokenProvider) return options.tokenProvider;
  const credential = options.credential ?? defaultCredentialFor(options.clientId || undefined);
  const registry = processRegistry();
  let byScope = registry.byCredential.get(credential);
  if (!byScope) {
    byScope = new Map();
    registry.byCredential.set(credential, byScope);
  }
  let provider = byScope.get(options.scope)?.deref();
  if (!provider || isTokenProviderClosed(provider)) {
    provider = createTokenProvider({
      credential,
      scope: options.scope,
      mustRefreshMarginInMs: options.mustRefreshMarginInMs,
      refreshWindowInMs: options.refreshWindowInMs,
      retryInitialDelayInMs: options.retryInitialDelayInMs,
      retryMaxDelayInMs: options.retryMaxDelayInMs,
      retryJitter: options.retryJitter,
      getTokenTimeoutInMs: options.getTokenTimeoutInMs,
      backgroundRefresh: "while-held",
    });
    byScope.set(options.scope, new WeakRef(provider));
    registry.shared.add(provider);
  }
  if (options.onTokenRefreshed || options.onTokenError) {
    registry.controls.get(provider)?.listen(options.onTokenRefreshed, options.onTokenError);
  }
  return provider;
}

/**
 * Closes and forgets every shared provider and default credential. For tests and hot reload;
 * providers handed out before keep rejecting with `PROVIDER_CLOSED`.
 *
 * @example
 * ```ts
 * afterEach(() => resetSharedTokenProviders());
 * ```
 *
 */
export function resetSharedTokenProviders(): void {
  const registry = processRegistry();
  for (const ref of registry.providers) {
    const provider = ref.deref();
    if (provider && registry.shared.has(provider)) provider.close();
  }
  registry.shared = new WeakSet();
  registry.byCredential = new WeakMap();
  registry.defaultCredentials = new Map();
}
