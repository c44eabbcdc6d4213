/**
 * Passwordless Microsoft Entra ID auth for TypeORM DataSources on Azure Database for PostgreSQL,
 * MySQL and Azure SQL: {@link withEntra} turns `DataSource` options into ones whose every connection
 * signs in with a current access token.
 *
 * @packageDocumentation
 */
export type { EntraHealthReport, EntraOptions } from "@org/entra-core";
export { EntraAuthError, healthCheck, isEntraAuthError, warmUp } from "@org/entra-core";
export type { DataSourceOptionsLike } from "./data-source-options-like.js";
export { withEntra } from "./with-entra.js";
