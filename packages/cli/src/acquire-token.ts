import type { TokenCredential } from "@azure/identity";
import { DefaultAzureCredential } from "@azure/identity";
import { createTokenProvider, type EntraAccessToken } from "@org/entra-core";
import type { CliIo, CreateCredentialOptions } from "./cli-io.js";

/**
 * The credential of `token`, `url` and `env`: `io.createCredential`, else
 * `DefaultAzureCredential` with `managedIdentityClientId` set to the client ID.
 *
 * Defaults to `DefaultAzureCredential`.
 */
export function createCredential(io: CliIo, options: CreateCredentialOptions): TokenCredential {
  if (io.createCredential) return io.createCredential(options);
  return options.clientId
    ? new DefaultAzureCredential({ managedIdentityClientId: options.clientId })
    : new DefaultAzureCredential();
}

/** Options for {@link acquireToken}. */
export interface AcquireTokenOptions extends CreateCredentialOptions {
  readonly scope: string;
  /** Give up after this long (`TOKEN_TIMEOUT`). Defaults to 30 000. */
  readonly timeoutInMs?: number | undefined;
}

/**
 * One token through core's provider (bounded time, typed `EntraAuthError` on failure, the token
 * never in a message). The provider is closed afterwards so nothing keeps the process alive.
 *
 * @example
 * ```ts
 * const { token, expiresOnTimestamp } = await acquireToken(io, { scope });
 * ```
 *
 * Defaults to a 30 s timeout.
 */
export async function acquireToken(io: CliIo, options: AcquireTokenOptions): Promise<EntraAccessToken> {
  const provider = createTokenProvider({
    credential: createCredential(io, { clientId: options.clientId }),
    scope: options.scope,
    getTokenTimeoutInMs: options.timeoutInMs ?? 30_000,
  });
  try {
    return await provider.getToken();
  } finally {
    provider.close();
  }
}
