import type { TokenCredential } from "@azure/identity";
import { DefaultAzureCredential } from "@azure/identity";
import {
  createTokenProvider,
  EMBEDDED_TOKEN_MINIMUM_VALIDITY_IN_MS,
  type EntraAccessToken,
} from "@org/entra-core";
import type { CliIo, CreateCredentialOptions } from "./cli-io.js";
import { parseTimeout } from "./command-options.js";

/**
 * The credential of `token`, `url` and `env`: `io.createCredential`, else
 * `DefaultAzureCredential` with `managedIdentityClientId` set to the client ID.
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
  /** The `--timeout` flag: seconds before giving up (`TOKEN_TIMEOUT`). Defaults to 30 s. */
  readonly timeout?: string | undefined;
}

/**
 * One token through core's provider (bounded time, typed `EntraAuthError` on failure, the token
 * never in a message), with at least `EMBEDDED_TOKEN_MINIMUM_VALIDITY_IN_MS` (4 min) left: what
 * the commands print cannot be refreshed. The provider is closed afterwards so nothing keeps the process alive.
 * Throws `EntraAuthError` `INVALID_SETTING` for a `timeout` that is not a positive number.
 *
 * @example
 * ```ts
 * const { token, expiresOnTimestamp } = await acquireToken(io, { scope, timeout: flags.timeout });
 * ```
 */
export async function acquireToken(io: CliIo, options: AcquireTokenOptions): Promise<EntraAccessToken> {
  const getTokenTimeoutInMs = parseTimeout(options.timeout, 30_000);
  const provider = createTokenProvider({
    credential: createCredential(io, { clientId: options.clientId }),
    scope: options.scope,
    getTokenTimeoutInMs,
  });
  try {
    return await provider.getToken({ minimumValidityInMs: EMBEDDED_TOKEN_MINIMUM_VALIDITY_IN_MS });
  } finally {
    provider.close();
  }
}
