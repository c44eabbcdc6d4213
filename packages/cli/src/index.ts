/**
 * The library behind the `entra-db` command: print Microsoft Entra access tokens, connection URLs
 * and client variables for Azure databases, diagnose passwordless connections (`doctor`), and run
 * a local auth proxy for clients that cannot take a token ({@link startProxy}).
 * {@link run} runs a command line against a {@link CliIo}.
 *
 * @packageDocumentation
 */
export { buildConnectionUrl, type ConnectionUrlParts, type MysqlUrlFormat } from "./build-url.js";
export { CliError, type CliErrorCode, EXIT, isCliError } from "./cli-error.js";
export type { CliIo, CreateCredentialOptions, NamedCredential, OutputStream } from "./cli-io.js";
export { processIo } from "./cli-io.js";
export type { Check, CheckStatus, DoctorReport } from "./doctor/check.js";
export { credentialNamesFor } from "./doctor/credential-chain.js";
export { formatReport } from "./doctor/format-report.js";
export { envLines } from "./env-command.js";
export type { ProxyFailure, ProxyRefusalCode } from "./proxy/proxy-failure.js";
export {
  type EntraProxy,
  PROXY_PASSWORD_VARIABLE,
  type ProxyCloseOptions,
  type ProxyListenOptions,
  type ProxyLoginEvent,
  type ProxyOptions,
  type ProxyStats,
  startProxy,
} from "./proxy/start-proxy.js";
export { SYSTEM_CA_BUNDLES } from "./resolve-login.js";
export { formatError, run, VERSION } from "./run.js";
export { selectEngine } from "./select-engine.js";
export { exportLines, type Shell, shellQuote } from "./shell-quote.js";
