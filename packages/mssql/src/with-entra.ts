import { EntraAuthError, type EntraOptions, resolveEntraTarget, secureSqlEncryption } from "@org/entra-core";
import {
  createEntraAuthentication,
  type EntraAuthentication,
  holdWhileConnected,
  sessionExpiresSoon,
  trackSessionExpiry,
  watchEntraErrors,
} from "@org/tedious-entra";
import type sql from "mssql";
import { parseConnectionString } from "./parse-connection-string.js";

/**
 * The mssql config shape `withEntra` accepts: mssql's own `config`, with `server` optional
 * because it can come from `AZURE_SQL_SERVER`.
 */
export type MssqlEntraConfig = Omit<sql.config, "server"> & {
  /** The Azure SQL server, e.g. `myserver.database.windows.net`. Defaults to `AZURE_SQL_SERVER`. */
  server?: string;
};

/** What `withEntra` returns: your config type, now a complete mssql `config`. */
export type MssqlEntraResult<T extends MssqlEntraConfig = MssqlEntraConfig> = Omit<
  T & sql.config,
  "authentication" | "options"
> & {
  /** `{ type: "token-credential", options: { credential } }` with the Entra credential; mssql passes it to tedious. */
  authentication: EntraAuthentication;
  /** Your options with `encrypt` (`"strict"`) and `trustServerCertificate` resolved. */
  options: sql.IOptions;
};

type BeforeConnect = NonNullable<sql.config["beforeConnect"]>;

/** The pooled tedious connection mssql hands to `beforeConnect`; `hasError` is mssql's own flag. */
type PooledConnection = Parameters<BeforeConnect>[0] & { hasError?: boolean };

/** `beforeConnect` hooks made by `withEntra`, mapped to the caller's hook they wrap. */
const ownBeforeConnect = new WeakMap<BeforeConnect, BeforeConnect | undefined>();

/** Top-level mssql fields that hold a secret or a SQL/Windows login, and why they are refused. */
const REFUSED_FIELDS: ReadonlyArray<readonly [string, string]> = [
  ["password", "a static password"],
  ["token", "a static access token, which expires"],
  ["clientSecret", "a client secret"],
  ["msiSecret", "an MSI secret"],
  ["user", "a SQL login user name (with Entra the token identifies the principal)"],
  ["domain", "a Windows domain (NTLM authentication)"],
];

/**
 * Wires Microsoft Entra authentication into an mssql (node-mssql) config given as an ADO.NET
 * connection string, as the config form below does for a config object. The string is parsed with
 * mssql's own parser; one with a `Password`, `Token`, `Client Secret` or `MSI Secret`, or an
 * `Authentication` that is not Entra-compatible, is refused. `Encrypt=strict` is kept as
 * `"strict"`.
 *
 * @example
 * ```ts
 * const pool = await new sql.ConnectionPool(
 *   withEntra("Server=tcp:myserver.database.windows.net,1433;Database=app;Authentication=Active Directory Default"),
 * ).connect();
 * ```
 *
 * @param connectionString - An ADO.NET connection string, e.g.
 *   `Server=tcp:myserver.database.windows.net,1433;Database=app`.
 * @param options - Credential, client ID, scope and refresh options (the credential defaults to `DefaultAzureCredential`).
 * @returns A new config with `server`, `port`, `database`, `options`, `authentication` and `beforeConnect` set.
 * @throws EntraAuthError `MISSING_SETTING` (no server), `INSECURE_TRANSPORT` or `INVALID_SETTING`
 *   (the string cannot be parsed or carries a secret), before any I/O.
 */
export function withEntra(connectionString: string, options?: EntraOptions): MssqlEntraResult;
/**
 * Wires Microsoft Entra authentication into an mssql (node-mssql) config for
 * `new sql.ConnectionPool(config)` and `sql.connect(config)`: every pooled connection logs in
 * with a currently valid access token, fetched once and shared by every pool in the process,
 * refreshed ahead of expiry.
 *
 * - `authentication` comes from `@org/tedious-entra` (`token-credential` with the shared-provider
 *   credential); mssql passes it to tedious for each pooled connection. An existing
 *   `token-credential` credential is adopted; other types are refused with the reason.
 * - `server`, `port` and `database` default to `AZURE_SQL_SERVER`, `AZURE_SQL_PORT`,
 *   `AZURE_SQL_DATABASE`; the managed identity's client ID to `options.clientId`, then the
 *   config's `clientId` (or `options.clientId` of the config), then `AZURE_SQL_CLIENTID`.
 * - TLS: `options.encrypt` is `"strict"` (TDS 8), also when the config or connection string says
 *   `true` / `Encrypt=True` (see `@org/tedious-entra` for why); `options.trustServerCertificate`
 *   defaults to `false`. Insecure values and `NODE_TLS_REJECT_UNAUTHORIZED=0` throw
 *   `EntraAuthError` (`INSECURE_TRANSPORT`) unless `allowInsecure`.
 * - A connection string is parsed with mssql's own parser; one with a password, token or secret
 *   is refused. A static `password`, `user`, `domain`, `token` or secret in the config is refused.
 * - `beforeConnect` (yours still runs) watches each pooled connection: a failed login's error says
 *   what to change and drops an expired token; the pool retires a session before its token
 *   expires (its validation sees it as broken), so queries never meet Azure SQL's mid-session
 *   error 37396; a session held past expiry anyway gets 37396 explained and is marked broken so
 *   the pool replaces it. Each open connection holds the shared provider, which refreshes ahead of
 *   expiry until `pool.close()` has closed them all.
 *
 * @example
 * ```ts
 * import sql from "mssql";
 * import { withEntra } from "@org/mssql-entra";
 *
 * const pool = await new sql.ConnectionPool(
 *   withEntra({ server: "myserver.database.windows.net", database: "app" }),
 * ).connect();
 * const { recordset } = await pool.query`select suser_sname() as name`;
 * ```
 *
 * @param config - Your mssql `config`. Defaults to `{}` (Service Connector variables).
 * @param options - Credential, client ID, scope and refresh options (the credential defaults to `DefaultAzureCredential`).
 * @returns A new config with `server`, `port`, `database`, `options`, `authentication` and `beforeConnect` set.
 * @throws EntraAuthError `MISSING_SETTING` (no server), `INSECURE_TRANSPORT` or `INVALID_SETTING`, before any I/O.
 */
export function withEntra<T extends MssqlEntraConfig = MssqlEntraConfig>(
  config?: T,
  options?: EntraOptions,
): MssqlEntraResult<T>;
export function withEntra(
  config?: MssqlEntraConfig | string,
  options: EntraOptions = {},
): MssqlEntraResult<MssqlEntraConfig> {
  const base: MssqlEntraConfig =
    typeof config === "string" ? parseConnectionString(config) : { ...(config ?? {}) };
  refuseStaticSecrets(base);
  const given = { ...base.options } as sql.IOptions & { clientId?: unknown };
  const loose = base as MssqlEntraConfig & {
    encrypt?: unknown;
    trustServerCertificate?: unknown;
    clientId?: unknown;
  };
  const target = resolveEntraTarget(
    "sqlserver",
    { host: base.server, port: base.port, database: nonEmpty(base.database) ?? nonEmpty(given.database) },
    {
      ...options,
      // mssql's own `clientId` field, or where Service Connector's sample puts it (`options.clientId`).
      clientId: options.clientId || stringOrUndefined(loose.clientId) || stringOrUndefined(given.clientId),
    },
  );
  const server = target.host;
  if (server === undefined) {
    throw new EntraAuthError("MISSING_SETTING", "No Azure SQL server was given.", {
      hint: "Pass `server` (e.g. myserver.database.windows.net) or set AZURE_SQL_SERVER.",
    });
  }
  // mssql reads top-level encrypt / trustServerCertificate when options has none.
  const { encrypt, trustServerCertificate } = secureSqlEncryption(
    {
      encrypt: given.encrypt ?? loose.encrypt,
      trustServerCertificate: given.trustServerCertificate ?? loose.trustServerCertificate,
    },
    options,
  );

  const named = given.instanceName !== undefined || server.includes("\\");
  // mssql prefers options.port over port; fill in AZURE_SQL_PORT only when neither is set.
  const port = base.port ?? (given.port !== undefined || named ? undefined : target.settings.port);
  const database =
    nonEmpty(base.database) ?? (nonEmpty(given.database) ? undefined : target.settings.database);

  const authentication = createEntraAuthentication(base.authentication, { ...options, target });
  return {
    ...base,
    server,
    ...(port === undefined ? {} : { port }),
    ...(database === undefined ? {} : { database }),
    options: { ...given, encrypt, trustServerCertificate } as sql.IOptions,
    authentication,
    beforeConnect: createBeforeConnect(base.beforeConnect),
  } as MssqlEntraResult<MssqlEntraConfig>;
}

function refuseStaticSecrets(config: MssqlEntraConfig): void {
  for (const [key, what] of REFUSED_FIELDS) {
    const value = (config as Record<string, unknown>)[key];
    if (typeof value === "string" && value !== "") {
      throw new EntraAuthError("INVALID_SETTING", `The mssql config has \`${key}\`, ${what}.`, {
        hint: `Remove \`${key}\`: @org/mssql-entra signs in with a fresh Microsoft Entra access token for each connection.`,
      });
    }
  }
}

/**
 * mssql calls `beforeConnect(connection)` for every pooled tedious connection, right after
 * `connect()` and before any I/O completes, so listeners attached here see the login's outcome.
 */
function createBeforeConnect(existing: BeforeConnect | undefined): BeforeConnect {
  const inner = existing && ownBeforeConnect.has(existing) ? ownBeforeConnect.get(existing) : existing;
  const hook: BeforeConnect = (connection) => {
    const pooled = connection as PooledConnection;
    watchEntraErrors(pooled, {
      // mssql's pool validation discards connections flagged like this on the next acquire.
      onSessionTokenExpired: () => {
        pooled.hasError = true;
      },
    });
    retireBeforeTokenExpiry(pooled);
    // From its login until it closes (pool.close() closes every connection), the connection
    // keeps the shared provider refreshing ahead of expiry.
    holdWhileConnected(pooled);
    inner?.(connection);
  };
  ownBeforeConnect.set(hook, inner);
  return hook;
}

/**
 * mssql's pool validates a connection before handing it out (`!closed && !hasError`): `hasError`
 * also turns true once the session's token is about to expire, so the pool closes that session and
 * opens a new one with a fresh token instead of sending the next query into Azure SQL's 37396.
 * mssql's own writes of the flag (socket errors) are kept.
 */
function retireBeforeTokenExpiry(pooled: PooledConnection): void {
  trackSessionExpiry(pooled);
  let hasError = pooled.hasError === true;
  Object.defineProperty(pooled, "hasError", {
    configurable: true,
    enumerable: true,
    get: () => hasError || sessionExpiresSoon(pooled),
    set: (value: boolean) => {
      hasError = value;
    },
  });
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === "" ? undefined : value;
}

function stringOrUndefined(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}
