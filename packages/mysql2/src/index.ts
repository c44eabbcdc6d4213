export type { EntraOptions } from "@org/entra-core";
export { EntraAuthError, isEntraAuthError } from "@org/entra-core";
export type { Mysql2EntraConnection, Mysql2StreamFactory } from "./prepare-mysql2-connection.js";
export { prepareMysql2Connection } from "./prepare-mysql2-connection.js";
export { type Mysql2EntraConfig, withEntra } from "./with-entra.js";
