import { EntraAuthError, type EntraOptions } from "@org/entra-core";
import {
  createEntraMariaDbAdapter,
  type EntraMariaDbAdapterFactory,
  type EntraMysqlAdapterConfig,
} from "./entra-mariadb-adapter.js";
import {
  createEntraPgAdapter,
  type EntraPgAdapterFactory,
  type EntraPostgresAdapterConfig,
} from "./entra-pg-adapter.js";

/** `createEntraAdapter` config for Azure SQL: not supported yet (see the README). */
export interface EntraSqlServerAdapterConfig {
  readonly provider: "sqlserver";
  readonly [option: string]: unknown;
}

/** The config of {@link createEntraAdapter}: `provider` plus that driver's connection fields. */
export type EntraAdapterConfig =
  | EntraPostgresAdapterConfig
  | EntraMysqlAdapterConfig
  | EntraSqlServerAdapterConfig;

/**
 * Returns a Prisma 7 driver adapter factory for `new PrismaClient({ adapter })` that signs in to
 * Azure Database for PostgreSQL or MySQL with Microsoft Entra access tokens (managed identity in
 * Azure, your own sign-in locally), never a password.
 *
 * - `provider: "postgresql"`: `@prisma/adapter-pg` with the pg config of `@org/pg-entra`'s
 *   `withEntra`: pg asks for a token for every new physical connection (shadow database included).
 * - `provider: "mysql"`: `@prisma/adapter-mariadb`, whose connector only takes a static password,
 *   behind a rotating adapter: one inner pool per token, new work always on the pool of the current
 *   token, older pools drained and ended (README: "How MySQL works without a per-connection hook").
 * - `provider: "sqlserver"`: throws `EntraAuthError` (`INVALID_SETTING`): not supported yet.
 *
 * Host, port, database and user default to the Service Connector variables (`AZURE_POSTGRESQL_*`,
 * `AZURE_MYSQL_*`); the user then falls back to the name in the token. TLS is on and verified; a
 * config that disables it throws `EntraAuthError` (`INSECURE_TRANSPORT`) unless `allowInsecure`.
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
 * @param options - Credential, username and refresh options. Defaults to `DefaultAzureCredential`.
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
export function createEntraAdapter(config: EntraSqlServerAdapterConfig, options?: EntraOptions): never;
export function createEntraAdapter(
  config: EntraAdapterConfig,
  options?: EntraOptions,
): EntraPgAdapterFactory | EntraMariaDbAdapterFactory;
export function createEntraAdapter(
  config: EntraAdapterConfig,
  options: EntraOptions = {},
): EntraPgAdapterFactory | EntraMariaDbAdapterFactory {
  switch (config?.provider) {
    case "postgresql":
      return createEntraPgAdapter(config as EntraPostgresAdapterConfig, options);
    case "mysql":
      return createEntraMariaDbAdapter(config as EntraMysqlAdapterConfig, options);
    case "sqlserver":
      throw new EntraAuthError(
        "INVALID_SETTING",
        'provider "sqlserver" is not supported by @org/prisma-entra yet.',
        {
          hint: 'Until it is, use @prisma/adapter-mssql with authentication: { type: "token-credential", options: { credential } } (see @org/mssql-entra).',
        },
      );
    default:
      throw new EntraAuthError(
        "INVALID_SETTING",
        `Unknown provider "${String((config as { provider?: unknown } | undefined)?.provider)}".`,
        { hint: 'Pass provider: "postgresql" or "mysql".' },
      );
  }
}
