/**
 * A local stand-in for Microsoft Entra managed identity and the Entra login of Azure Database for
 * PostgreSQL, Azure Database for MySQL and Azure SQL Database, for testing passwordless connections
 * on a laptop or in CI: {@link startEmulator} runs it all, and the servers it is made of can be
 * started on their own. Integration tests against your own testcontainers databases:
 * `@org/entra-emulator/testcontainers`.
 *
 * `@mergeModuleWith <project>` puts these exports on the package's own page of the API reference
 * (docs/api/entra-emulator), next to the `testcontainers` module, instead of on a separate `index` page.
 *
 * @module
 * @mergeModuleWith <project>
 */
export {
  authorizeLogin,
  authorizeSqlLogin,
  type LoginDecision,
  type LoginPolicy,
  type LoginRejectionReason,
  type LoginRequest,
  ossrdbmsResource,
  type ServicePrincipalEntry,
  type SqlLoginDecision,
  type SqlLoginPolicy,
  type SqlLoginRequest,
  sqlDatabaseResource,
} from "./authorize-login.js";
export type { EmulatorEnv } from "./emulator-env.js";
export type {
  EmulatorMysqlOptions,
  EmulatorOptions,
  EmulatorPostgresOptions,
  EmulatorSqlServerOptions,
  ServicePrincipalCredential,
} from "./emulator-options.js";
export {
  type HostileEngine,
  type HostileLeak,
  type HostileMode,
  type HostilePersona,
  type HostileServer,
  type HostileServerOptions,
  type SecretPart,
  startHostileServer,
} from "./hostile/start-hostile-server.js";
export {
  type IdentityEndpoint,
  type IdentityEndpointCounters,
  type IdentityEndpointOptions,
  type IdentityFault,
  type IdentityProtocol,
  type IdentityRequestOutcome,
  startIdentityEndpoint,
} from "./identity-endpoint.js";
export type { DatabaseEngine, EngineLoginCounters } from "./login-tally.js";
export {
  DEFAULT_MYSQL_GATEWAY_LIMITS,
  type MysqlGateway,
  type MysqlGatewayLimits,
  type MysqlGatewayOptions,
  mysqlRejectionError,
  startMysqlGateway,
} from "./mysql/mysql-gateway.js";
export type { MysqlPersona } from "./mysql/mysql-persona.js";
export {
  defaultFederatedSubject,
  defaultIdentitySpec,
  type EmulatedIdentity,
  type FederatedCredentialSpec,
  federatedTokenAudience,
  type IdentityLocation,
  type IdentitySpec,
  type ResolvedFederatedCredential,
  resolveIdentities,
} from "./resolve-identities.js";
export type {
  ClientCertificateFileOptions,
  FederatedTokenFileOptions,
  FederatedTokenOptions,
} from "./service-principal-support.js";
export {
  type Emulator,
  type EmulatorCounters,
  type EmulatorMintOptions,
  startEmulator,
} from "./start-emulator.js";
export { SQL_FEDAUTH_SPN, sqlServerRejectionError } from "./tds/tds-login.js";
export {
  DEFAULT_SQLSERVER_ENDPOINT_LIMITS,
  type SqlServerEndpoint,
  type SqlServerEndpointLimits,
  type SqlServerEndpointOptions,
  startSqlServerEndpoint,
} from "./tds/tds-server.js";
export {
  type CertificateAuthority,
  type CertificateAuthorityOptions,
  type ClientCertificate,
  createCertificateAuthority,
  createClientCertificate,
  createTlsAuthority,
  type IssueCertificateOptions,
  type IssuedCertificate,
  type TlsAuthority,
  type TlsAuthorityOptions,
} from "./tls-authority.js";
export {
  createTokenIssuer,
  defaultTenantId,
  type JsonWebKey,
  type JsonWebKeySet,
  type MintedToken,
  type MintTokenOptions,
  type TokenIssuer,
  type TokenIssuerOptions,
} from "./token-issuer.js";
export { TokenRequestControl } from "./token-request-control.js";
export {
  principalNameOf,
  type TokenRejectionReason,
  type TokenValidationOptions,
  type TokenValidationResult,
  validateToken,
} from "./token-validation.js";
