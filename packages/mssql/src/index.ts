export type { EntraOptions } from "@org/entra-core";
export { EntraAuthError, isEntraAuthError } from "@org/entra-core";
export { createEntraTokenCredential, explainEntraError } from "@org/tedious-entra";
export { type MssqlEntraConfig, type MssqlEntraResult, withEntra } from "./with-entra.js";
