import type { ConnectionOptions } from "node:tls";
import { assertSecureTls, inspectTlsValue } from "@org/entra-core";

/**
 * How the adapter's socket secures a connection, from {@link resolvePostgresTls}:
 * - `verify`: TLS, certificate chain and host name verified (the only mode without `allowInsecure`);
 * - `tls`: TLS with your own, non-verifying options (`rejectUnauthorized: false`, `checkServerIdentity`);
 * - `prefer`: TLS when the server offers it, else plaintext (postgres.js's `prefer` and `allow`);
 * - `off`: plaintext.
 */
export type PostgresTlsMode = "verify" | "tls" | "prefer" | "off";

/** The TLS plan of one config: the mode and the `tls.connect` options to use. */
export interface PostgresTls {
  readonly mode: PostgresTlsMode;
  /** Your TLS options (`ca`, `cert`, `key`, `servername`...); `rejectUnauthorized: true` in `verify` mode. */
  readonly options: Readonly<ConnectionOptions>;
}

const OFF = new Set(["disable", "false", "0", "off"]);
const PREFER = new Set(["prefer", "allow"]);

/**
 * Applies the TLS policy to a postgres.js `ssl` value (or a URL's `sslmode`, or
 * `AZURE_POSTGRESQL_SSL`), named `setting` in errors. `true`, `"require"`, `"verify-ca"`,
 * `"verify-full"` and TLS objects mean verified TLS: `"require"` is libpq's (and postgres.js's)
 * "encrypt but do not check the certificate", which a bearer token must never be sent over, so
 * it gets the check here, as in pg 8 and the Azure portal's connection strings. `false`,
 * `"disable"`, `"allow"`, `"prefer"`, `"no-verify"`, `rejectUnauthorized: false`, a
 * `checkServerIdentity` of your own, and `NODE_TLS_REJECT_UNAUTHORIZED=0` throw `EntraAuthError`
 * (`INSECURE_TRANSPORT`) unless `allowInsecure`, which keeps them (with a warning).
 */
export function resolvePostgresTls(value: unknown, setting: string, allowInsecure: boolean): PostgresTls {
  assertSecureTls(inspectTlsValue(value, setting), { allowInsecure });
  const given: ConnectionOptions = typeof value === "object" && value !== null ? { ...value } : {};
  if (allowInsecure) {
    const text = typeof value === "string" ? value.trim().toLowerCase() : undefined;
    if (value === false || (text !== undefined && OFF.has(text))) return { mode: "off", options: {} };
    if (text !== undefined && PREFER.has(text))
      return { mode: "prefer", options: { rejectUnauthorized: false } };
    if (text === "no-verify") return { mode: "tls", options: { rejectUnauthorized: false } };
    if (given.rejectUnauthorized === false || given.checkServerIdentity !== undefined) {
      return { mode: "tls", options: given };
    }
  }
  return { mode: "verify", options: { ...given, rejectUnauthorized: true } };
}
