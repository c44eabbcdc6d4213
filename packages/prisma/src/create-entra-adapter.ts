import { EntraAuthError, type EntraOptions } from "@org/entra-core";
import {
  createEntraMariaDbAdapter,
  type EntraMariaDbAdapterFactory,
  type EntraMysqlAdapterConfig,
} from "./entra-mariadb-adapter.js";
import {
  createEntraMssqlAdapter,
  type EntraMssqlAdapterFactory,
  type EntraSqlServerAdapterConfig,
} from "./entra-mssql-adapter.js";
import {
  createEntraPgAdapter,
  type EntraPgAdapterFactory,
  type EntraPostgresAdapterConfig,
} from "./entra-pg-adapter.js";

/** The config of {@link createEntraAdapter}: `provider` plus that driver's connection fields. */
export type EntraAdapterConfig =
  | EntraPostgresAdapterConfig
  | EntraMysqlAdapterConfig
  | EntraSqlServerAdapterConfig;

/**
 * Returns a Prisma 7 driver adapter factory for `new PrismaClient({ adapter })` that signs in to
 * Azure Database for PostgreSQL, Azure Database for MySQL or Azure SQL with Microsoft Entra access tokens (managed identity in
 * Azure, your own sign-in locally), never a password.
 *
 * - `provider: "postgresql"`: `@prisma/adapter-pg` with the pg config of `@org/pg-entra`'s
 *   `withEntra`: pg asks for a token for every new physical connection (shadow database included).
 * - `provider: "mysql"`: `@prisma/adapter-mariadb`, whose connector only takes a static password,
 *   behind a rotating adapter: one inner pool per token, new work always on the pool of the current
 *   token, older pools drained and ended (README: "How MySQL works without a per-connection hook").
 * - `provider: "sqlserver"`: `@prisma/adapter-mssql` with the mssql config of `@org/mssql-entra`'s
 *   `withEntra`: `authentication: { type: "token-credential" }`, whose credential tedious calls at
 *   every login of every pooled connection; `encrypt: "strict"`, `trustServerCertificate: false`.
 *   A SQL login (`user`, `password`), a static `token` or another authentication type is refused.
 *
 * Host, port, database and user default to the Service Connector variables (`AZURE_POSTGRESQL_*`,
 * `AZURE_MYSQL_*`, `AZURE_SQL_*`); the PostgreSQL / MySQL user then falls back to the name in the
 * token (Azure SQL needs none). TLS is on and verified; a config that disables it throws
 * `EntraAuthError` (`INSECURE_TRANSPORT`) unless `allowInsecure`.
 *
 * @example
 * ```ts
 * import { PrismaClient } from "./generated/prisma/client.js";
 * import { createEntraAdapter } from "@org/prisma-entra";
 *
 * const prisma = new PrismaClient({ adapter: createEntraAdapter({ provider: "postgresql" }) });
 * ```
 *
 * @param config - `provider` and the driver's connection fields. Required.
 * @param options - Credential, username and refresh options (the credential defaults to `DefaultAzureCredential`).
 * @returns The factory to pass as `adapter`.
 */
export function createEntraAdapter(
  config: EntraPostgresAdapterConfig,
  options?: EntraOptions,
): EntraPgAdapterFactory;
export function createEntraAdapter(
  config: EntraMysqlAdapterConfig,
  options?: EntraOptions,
): EntraMariaDbAdapterFactory;
export function createEntraAdapter(
  config: EntraSqlServerAdapterConfig,
  options?: EntraOptions,
): EntraMssqlAdapterFactory;
export function createEntraAdapter(
  config: EntraAdapterConfig,
  options?: EntraOptions,
): EntraPgAdapterFactory | EntraMariaDbAdapterFactory | EntraMssqlAdapterFactory;
export function createEntraAdapter(
  config: EntraAdapterConfig,
  options: EntraOptions = {},
): EntraPgAdapterFactory | EntraMariaDbAdapterFactory | EntraMssqlAdapterFactory {
  switch (config?.provider) {
    case "postgresql":
      return createEntraPgAdapter(config as EntraPostgresAdapterConfig, options);
    case "mysql":
      return createEntraMariaDbAdapter(config as EntraMysqlAdapterConfig, options);
    case "sqlserver":
      return createEntraMssqlAdapter(config as EntraSqlServerAdapterConfig, options);
    default:
      throw new EntraAuthError(
        "INVALID_SETTING",
        `Unknown provider "${String((config as { provider?: unknown } | undefined)?.provider)}".`,
        { hint: 'Pass provider: "postgresql", "mysql" or "sqlserver".' },
      );
  }
}
