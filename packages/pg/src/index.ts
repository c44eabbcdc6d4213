export type { EntraOptions } from "@org/entra-core";
export { EntraAuthError, isEntraAuthError } from "@org/entra-core";
export type { PgClientConstructor, PgEntraConnection, PrepareNaming } from "./prepare-pg-connection.js";
export { preparePgConnection } from "./prepare-pg-connection.js";
export type { PgEntraConfig } from "./with-entra.js";
export { withEntra } from "./with-entra.js";
