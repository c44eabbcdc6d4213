import { EntraAuthError, type EntraOptions } from "@org/entra-core";
import { type Mysql2EntraConfig, withEntra as withMysql2Entra } from "@org/mysql2-entra";
import { type PgEntraConfig, preparePgConnection } from "@org/pg-entra";
import type { Knex } from "knex";
import {
  assertKnexPassesCredential,
  createMssqlAfterCreate,
  createMssqlValidate,
  withEntraMssqlConnection,
} from "./mssql-connection.js";
import { type KnexEntraDriver, resolveDriver } from "./resolve-driver.js";

/** The knex config shape `withEntra` accepts and returns: knex's own `Knex.Config`. */
export type KnexEntraConfig = Knex.Config;

/** A static knex connection: an object, or a connection string. */
type StaticConnection = string | Record<string, unknown>;

/** What a knex connection provider function resolves to. */
type ProvidedConnection = Record<string, unknown> & { expirationChecker?: () => boolean };

/** A knex connection provider (`connection: () => config`, sync or async). */
type ConnectionProvider = () => StaticConnection | Promise<StaticConnection>;

/**
 * Wires Microsoft Entra authentication into a knex config: every new physical connection knex's
 * pool opens presents a currently valid access token, fetched once and shared by every pool in
 * the process, refreshed ahead of expiry. The work is done by the driver adapters:
 *
 * - client `pg` / `postgres` / `postgresql`: `connection` goes through `@org/pg-entra`'s
 *   `withEntra` (async `password` function, `ssl: true`, a connection string parsed into fields);
 * - client `mysql2`: `connection` goes through `@org/mysql2-entra`'s `withEntra`
 *   (`authPlugins.mysql_clear_password`, `ssl: { verifyIdentity: true }`, a `uri` or connection
 *   string parsed into fields);
 * - client `mssql` (Azure SQL): `connection` goes through `@org/mssql-entra`'s `withEntra` and is
 *   mapped back to the fields knex's mssql dialect reads: `type: "token-credential"` and
 *   `credential` (tedious calls it at every login), `encrypt: "strict"` (knex itself defaults
 *   `encrypt` to `false`) and `options.trustServerCertificate: false`. A `user`, `password`,
 *   `token`, `domain`, `clientSecret` or another `type` is refused; `clientId` names the managed identity.
 *   `pool.afterCreate` (yours still runs) makes each connection hold the shared token provider
 *   and learns when its token expires; `pool.validate` (yours still runs) then has the pool retire a
 *   session shortly before its token expires, so queries never meet Azure SQL's mid-session error
 *   37396 (a session held past expiry anyway gets 37396 explained and is not reused).
 *
 * Each open connection holds the shared token provider, which refreshes ahead of expiry while
 * knex has connections open and stops once `destroy()` has closed them.
 *
 * `host` / `server`, `port`, `database` and `user` default to the Service Connector variables
 * (`AZURE_POSTGRESQL_*` / `AZURE_MYSQL_*` / `AZURE_SQL_*`); for pg and mysql2 the user name then
 * falls back to `options.username` and finally to the token's claims (Azure SQL needs none). Everything else in the config (`pool`, `migrations`, `seeds`,
 * `searchPath`, ...) is kept as is (with client `mssql`, `pool.afterCreate` and `pool.validate` are chained as above); the
 * input is not modified.
 *
 * A `connection` function (knex's connection provider) is wrapped: each config it returns goes
 * through the driver adapter, and its `expirationChecker` is kept. Without one, knex caches the first
 * config forever, which is now harmless: it holds the token hook, never a token.
 *
 * Refused with `EntraAuthError` before any I/O: clients `pgnative`, `mysql` and `mariadb` (no hook for
 * a per-connection token), `connectionPool` (wrap that pool's own config instead), a static
 * password (or another static secret), and TLS that is off or unverified unless
 * `options.allowInsecure` is `true`.
 *
 * @example
 * ```ts
 * import knex from "knex";
 * import { withEntra } from "@org/knex-entra";
 *
 * const db = knex(withEntra({ client: "pg", connection: { host: "myserver.postgres.database.azure.com", database: "app" } }));
 * const rows = await db.select(db.raw("current_user"));
 * ```
 *
 * @param config - Your knex config; `client` is required. `connection` defaults to `{}` (the
 *   Service Connector variables).
 * @param options - Credential, username, TLS and refresh options, passed to the driver adapter.
 *   Defaults to `DefaultAzureCredential` with the shared token provider.
 * @returns A copy of `config` whose `connection` carries the driver's token hook, user and TLS settings.
 * @throws EntraAuthError `MISSING_SETTING` / `INVALID_SETTING` (client, static password, external
 *   pool, knex before 3.3.0 with client `mssql`), `INSECURE_TRANSPORT`, or `USERNAME_UNRESOLVED` from the driver adapter.
 */
export function withEntra<T extends KnexEntraConfig>(config: T, options: EntraOptions = {}): T {
  const driver = resolveDriver(config);
  if (driver === "mssql") assertKnexPassesCredential();
  if (config.connectionPool !== undefined) {
    throw new EntraAuthError("INVALID_SETTING", "The knex config uses an external `connectionPool`.", {
      hint: `knex uses that pool as it is: build it from a config wrapped with @org/${driver}-entra's withEntra, and do not wrap the knex config.`,
    });
  }
  const connection = config.connection as StaticConnection | ConnectionProvider | undefined | null;
  const wrapped =
    typeof connection === "function"
      ? wrapProvider(driver, connection, options)
      : wrapConnection(driver, connection ?? {}, options);
  if (driver !== "mssql") return { ...config, connection: wrapped } as T;
  // knex's mssql dialect opens tedious connections itself; its pool's afterCreate sees each one.
  const pool = {
    ...config.pool,
    afterCreate: createMssqlAfterCreate(config.pool?.afterCreate),
    validate: createMssqlValidate(config.pool?.validate),
  };
  return { ...config, connection: wrapped, pool } as T;
}

/**
 * Runs one static connection through the driver adapter. For pg with no user name known, the
 * result is a connection provider instead: knex builds each connection with `pg.Client` itself
 * (ignoring a `Client` in the config), and pg sends the user name before it asks for the token, so
 * the name is read from the token's claims first.
 */
function wrapConnection(
  driver: KnexEntraDriver,
  connection: StaticConnection,
  options: EntraOptions,
): ProvidedConnection | (() => Promise<ProvidedConnection>) {
  if (driver === "mssql") return withEntraMssqlConnection(connection, options);
  if (driver === "mysql2") {
    const input = (typeof connection === "string" ? { uri: connection } : connection) as Mysql2EntraConfig;
    return withMysql2Entra(input, options) as ProvidedConnection;
  }
  const input = (
    typeof connection === "string" ? { connectionString: connection } : connection
  ) as PgEntraConfig;
  const { config, target } = preparePgConnection(input, options);
  if (target.user !== undefined) return config as ProvidedConnection;
  // knex builds each connection with `pg.Client` itself (a `Client` in the config is ignored),
  // and pg sends the user name before it asks for the token: read the name from the token first.
  // The name of an identity does not change, and the config holds the token hook, not a token:
  // knex may keep it for good.
  return async () => ({ ...config, user: await target.resolveUser(), expirationChecker: () => false });
}

/** Wraps a knex connection provider: every config it returns goes through the driver adapter. */
function wrapProvider(
  driver: KnexEntraDriver,
  provider: ConnectionProvider,
  options: EntraOptions,
): () => Promise<ProvidedConnection> {
  return async () => {
    const provided = await provider();
    if (typeof provided === "string") return resolveConnection(driver, provided, options);
    const { expirationChecker, ...fields } = provided as ProvidedConnection;
    const resolved = await resolveConnection(driver, fields, options);
    return expirationChecker ? { ...resolved, expirationChecker } : resolved;
  };
}

async function resolveConnection(
  driver: KnexEntraDriver,
  connection: StaticConnection,
  options: EntraOptions,
): Promise<ProvidedConnection> {
  const wrapped = wrapConnection(driver, connection, options);
  return typeof wrapped === "function" ? wrapped() : wrapped;
}
