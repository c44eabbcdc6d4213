/**
 * Passwordless Microsoft Entra ID auth for mssql (node-mssql) on Azure SQL Database:
 * {@link withEntra} turns a `ConnectionPool` config or connection string into one whose every
 * pooled connection signs in with a current access token, with TDS 8 strict TLS.
 *
 * @packageDocumentation
 */
export type { EntraHealthReport, EntraOptions } from "@org/entra-core";
export { EntraAuthError, healthCheck, isEntraAuthError, warmUp } from "@org/entra-core";
export {
  createEntraTokenCredential,
  explainEntraError,
  holdWhileConnected,
  sessionExpiresSoon,
  trackSessionExpiry,
  watchEntraErrors,
} from "@org/tedious-entra";
export { type MssqlEntraConfig, type MssqlEntraResult, withEntra } from "./with-entra.js";
