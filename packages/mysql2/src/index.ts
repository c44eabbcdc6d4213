/**
 * Passwordless Microsoft Entra ID auth for mysql2 on Azure Database for MySQL: {@link withEntra}
 * turns a `createConnection`, `createPool` or `PoolCluster` config into one whose every connection
 * signs in with a current access token over verified TLS.
 *
 * @packageDocumentation
 */
export type { EntraHealthReport, EntraOptions } from "@org/entra-core";
export { EntraAuthError, healthCheck, isEntraAuthError, warmUp } from "@org/entra-core";
export type { Mysql2EntraConnection, Mysql2StreamFactory } from "./prepare-mysql2-connection.js";
export { prepareMysql2Connection } from "./prepare-mysql2-connection.js";
export { type Mysql2EntraConfig, withEntra } from "./with-entra.js";
