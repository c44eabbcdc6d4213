import { MysqlCapability, type MysqlHandshake } from "@org/entra-wire";

/**
 * What a MySQL server greeting claims to be: `mysql8` (MySQL 8.0, as Azure Database for MySQL
 * Flexible Server presents itself) or `mariadb` (MariaDB, which clients treat differently).
 */
export type MysqlPersona = "mysql8" | "mariadb";

/** The server version the `mysql8` persona announces. */
export const MYSQL8_SERVER_VERSION = "8.0.42";
/** The server version the `mariadb` persona announces when it does not forward a real MariaDB's. */
export const MARIADB_SERVER_VERSION = "11.4.5-MariaDB";

const ALL_CAPABILITIES = Object.values(MysqlCapability).reduce((all, bit) => (all | bit) >>> 0, 0);

/**
 * The capabilities a MySQL 8.0 server greets with: every `CLIENT_*` flag it knows (`CLIENT_LONG_PASSWORD`
 * set, which also tells a client "MySQL, not MariaDB") except the client-only
 * `CLIENT_SSL_VERIFY_SERVER_CERT`. `CLIENT_SSL` is decided per greeting.
 */
export const MYSQL8_CAPABILITIES = (ALL_CAPABILITIES & ~MysqlCapability.sslVerifyServerCert) >>> 0;

/**
 * The capabilities a MariaDB 10.11/11.4 server greets with (`0x81fff7fe` plus `CLIENT_SSL` when TLS is
 * on): `CLIENT_LONG_PASSWORD` cleared (MariaDB's `CLIENT_MYSQL` bit: "extended capabilities follow").
 */
export const MARIADB_CAPABILITIES = 0x81ff_f7fe;

/**
 * MariaDB extended capabilities of a MariaDB 10.11/11.4 greeting: `MARIADB_CLIENT_PROGRESS`,
 * `STMT_BULK_OPERATIONS`, `EXTENDED_METADATA` and `CACHE_METADATA`.
 */
export const MARIADB_EXTENDED_CAPABILITIES = 0x1d;

/** Capabilities the gateway never offers: it does not compress, and query attributes stay off. */
export const MYSQL_GATEWAY_CAPABILITIES_NOT_OFFERED =
  MysqlCapability.compress | MysqlCapability.zstdCompression | MysqlCapability.queryAttributes;

/** What a persona greeting is built from. */
export interface PersonaGreetingOptions {
  /** Connection (thread) id, the one `KILL` takes. */
  readonly connectionId: number;
  /** The scramble (20 bytes, no NUL bytes). */
  readonly authPluginData: Buffer;
  /** Offer `CLIENT_SSL`. */
  readonly offerSsl: boolean;
  /**
   * Capability bits the greeting may keep, e.g. what a backend session supports so that piping after
   * login stays correct. `CLIENT_LONG_PASSWORD` and `CLIENT_SSL` are decided by the persona and
   * `offerSsl`, not by this mask. Defaults to all.
   */
  readonly allowedCapabilities?: number;
  /**
   * Default authentication plugin. Defaults to `caching_sha2_password` for `mysql8` (MySQL 8.0's
   * default) and `mysql_native_password` for `mariadb`.
   */
  readonly authPluginName?: string;
  /** Default collation id. Defaults to 255 (`utf8mb4_0900_ai_ci`) for `mysql8`, 45 (`utf8mb4_general_ci`) for `mariadb`. */
  readonly characterSet?: number;
  /** Server status flags. Defaults to 2 (`SERVER_STATUS_AUTOCOMMIT`). */
  readonly statusFlags?: number;
}

/**
 * Builds the greeting a persona sends: MySQL 8.0.42 (`CLIENT_LONG_PASSWORD` set, no MariaDB extended
 * capabilities) or MariaDB 11.4.5 (`CLIENT_LONG_PASSWORD` cleared, MariaDB extended capabilities in
 * the filler), with `CLIENT_SSL` as asked.
 *
 * @example
 * buildHandshake(personaGreeting("mysql8", { connectionId: 7, authPluginData: scramble, offerSsl: true }));
 */
export function personaGreeting(persona: MysqlPersona, options: PersonaGreetingOptions): MysqlHandshake {
  const allowed = options.allowedCapabilities ?? ALL_CAPABILITIES;
  const mysql8 = persona === "mysql8";
  let capabilities = mysql8
    ? (MYSQL8_CAPABILITIES & allowed) | MysqlCapability.longPassword
    : MARIADB_CAPABILITIES & allowed & ~MysqlCapability.longPassword;
  capabilities = options.offerSsl ? capabilities | MysqlCapability.ssl : capabilities & ~MysqlCapability.ssl;
  return {
    protocolVersion: 10,
    serverVersion: mysql8 ? MYSQL8_SERVER_VERSION : MARIADB_SERVER_VERSION,
    connectionId: options.connectionId,
    authPluginData: options.authPluginData,
    capabilities: capabilities >>> 0,
    extendedCapabilities: mysql8 ? 0 : MARIADB_EXTENDED_CAPABILITIES,
    characterSet: options.characterSet ?? (mysql8 ? 255 : 45),
    statusFlags: options.statusFlags ?? 2,
    authPluginName: options.authPluginName ?? (mysql8 ? "caching_sha2_password" : "mysql_native_password"),
  };
}

/**
 * The default authentication plugin of the gateway's `mysql8` greeting. MySQL 8.0's own default;
 * every client we test against (mysql2, the `mariadb` connector, the `mariadb`/`mysql` CLIs) either
 * answers it or falls back to `mysql_native_password` in its first packet, and the gateway switches
 * every client to `mysql_clear_password` anyway, so the first packet's scramble is never checked.
 */
export const MYSQL8_GATEWAY_AUTH_PLUGIN = "caching_sha2_password";

/**
 * The greeting the MySQL gateway sends for a backend session: `mariadb` forwards the backend's own
 * greeting; `mysql8` presents MySQL 8.0.42 with only capability bits the backend also has. Both keep
 * the backend's thread id (so `KILL QUERY <id>` reaches the client's session), scramble, collation
 * and status, offer `CLIENT_SSL` and withdraw compression and query attributes.
 */
export function gatewayGreeting(persona: MysqlPersona, backend: MysqlHandshake): MysqlHandshake {
  if (persona === "mariadb") {
    const capabilities =
      (backend.capabilities | MysqlCapability.ssl) & ~MYSQL_GATEWAY_CAPABILITIES_NOT_OFFERED;
    return { ...backend, capabilities: capabilities >>> 0 };
  }
  return personaGreeting("mysql8", {
    connectionId: backend.connectionId,
    authPluginData: backend.authPluginData,
    offerSsl: true,
    allowedCapabilities: backend.capabilities & ~MYSQL_GATEWAY_CAPABILITIES_NOT_OFFERED,
    authPluginName: MYSQL8_GATEWAY_AUTH_PLUGIN,
    characterSet: backend.characterSet,
    statusFlags: backend.statusFlags,
  });
}
