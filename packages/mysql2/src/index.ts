export type { EntraOptions } from "@org/entra-core";
export { EntraAuthError, isEntraAuthError } from "@org/entra-core";
export { type Mysql2EntraConfig, withEntra } from "./with-entra.js";
