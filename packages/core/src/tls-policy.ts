import { EntraAuthError } from "./entra-auth-error.js";
import { logger } from "./logger.js";

/** An insecure TLS setting found in a driver config. Defaults to `undefined` where nothing insecure was found. */
export interface TlsFinding {
  /** The config path of the setting, e.g. `ssl` or `options.trustServerCertificate`. */
  readonly setting: string;
  /** What is wrong, e.g. `disables TLS` or `disables certificate verification`. */
  readonly problem: string;
}

/** Options for {@link inspectTlsValue}. Defaults to `{}`. */
export interface InspectTlsOptions {
  /** The driver sends no TLS when the setting is absent, so `undefined`/`null` is insecure. Defaults to `false`. */
  readonly absentMeansOff?: boolean;
}

const OFF_STRINGS = new Set(["disable", "allow", "prefer", "false", "0", "off"]);
const NO_VERIFY_STRINGS = new Set(["no-verify"]);

/**
 * Recognises an insecure TLS value of a driver setting: `false`, absent (when the driver then
 * sends no TLS, see `absentMeansOff`), sslmode strings `disable`/`allow`/`prefer`/`no-verify`,
 * and objects with `rejectUnauthorized: false`.
 *
 * @example
 * ```ts
 * assertSecureTls(inspectTlsValue(config.ssl, "ssl"), { allowInsecure });
 * ```
 *
 * Defaults to `undefined` (nothing insecure found) for `true`, verifying objects and other strings.
 */
export function inspectTlsValue(
  value: unknown,
  setting: string,
  options: InspectTlsOptions = {},
): TlsFinding | undefined {
  if (value === undefined || value === null) {
    return options.absentMeansOff ? { setting, problem: "is not set, so TLS is off" } : undefined;
  }
  if (value === false) return { setting, problem: "disables TLS" };
  if (typeof value === "string") {
    const lower = value.trim().toLowerCase();
    if (OFF_STRINGS.has(lower)) return { setting, problem: `"${lower}" allows connections without TLS` };
    if (NO_VERIFY_STRINGS.has(lower))
      return { setting, problem: `"${lower}" disables certificate verification` };
    return undefined;
  }
  if (typeof value === "object" && (value as { rejectUnauthorized?: unknown }).rejectUnauthorized === false) {
    return { setting: `${setting}.rejectUnauthorized`, problem: "disables certificate verification" };
  }
  return undefined;
}

/**
 * Recognises insecure tedious/mssql encryption options: `encrypt: false` or
 * `trustServerCertificate: true`. `encrypt: "strict"` (TDS 8) is secure.
 *
 * @example
 * ```ts
 * assertSecureTls(inspectSqlEncryption(config.options ?? {}), { allowInsecure });
 * ```
 *
 * Defaults to `undefined` (secure) when both are absent, as the adapters set secure values.
 */
export function inspectSqlEncryption(options: {
  readonly encrypt?: unknown;
  readonly trustServerCertificate?: unknown;
}): TlsFinding | undefined {
  if (options.encrypt === false) return { setting: "options.encrypt", problem: "disables TLS" };
  if (options.trustServerCertificate === true) {
    return { setting: "options.trustServerCertificate", problem: "disables certificate verification" };
  }
  return undefined;
}

/**
 * Throws `EntraAuthError` code `INSECURE_TRANSPORT` for a finding, because a token is a bearer
 * credential and must only travel over verified TLS. With `allowInsecure: true` it logs a warning
 * instead.
 *
 * @example
 * ```ts
 * assertSecureTls(inspectTlsValue(false, "ssl"), {}); // throws INSECURE_TRANSPORT
 * ```
 *
 * Defaults to throwing (`allowInsecure: false`); does nothing when `finding` is undefined.
 */
export function assertSecureTls(
  finding: TlsFinding | undefined,
  options: { readonly allowInsecure?: boolean } = {},
): void {
  if (!finding) return;
  const message = `The setting ${finding.setting} ${finding.problem}; an Entra access token must only be sent over TLS with certificate verification.`;
  if (options.allowInsecure === true) {
    logger.warning(`${message} Continuing because allowInsecure is true.`);
    return;
  }
  throw new EntraAuthError("INSECURE_TRANSPORT", message, {
    hint: "Set ssl: true (or encrypt: true for SQL), pass { ca } for a private CA, or allowInsecure: true only for local testing.",
  });
}
