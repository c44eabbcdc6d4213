/**
 * The shared Microsoft Entra token provider for passwordless connections to Azure Database for
 * PostgreSQL, Azure Database for MySQL and Azure SQL, and the settings, username, scope, error and
 * TLS helpers the `@org/*-entra` adapters are built on. You only need it yourself if you write an
 * adapter or want the token directly; the test helpers are in `@org/entra-core/testing`.
 *
 * `@mergeModuleWith <project>` puts these exports on the package's own page of the API reference
 * (docs/api/entra-core), next to the `testing` module, instead of on a separate `index` page.
 *
 * @module
 * @mergeModuleWith <project>
 */
export type { Clock } from "./clock.js";
export { systemClock } from "./clock.js";
export type { TokenEventOptions, TokenProviderOptions } from "./create-token-provider.js";
export { createTokenProvider, holdTokenProvider } from "./create-token-provider.js";
export { deriveUsername } from "./derive-username.js";
export type { EntraAuthErrorCode, EntraAuthErrorOptions } from "./entra-auth-error.js";
export { EntraAuthError, isEntraAuthError } from "./entra-auth-error.js";
export type { EntraOptions, RefreshOptions } from "./entra-options.js";
export type {
  EntraAccessToken,
  EntraTokenProvider,
  EntraTokenProviderStats,
  GetEntraTokenOptions,
} from "./entra-token-provider.js";
export { getSharedTokenProvider, resetSharedTokenProviders } from "./get-shared-token-provider.js";
export type { GuardMariadbStreamOptions, MariadbStreamOption } from "./guard-mariadb-stream.js";
export { guardMariadbStream } from "./guard-mariadb-stream.js";
export { healthCheck } from "./health-check.js";
export { logger, redactToken } from "./logger.js";
export type { ConnectionUrlLabel, ConnectionUrlParts } from "./parse-connection-url.js";
export { parseConnectionUrl } from "./parse-connection-url.js";
export type { ServerRejection } from "./react-to-server-rejection.js";
export { reactToServerRejection } from "./react-to-server-rejection.js";
export type { RetryJitter } from "./refresh-policy.js";
export { EMBEDDED_TOKEN_MINIMUM_VALIDITY_IN_MS } from "./refresh-policy.js";
export type { EntraTarget, EntraTargetFields } from "./resolve-entra-target.js";
export { resolveEntraTarget } from "./resolve-entra-target.js";
export type { ResolvedMariadbSsl } from "./resolve-mariadb-ssl.js";
export { resolveMariadbSsl } from "./resolve-mariadb-ssl.js";
export type { ResolvedSettings } from "./resolve-settings.js";
export { resolveSettings } from "./resolve-settings.js";
export type { ResolveUsernameInput } from "./resolve-username.js";
export { resolveUsername } from "./resolve-username.js";
export type { Engine } from "./scope-for.js";
export { scopeFor } from "./scope-for.js";
export type { ServerAuthErrorDescription } from "./server-auth-errors.js";
export { describeServerAuthError, shouldInvalidateToken } from "./server-auth-errors.js";
export type { AssertSecureTlsOptions, InspectTlsOptions, TlsFinding, TlsPeerSocket } from "./tls-policy.js";
export {
  assertSecureTls,
  inspectSqlEncryption,
  inspectTlsEnvironment,
  inspectTlsPeer,
  inspectTlsValue,
  secureSqlEncryption,
} from "./tls-policy.js";
export type {
  TokenErrorEvent,
  TokenErrorListener,
  TokenRefreshedEvent,
  TokenRefreshedListener,
} from "./token-events.js";
export type { EntraHealthReport, EntraHealthStatus, EntraTokenHealth } from "./token-health.js";
export type { WarmUpOptions } from "./warm-up.js";
export { warmUp } from "./warm-up.js";
