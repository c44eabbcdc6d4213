export type { EntraOptions } from "@org/entra-core";
export { EntraAuthError, isEntraAuthError } from "@org/entra-core";
export type { DataSourceOptionsLike } from "./data-source-options-like.js";
export { withEntra } from "./with-entra.js";
