/**
 * Passwordless Microsoft Entra ID auth for knex on Azure Database for PostgreSQL, Azure Database for
 * MySQL and Azure SQL: {@link withEntra} turns a knex config (or knexfile entry) for the `pg`,
 * `mysql2` or `mssql` client into one whose every connection signs in with a current access token.
 *
 * @packageDocumentation
 */
export type { EntraHealthReport, EntraOptions } from "@org/entra-core";
export { EntraAuthError, healthCheck, isEntraAuthError, warmUp } from "@org/entra-core";
export { type KnexEntraConfig, withEntra } from "./with-entra.js";
