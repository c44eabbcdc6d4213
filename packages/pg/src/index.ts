/**
 * Passwordless Microsoft Entra ID auth for node-postgres (`pg`) on Azure Database for PostgreSQL:
 * {@link withEntra} turns a `pg.Pool` or `pg.Client` config into one whose every connection signs
 * in with a current access token over verified TLS.
 *
 * @packageDocumentation
 */
export type { EntraHealthReport, EntraOptions } from "@org/entra-core";
export { EntraAuthError, healthCheck, isEntraAuthError, warmUp } from "@org/entra-core";
export type { PgClientConstructor, PgEntraConnection, PrepareNaming } from "./prepare-pg-connection.js";
export { preparePgConnection } from "./prepare-pg-connection.js";
export type { PgEntraConfig } from "./with-entra.js";
export { withEntra } from "./with-entra.js";
