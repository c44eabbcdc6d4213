export type { EntraOptions } from "@org/entra-core";
export { EntraAuthError, isEntraAuthError } from "@org/entra-core";
export { type SequelizeEntraOptions, withEntra } from "./with-entra.js";
