/**
 * Passwordless Microsoft Entra ID auth for tedious on Azure SQL Database: {@link withEntra} sets a
 * `token-credential` authentication whose credential hands tedious a cached, refreshed access
 * token at every login, with TDS 8 strict TLS.
 *
 * @packageDocumentation
 */
export type { EntraHealthReport, EntraOptions } from "@org/entra-core";
export { EntraAuthError, healthCheck, isEntraAuthError, warmUp } from "@org/entra-core";
export { createEntraAuthentication, type EntraAuthentication } from "./create-entra-authentication.js";
export {
  createEntraTokenCredential,
  EntraTokenCredential,
  type EntraTokenCredentialOptions,
  isEntraTokenCredential,
} from "./entra-token-credential.js";
export {
  type EntraErrorSource,
  explainEntraError,
  SESSION_TOKEN_EXPIRED,
  type WatchableConnection,
  type WatchEntraErrorsOptions,
  watchEntraErrors,
} from "./explain-entra-error.js";
export { type HoldableConnection, holdWhileConnected } from "./hold-while-connected.js";
export {
  SESSION_RETIRE_MARGIN_IN_MS,
  type SessionExpiryConnection,
  type SessionExpiryOptions,
  sessionExpiresSoon,
  sessionTokenExpiresOn,
  trackSessionExpiry,
} from "./session-expiry.js";
export { type TediousEntraConfig, type TediousEntraResult, withEntra } from "./with-entra.js";
