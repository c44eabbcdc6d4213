import type { TokenCredential } from "@azure/core-auth";
import type { EntraTokenProvider } from "./entra-token-provider.js";
import type { TokenErrorListener, TokenRefreshedListener } from "./token-events.js";
import type { EntraTokenHealth } from "./token-health.js";

/**
 * The shared-provider registry's key on `globalThis`. `Symbol.for` makes it the same key in every
 * copy of this package in the process: the ESM and the CommonJS build (an ESM app with a CommonJS
 * knexfile, NestJS, Jest) and two installed copies at different versions. The suffix is the
 * registry's layout version, not the package version: bump it only when {@link ProcessRegistry},
 * {@link ProviderControl} or the {@link EntraTokenProvider} contract changes incompatibly (copies
 * then keep separate caches instead of handing each other providers they cannot use).
 */
export const PROCESS_REGISTRY_KEY: unique symbol = Symbol.for("@org/entra-core/process-registry/v2");

/**
 * What a provider made by `createTokenProvider` (in any copy of the package) exposes to the rest
 * of the package through the registry, beside its public contract.
 */
export interface ProviderControl {
  /** The scope the provider serves. */
  readonly scope: string;
  /** The credential's class name, for health reports and telemetry. */
  readonly credentialName: string;
  /** One more user of the provider: refresh ahead in the background while any is left. */
  hold(): void;
  /** One user less. */
  release(): void;
  /** Adds event listeners (a listener added twice is called once). */
  listen(onRefreshed?: TokenRefreshedListener, onError?: TokenErrorListener): void;
  /** The provider's state for a readiness probe. */
  health(): EntraTokenHealth;
  /** The cached token's expiry, `undefined` when none is cached. */
  expiresOnTimestamp(): number | undefined;
}

/** Everything that must exist once per process, whichever copy of the package loaded it. */
export interface ProcessRegistry {
  /** Shared providers keyed by credential object (weakly), then by scope; held weakly. */
  byCredential: WeakMap<TokenCredential, Map<string, WeakRef<EntraTokenProvider>>>;
  /** Lazily created default credentials, keyed by client ID ("" = system-assigned / developer sign-in). */
  defaultCredentials: Map<string, TokenCredential>;
  /** Every provider made by `createTokenProvider` that is still alive (pruned as they are collected). */
  readonly providers: Set<WeakRef<EntraTokenProvider>>;
  /** Drops a collected provider's entry from {@link providers}. */
  readonly forget: FinalizationRegistry<WeakRef<EntraTokenProvider>>;
  /** The providers `getSharedTokenProvider` made, for `resetSharedTokenProviders`. */
  shared: WeakSet<object>;
  /** Providers whose `close()` was called. */
  readonly closed: WeakSet<object>;
  /** The {@link ProviderControl} of each provider made by `createTokenProvider`. */
  readonly controls: WeakMap<object, ProviderControl>;
}

type RegistryHolder = { [PROCESS_REGISTRY_KEY]?: ProcessRegistry };

/** The process-wide registry, created by whichever copy of the package asks first. */
export function processRegistry(): ProcessRegistry {
  const holder = globalThis as RegistryHolder;
  let registry = holder[PROCESS_REGISTRY_KEY];
  if (!registry) {
    const providers = new Set<WeakRef<EntraTokenProvider>>();
    registry = {
      byCredential: new WeakMap(),
      defaultCredentials: new Map(),
      providers,
      forget: new FinalizationRegistry((ref) => providers.delete(ref)),
      shared: new WeakSet(),
      closed: new WeakSet(),
      controls: new WeakMap(),
    };
    Object.defineProperty(holder, PROCESS_REGISTRY_KEY, { value: registry, enumerable: false });
  }
  return registry;
}

/** The live providers of the process that were not closed, with their controls. */
export function* liveProviders(): Generator<{ provider: EntraTokenProvider; control: ProviderControl }> {
  const registry = processRegistry();
  for (const ref of registry.providers) {
    const provider = ref.deref();
    if (!provider || registry.closed.has(provider)) continue;
    const control = registry.controls.get(provider);
    if (control) yield { provider, control };
  }
}
