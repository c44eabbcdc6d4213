import { inspectTlsValue, type TlsFinding } from "@org/entra-core";
import type { SslOptions } from "mysql2";

/** The `ssl` value to put into a mysql2 config and what, if anything, is insecure about it. */
export interface ResolvedSsl {
  /** The value for mysql2's `ssl` option. */
  readonly ssl: string | SslOptions | false;
  /** Why the value does not give TLS with certificate and host name verification; `undefined` when it does. */
  readonly finding: TlsFinding | undefined;
}

/**
 * Turns a mysql2 `ssl` value (or the Service Connector `AZURE_MYSQL_SSL` flag) into one mysql2
 * accepts and that verifies the server, and reports what is insecure about it.
 *
 * - absent (`undefined`/`null`): mysql2 would send no TLS; reported as insecure.
 * - `true` or the string `"true"`/`"1"` (Service Connector, URL query): `{ verifyIdentity: true }`,
 *   because mysql2 throws on `ssl: true` and reads any other string as an SSL profile name.
 * - objects are copied (mysql2 writes `rejectUnauthorized` into the object it gets) and get
 *   `verifyIdentity: true` unless set: mysql2 checks the certificate chain but not the host name
 *   without it. `rejectUnauthorized: false` or `verifyIdentity: false` are reported as insecure.
 * - `false`, sslmode-like strings (`disable`, `prefer`, ...) and SSL profile names are reported as
 *   insecure: mysql2's only built-in profile does not check the host name.
 *
 * @param value - The `ssl` value as the user gave it.
 * @param setting - Where it came from, for the error message (`ssl`, `ssl in uri`, `AZURE_MYSQL_SSL`).
 * @returns The value to use and the finding for `assertSecureTls`.
 */
export function resolveSsl(value: unknown, setting: string): ResolvedSsl {
  if (value === true) return { ssl: { verifyIdentity: true }, finding: undefined };
  if (typeof value === "string") {
    const lower = value.trim().toLowerCase();
    if (lower === "true" || lower === "1") return { ssl: { verifyIdentity: true }, finding: undefined };
    return {
      ssl: value,
      finding: inspectTlsValue(value, setting) ?? {
        setting,
        problem: `names the SSL profile "${value}", which does not verify the server's host name; pass an object such as { ca } instead`,
      },
    };
  }
  if (value !== null && typeof value === "object") {
    const ssl: SslOptions = { ...(value as SslOptions) };
    const finding = inspectTlsValue(ssl, setting);
    if (finding) return { ssl, finding };
    if (ssl.verifyIdentity === false) {
      return {
        ssl,
        finding: { setting: `${setting}.verifyIdentity`, problem: "disables host name verification" },
      };
    }
    return { ssl: { ...ssl, verifyIdentity: true }, finding: undefined };
  }
  return {
    ssl: false,
    finding: inspectTlsValue(value === false ? false : undefined, setting, { absentMeansOff: true }),
  };
}
