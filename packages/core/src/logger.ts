import { type AzureLogger, createClientLogger } from "@azure/logger";

/**
 * The `@azure/logger` client logger of all `@org/*-entra` packages (namespace `azure:entra`).
 * Enable it like any Azure SDK log: `AZURE_LOG_LEVEL=verbose` (or `setLogLevel("verbose")` from
 * `@azure/logger`). Fetches are logged at `info`, cache decisions at `verbose`, failures at
 * `warning`; tokens are never logged.
 *
 * @example
 * ```ts
 * import { setLogLevel } from "@azure/logger";
 * setLogLevel("verbose"); // now every token fetch and cache decision is printed to stderr
 * ```
 *
 * Its level is the one set by `AZURE_LOG_LEVEL` (off when unset).
 */
export const logger: AzureLogger = createClientLogger("entra");

/** Marker that replaces a token in redacted text. */
const REDACTED = "[REDACTED]";

/**
 * Replaces every occurrence of `token` in `text` with `[REDACTED]`. Use before logging or
 * throwing any text that came from outside (credential errors, server messages).
 *
 * @example
 * ```ts
 * redactToken(`bad token ${t}`, t); // "bad token [REDACTED]"
 * ```
 *
 * Returns `text` unchanged when `token` is empty or undefined.
 */
export function redactToken(text: string, token: string | undefined): string {
  if (!token || !text) return text;
  return text.split(token).join(REDACTED);
}
