/**
 * A local stand-in for Microsoft Entra managed identity and the Entra login of Azure Database for
 * PostgreSQL, Azure Database for MySQL and Azure SQL Database, for testing passwordless connections
 * on a laptop or in CI: {@link startEmulator} runs it all, and the servers it is made of can be
 * started on their own.
 *
 * @packageDocumentation
 */
export {
  authorizeLogin,
  authorizeSqlLogin,
  type LoginDecision,
  type LoginPolicy,
  type LoginRejectionReason,
  type LoginRequest,
  ossrdbmsResource,
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
  defaultIdentitySpec,
  type EmulatedIdentity,
  type IdentityLocation,
  type IdentitySpec,
  resolveIdentities,
} from "./resolve-identities.js";
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
  createCertificateAuthority,
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
export {
  principalNameOf,
  type TokenRejectionReason,
  type TokenValidationOptions,
  type TokenValidationResult,
  validateToken,
} from "./token-validation.js";
