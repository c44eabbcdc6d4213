import { inspectTlsValue, type TlsFinding } from "@org/entra-core";

/** The `ssl` value to put into the mariadb connector's options and what, if anything, is insecure about it. */
export interface ResolvedMariadbSsl {
  /** The value for `dialectOptions.ssl`. */
  readonly ssl: boolean | Record<string, unknown>;
  /** Why the value does not give TLS with certificate verification. Defaults to `undefined` (secure). */
  readonly finding: TlsFinding | undefined;
}

/**
 * Turns a mariadb `ssl` value (or the Service Connector `AZURE_MYSQL_SSL` flag) into one the mariadb
 * connector reads as verified TLS, and reports what is insecure about it.
 *
 * - `true`, `"true"`, `"1"`: `true`, which makes the connector verify the certificate chain and the
 *   host name (`tls.checkServerIdentity`).
 * - objects are copied (the connector writes `rejectUnauthorized` into the object it gets);
 *   `rejectUnauthorized: false` is reported as insecure.
 * - absent, `false` and any other string (the connector reads every string but `"true"` as off) are
 *   reported as insecure.
 *
 * @param value - The `dialectOptions.ssl` value as the user gave it.
 * @param setting - Where it came from, for the error message.
 * @returns The value to use and the finding for `assertSecureTls`. Defaults to no finding.
 */
export function resolveMariadbSsl(value: unknown, setting: string): ResolvedMariadbSsl {
  if (value === true) return { ssl: true, finding: undefined };
  if (typeof value === "string") {
    const lower = value.trim().toLowerCase();
    if (lower === "true" || lower === "1") return { ssl: true, finding: undefined };
    return {
      ssl: false,
      finding: inspectTlsValue(value, setting) ?? {
        setting,
        problem: `is the string "${value}", which the mariadb connector reads as TLS off`,
      },
    };
  }
  if (value !== null && typeof value === "object") {
    const ssl = { ...(value as Record<string, unknown>) };
    return { ssl, finding: inspectTlsValue(ssl, setting) };
  }
  return {
    ssl: false,
    finding: inspectTlsValue(value === false ? false : undefined, setting, { absentMeansOff: true }),
  };
}
