/**
 * Passwordless Microsoft Entra ID auth for Prisma 7: {@link createEntraAdapter} gives the driver
 * adapter (PostgreSQL, MySQL/MariaDB, SQL Server) that signs in with current access tokens, and
 * {@link entraDatabaseUrl} the URL with a token for migrations.
 *
 * @packageDocumentation
 */
export type { EntraHealthReport, EntraOptions } from "@org/entra-core";
export { EntraAuthError, healthCheck, isEntraAuthError, warmUp } from "@org/entra-core";
export { createEntraAdapter, type EntraAdapterConfig } from "./create-entra-adapter.js";
export { type EntraDatabaseUrlConfig, entraDatabaseUrl } from "./entra-database-url.js";
export {
  EntraMariaDbAdapter,
  EntraMariaDbAdapterFactory,
  type EntraMysqlAdapterConfig,
  type EntraMysqlAdapterStats,
  type PrismaMariaDbAdapterOptions,
} from "./entra-mariadb-adapter.js";
export {
  EntraMssqlAdapterFactory,
  type EntraSqlServerAdapterConfig,
  type PrismaMssqlOptions,
} from "./entra-mssql-adapter.js";
export {
  EntraPgAdapterFactory,
  type EntraPostgresAdapterConfig,
  type PrismaPgOptions,
} from "./entra-pg-adapter.js";
