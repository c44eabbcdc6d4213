import { EntraAuthError, type EntraOptions, resolveEntraTarget, secureSqlEncryption } from "@org/entra-core";
import type { ConnectionConfiguration, ConnectionOptions } from "tedious";
import { createEntraAuthentication, type EntraAuthentication } from "./create-entra-authentication.js";

/**
 * The tedious config shape `withEntra` accepts: tedious's own `ConnectionConfiguration`, with
 * `server` optional because it can come from `AZURE_SQL_SERVER`.
 */
export type TediousEntraConfig = Omit<ConnectionConfiguration, "server"> & {
  /** The Azure SQL server, e.g. `myserver.database.windows.net`. Defaults to `AZURE_SQL_SERVER`. */
  server?: string;
};

/** What `withEntra` returns: your config type, now a complete tedious `ConnectionConfiguration`. */
export type TediousEntraResult<T extends TediousEntraConfig = TediousEntraConfig> = Omit<
  T & ConnectionConfiguration,
  "authentication" | "options"
> & {
  /** `{ type: "token-credential", options: { credential } }` with the Entra credential. */
  authentication: EntraAuthentication;
  /** Your options with `encrypt` (`"strict"`), `trustServerCertificate`, `port` and `database` resolved. */
  options: ConnectionOptions;
};

/**
 * Wires Microsoft Entra authentication into a tedious config: every login presents a currently
 * valid access token, fetched once and shared by every connection in the process, refreshed ahead
 * of expiry.
 *
 * - `authentication` becomes `{ type: "token-credential", options: { credential } }` with a
 *   credential from `createEntraTokenCredential` (tedious's own `azure-active-directory-*` types
 *   would build a new credential and fetch a new token for every login). An existing
 *   `token-credential` credential is adopted and cached; any other type is refused.
 * - `server`, `options.port` and `options.database` default to the Service Connector variables
 *   `AZURE_SQL_SERVER`, `AZURE_SQL_PORT`, `AZURE_SQL_DATABASE`; the managed identity's client ID
 *   to `options.clientId`, then `AZURE_SQL_CLIENTID`.
 * - TLS: `options.encrypt` is `"strict"` (TDS 8: TLS before the first byte, certificate and host
 *   name verified) and `options.trustServerCertificate` defaults to `false`. `encrypt: true` (what
 *   `Encrypt=True` in Azure's connection strings means) becomes `"strict"` too: with `true` tedious
 *   lets the server's PRELOGIN answer decide, so a machine in the middle answering "encryption not
 *   supported" would receive the token in clear. `encrypt: false`, `trustServerCertificate: true`
 *   and a process with `NODE_TLS_REJECT_UNAUTHORIZED=0` throw `EntraAuthError`
 *   (`INSECURE_TRANSPORT`) unless `allowInsecure: true`, which also keeps `encrypt: true` as given.
 * - tedious has no config-level hook for login failures: use `explainEntraError` or
 *   `watchEntraErrors` to get the reason and have an expired token dropped.
 * - Nor one that sees each connection: the shared provider refreshes ahead of expiry in the
 *   background only while a connection holds it. Call `holdWhileConnected(connection)` for that;
 *   without it, a login that finds the token close to expiry fetches a new one.
 *
 * @example
 * ```ts
 * import { Connection } from "tedious";
 * import { withEntra } from "@org/tedious-entra";
 *
 * const connection = new Connection(
 *   withEntra({ server: "myserver.database.windows.net", options: { database: "app" } }),
 * );
 * ```
 *
 * @param config - Your tedious `ConnectionConfiguration`. Defaults to `{}` (Service Connector variables).
 * @param options - Credential, client ID, scope and refresh options (the credential defaults to `DefaultAzureCredential`).
 * @returns A copy of `config` with `server`, `authentication` and `options` (port, database, encrypt,
 *   trustServerCertificate) set.
 * @throws EntraAuthError `MISSING_SETTING` (no server), `INSECURE_TRANSPORT`, or `INVALID_SETTING`
 *   (another authentication type, malformed `AZURE_SQL_*` variable), before any I/O.
 */
export function withEntra<T extends TediousEntraConfig = TediousEntraConfig>(
  config?: T,
  options: EntraOptions = {},
): TediousEntraResult<T> {
  const given = (config ?? {}) as T;
  const target = resolveEntraTarget(
    "sqlserver",
    { host: given.server, port: given.options?.port, database: given.options?.database },
    options,
  );
  const server = target.host;
  if (server === undefined) {
    throw new EntraAuthError("MISSING_SETTING", "No Azure SQL server was given.", {
      hint: "Pass `server` (e.g. myserver.database.windows.net) or set AZURE_SQL_SERVER.",
    });
  }
  const tediousOptions: ConnectionOptions = {
    ...given.options,
    ...(secureSqlEncryption(given.options ?? {}, options) as Pick<
      ConnectionOptions,
      "encrypt" | "trustServerCertificate"
    >),
  };
  if (tediousOptions.port === undefined && tediousOptions.instanceName === undefined && target.port) {
    tediousOptions.port = target.port;
  }
  if (nonEmpty(tediousOptions.database) === undefined && target.database !== undefined) {
    tediousOptions.database = target.database;
  }
  const authentication = createEntraAuthentication(given.authentication, { ...options, target });
  return { ...given, server, options: tediousOptions, authentication } as TediousEntraResult<T>;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === "" ? undefined : value;
}
