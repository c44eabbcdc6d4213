import type { EntraOptions } from "@org/entra-core";
import { type Mysql2EntraConfig, prepareMysql2Connection } from "./prepare-mysql2-connection.js";

export type { Mysql2EntraConfig } from "./prepare-mysql2-connection.js";

/**
 * Wires Microsoft Entra authentication into a mysql2 config: every new physical connection
 * answers the server's switch to `mysql_clear_password` with a currently valid access token,
 * fetched once and shared by every pool in the process, refreshed ahead of expiry while any
 * connection is open (`pool.end()` stops that).
 *
 * - `authPlugins.mysql_clear_password` is set (your other auth plugins are kept). It also satisfies
 *   mysql2 >= 3.22, which refuses cleartext authentication unless such a plugin exists; no
 *   `enableCleartextPlugin` and no `password` are needed. A static password is refused.
 * - `host`, `port`, `database` and `user` default to the Service Connector variables
 *   (`AZURE_MYSQL_HOST`, `_PORT`, `_DATABASE`, `_USER`); the username then falls back to
 *   `options.username` and finally to the token's claims (managed identity name, UPN), which are
 *   read just before each connection opens its socket.
 * - TLS is on and verifies the certificate and host name by default
 *   (`ssl: { verifyIdentity: true }`); `AZURE_MYSQL_SSL=true` becomes that object. A config that
 *   disables TLS, certificate or host name verification, names an SSL profile, or sets
 *   `insecureAuth`, and a process with `NODE_TLS_REJECT_UNAUTHORIZED=0`, throw `EntraAuthError`
 *   (`INSECURE_TRANSPORT`) unless `allowInsecure: true`. Before each token is handed over, the
 *   plugin checks the live connection itself: TLS up, chain verified, certificate issued for the host.
 * - A `uri` is parsed into fields (explicit fields win, as in mysql2); it must not contain a password.
 * - When the server rejects a token as expired or invalid, the cached token is dropped so the next
 *   connection fetches a fresh one, and the error message says what to change.
 *
 * @example
 * ```ts
 * import mysql from "mysql2/promise";
 * import { withEntra } from "@org/mysql2-entra";
 *
 * const pool = mysql.createPool(withEntra({ host: "myserver.mysql.database.azure.com", database: "app" }));
 * const [rows] = await pool.query("select current_user()");
 * ```
 *
 * @param config - Your mysql2 `ConnectionOptions` / `PoolOptions`. Defaults to `{}` (Service Connector variables).
 * @param options - Credential, username and refresh options. The credential defaults to `DefaultAzureCredential`.
 * @returns A copy of `config` with `authPlugins`, `user`, `ssl` (and the fields of a `uri`) set.
 * @throws EntraAuthError `INSECURE_TRANSPORT`, `INVALID_SETTING` (static password, conflicting
 *   auth hooks) or `USERNAME_UNRESOLVED` (no user and a custom `stream`), before any I/O.
 */
export function withEntra<T extends Mysql2EntraConfig = Mysql2EntraConfig>(
  config?: T,
  options: EntraOptions = {},
): T & Mysql2EntraConfig {
  const { config: prepared, target, userLearningStream } = prepareMysql2Connection(config, options);
  if (target.user !== undefined) return prepared as T & Mysql2EntraConfig;
  // mysql2 sends the user name in its handshake response, before the server switches to the
  // clear-password plugin, and copies the config into each connection when it is created. The
  // stream factory runs then and gets that copy, so it can read the name from the token first.
  return { ...prepared, stream: userLearningStream() } as T & Mysql2EntraConfig;
}
