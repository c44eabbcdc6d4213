/**
 * Passwordless Microsoft Entra ID auth for postgres.js (`postgres`) on Azure Database for
 * PostgreSQL: {@link withEntra} turns postgres.js options (or a connection URL) into options whose
 * every connection signs in with a current access token over verified TLS.
 *
 * @packageDocumentation
 */
export type { EntraHealthReport, EntraOptions } from "@org/entra-core";
export { EntraAuthError, healthCheck, isEntraAuthError, warmUp } from "@org/entra-core";
export type { PostgresTypes } from "./with-entra.js";
export { withEntra } from "./with-entra.js";
