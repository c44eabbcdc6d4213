import { inspectTlsValue, type TlsFinding } from "./tls-policy.js";

/** The `ssl` value to give the mariadb connector and what, if anything, is insecure about it. */
export interface ResolvedMariadbSsl {
  /** The value for the connector's `ssl` option: a TLS options object, or `false` (only with a finding). */
  readonly ssl: false | Readonly<Record<string, unknown>>;
  /** Why the value does not give TLS with certificate and host name verification, if it does not. */
  readonly finding: TlsFinding | undefined;
}

/**
 * Turns an `ssl` value for the mariadb connector (MariaDB Connector/Node.js, used by Sequelize's
 * `mariadb` dialect and `@prisma/adapter-mariadb`), or the Service Connector `AZURE_MYSQL_SSL`
 * flag, into TLS options that verify the server, and reports what is insecure about it.
 *
 * - `true`, `"true"`, `"1"`: `{ rejectUnauthorized: true }`.
 * - objects are copied with `rejectUnauthorized: true` unless they set it: an explicit value
 *   keeps `NODE_TLS_REJECT_UNAUTHORIZED=0` from turning verification off. `rejectUnauthorized:
 *   false` or a `checkServerIdentity` of its own are reported.
 * - absent, `false` and any other string (the connector reads every string but `"true"` as TLS
 *   off) are reported.
 *
 * The connector's own shortcut for MariaDB servers (it trusts any certificate and checks it
 * later) is closed per connection by {@link guardMariadbStream}.
 *
 * @example
 * ```ts
 * const { ssl, finding } = resolveMariadbSsl(config.ssl ?? true, "ssl");
 * assertSecureTls(finding, { allowInsecure });
 * ```
 *
 * @param value - The `ssl` value as the user gave it.
 * @param setting - Where it came from, for the error message (`ssl`, `dialectOptions.ssl`, `AZURE_MYSQL_SSL`).
 * @returns The value to use and the finding for `assertSecureTls`.
 */
export function resolveMariadbSsl(value: unknown, setting: string): ResolvedMariadbSsl {
  if (value === true) return { ssl: { rejectUnauthorized: true }, finding: undefined };
  if (typeof value === "string") {
    const lower = value.trim().toLowerCase();
    if (lower === "true" || lower === "1") return { ssl: { rejectUnauthorized: true }, finding: undefined };
    return {
      ssl: false,
      finding: inspectTlsValue(value, setting) ?? {
        setting,
        problem: `is the string "${value}", which the mariadb connector reads as TLS off`,
        fix: `Set ${setting} to true (or { ca } for a private CA).`,
      },
    };
  }
  if (value !== null && typeof value === "object") {
    const given = value as Record<string, unknown>;
    const finding = inspectTlsValue(given, setting);
    const ssl = finding ? { ...given } : { ...given, rejectUnauthorized: given.rejectUnauthorized ?? true };
    return { ssl, finding };
  }
  return {
    ssl: false,
    finding: inspectTlsValue(value === false ? false : undefined, setting, { absentMeansOff: true }),
  };
}
