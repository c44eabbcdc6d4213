/**
 * Passwordless Microsoft Entra ID auth for Sequelize on Azure Database for PostgreSQL, MySQL/MariaDB
 * and Azure SQL: {@link withEntra} turns Sequelize options into ones whose every connection signs
 * in with a current access token.
 *
 * @packageDocumentation
 */
export type { EntraHealthReport, EntraOptions } from "@org/entra-core";
export { EntraAuthError, healthCheck, isEntraAuthError, warmUp } from "@org/entra-core";
export { type SequelizeEntraOptions, withEntra } from "./with-entra.js";
