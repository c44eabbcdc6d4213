import type { EntraOptions } from "@org/entra-core";
import { type PgEntraConfig, preparePgConnection } from "./prepare-pg-connection.js";

export type { PgEntraConfig } from "./prepare-pg-connection.js";

/**
 * Wires Microsoft Entra authentication into a node-postgres config: every new physical connection
 * presents a currently valid access token as its password, fetched once and shared by every pool in
 * the process, refreshed ahead of expiry while any connection is open (`pool.end()` stops that).
 *
 * - `host`, `port`, `database` and `user` default to the Service Connector variables
 *   (`AZURE_POSTGRESQL_HOST`, `_PORT`, `_DATABASE`, `_USER`); the username then falls back to
 *   `options.username` and finally to the token's claims (managed identity name, UPN).
 * - TLS is on and verified by default (`ssl: { rejectUnauthorized: true }`, which
 *   `NODE_TLS_REJECT_UNAUTHORIZED` cannot turn off). A config that disables TLS, certificate
 *   verification or the host name check (`ssl.checkServerIdentity`), and a process with
 *   `NODE_TLS_REJECT_UNAUTHORIZED=0`, throw `EntraAuthError` (`INSECURE_TRANSPORT`) unless
 *   `allowInsecure: true`. Before each token is handed to pg, the password hook checks the live
 *   connection itself: TLS up, certificate chain verified, certificate issued for the host.
 * - A `connectionString` is parsed into fields so that it cannot silently drop the password hook;
 *   it must not contain a password.
 * - When the server rejects a token as expired or invalid, the cached token is dropped so the next
 *   connection fetches a fresh one, and the error message says what to change.
 *
 * @example
 * ```ts
 * import pg from "pg";
 * import { withEntra } from "@org/pg-entra";
 *
 * const pool = new pg.Pool(withEntra({ host: "myserver.postgres.database.azure.com", database: "app" }));
 * const { rows } = await pool.query("select current_user");
 * ```
 *
 * @param config - Your pg `PoolConfig` / `ClientConfig`. Defaults to `{}` (Service Connector variables).
 * @param options - Credential, username and refresh options. The credential defaults to `DefaultAzureCredential`.
 * @returns A copy of `config` with `password`, `user`, `ssl` (and the fields of a `connectionString`)
 *   set; when no user name is known, also a `Client` that reads it from the token before
 *   connecting (a bare `pg.Client` cannot: its auth error says what to set).
 */
export function withEntra<T extends PgEntraConfig = PgEntraConfig>(
  config?: T,
  options: EntraOptions = {},
): T & PgEntraConfig {
  const { config: prepared, target, userLearningClient } = preparePgConnection(config, options);
  if (target.user !== undefined) return prepared as T & PgEntraConfig;
  return { ...prepared, Client: userLearningClient(config?.Client) } as T & PgEntraConfig;
}
