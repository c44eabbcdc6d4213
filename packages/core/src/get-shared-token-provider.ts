import type { TokenCredential } from "@azure/core-auth";
import { DefaultAzureCredential } from "@azure/identity";
import { createTokenProvider, isTokenProviderClosed } from "./create-token-provider.js";
import type { EntraOptions } from "./entra-options.js";
import type { EntraTokenProvider } from "./entra-token-provider.js";

/** Providers keyed by credential object, then by scope. */
let byCredential = new WeakMap<TokenCredential, Map<string, EntraTokenProvider>>();
/** Lazily created default credentials, keyed by client ID ("" = system-assigned / developer sign-in). */
let defaultCredentials = new Map<string, TokenCredential>();
/** Every shared provider created, so that {@link resetSharedTokenProviders} can close them. */
let created = new Set<WeakRef<EntraTokenProvider>>();

function defaultCredentialFor(clientId: string | undefined): TokenCredential {
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
 * every pool connecting to the same server with the same identity shares one cached token.
 *
 * - `options.tokenProvider` is returned as is when given.
 * - `options.credential` is keyed by object identity (weakly held).
 * - Otherwise the key is `options.clientId`, with one lazily created
 *   `new DefaultAzureCredential({ managedIdentityClientId: clientId })` per client ID.
 *
 * The refresh options of the FIRST call for a key win; later calls get the existing provider
 * unchanged. Shared providers use `unref()`ed timers and never keep the process alive. A shared
 * provider that was closed is replaced on the next call.
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
  let byScope = byCredential.get(credential);
  if (!byScope) {
    byScope = new Map();
    byCredential.set(credential, byScope);
  }
  const existing = byScope.get(options.scope);
  if (existing && !isTokenProviderClosed(existing)) return existing;
  const provider = createTokenProvider({
    credential,
    scope: options.scope,
    mustRefreshMarginInMs: options.mustRefreshMarginInMs,
    refreshWindowInMs: options.refreshWindowInMs,
    retryInitialDelayInMs: options.retryInitialDelayInMs,
    retryMaxDelayInMs: options.retryMaxDelayInMs,
    retryJitter: options.retryJitter,
    getTokenTimeoutInMs: options.getTokenTimeoutInMs,
  });
  byScope.set(options.scope, provider);
  created.add(new WeakRef(provider));
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
  for (const ref of created) ref.deref()?.close();
  created = new Set();
  byCredential = new WeakMap();
  defaultCredentials = new Map();
}
