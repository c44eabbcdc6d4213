export type { EntraOptions } from "@org/entra-core";
export { EntraAuthError, isEntraAuthError } from "@org/entra-core";
export { type KnexEntraConfig, withEntra } from "./with-entra.js";
