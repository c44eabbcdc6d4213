import type { TokenCredential } from "@azure/core-auth";
import type { EntraTokenProvider } from "./entra-token-provider.js";

/**
 * The shared-provider registry's key on `globalThis`. `Symbol.for` makes it the same key in every
 * copy of this package in the process: the ESM and the CommonJS build (an ESM app with a CommonJS
 * knexfile, NestJS, Jest) and two installed copies at different versions. The suffix is the
 * registry's layout version, not the package version: bump it only when {@link ProcessRegistry} or
 * the {@link EntraTokenProvider} contract changes incompatibly (copies then keep separate caches
 * instead of handing each other providers they cannot use).
 */
export const PROCESS_REGISTRY_KEY: unique symbol = Symbol.for("@org/entra-core/process-registry/v1");

/** Everything that must exist once per process, whichever copy of the package loaded it. */
export interface ProcessRegistry {
  /** Shared providers keyed by credential object (weakly), then by scope. */
  byCredential: WeakMap<TokenCredential, Map<string, EntraTokenProvider>>;
  /** Lazily created default credentials, keyed by client ID ("" = system-assigned / developer sign-in). */
  defaultCredentials: Map<string, TokenCredential>;
  /** Every shared provider created, so that a reset can close them. */
  created: Set<WeakRef<EntraTokenProvider>>;
  /** Providers whose `close()` was called. */
  readonly closed: WeakSet<object>;
}

type RegistryHolder = { [PROCESS_REGISTRY_KEY]?: ProcessRegistry };

/** The process-wide registry, created by whichever copy of the package asks first. */
export function processRegistry(): ProcessRegistry {
  const holder = globalThis as RegistryHolder;
  let registry = holder[PROCESS_REGISTRY_KEY];
  if (!registry) {
    registry = {
      byCredential: new WeakMap(),
      defaultCredentials: new Map(),
      created: new Set(),
      closed: new WeakSet(),
    };
    Object.defineProperty(holder, PROCESS_REGISTRY_KEY, { value: registry, enumerable: false });
  }
  return registry;
}
