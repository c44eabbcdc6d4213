import { EntraAuthError } from "./entra-auth-error.js";
import type { Engine } from "./scope-for.js";

/** Connection settings read from Service Connector environment variables; absent ones are left out. */
export interface ResolvedSettings {
  /** Server host name (`AZURE_POSTGRESQL_HOST`, `AZURE_MYSQL_HOST`, `AZURE_SQL_SERVER`). */
  readonly host?: string;
  /** Port, 1-65535 (`*_PORT`). */
  readonly port?: number;
  /** Database name (`*_DATABASE`). */
  readonly database?: string;
  /** Database username (`*_USER`; not for SQL). */
  readonly user?: string;
  /** Whether TLS is requested (`*_SSL`: true/false/1/0; not for SQL). */
  readonly ssl?: boolean;
  /** Client ID of the user-assigned managed identity (`*_CLIENTID`). */
  readonly clientId?: string;
}

/**
 * Environment variables by name, as in `process.env`.
 *
 * @inline
 */
type Env = Readonly<Record<string, string | undefined>>;

const PREFIX: Readonly<Record<Engine, string>> = {
  postgresql: "AZURE_POSTGRESQL_",
  mysql: "AZURE_MYSQL_",
  sqlserver: "AZURE_SQL_",
};

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The name of an engine's Service Connector variable, e.g. `AZURE_MYSQL_USER` for
 * `("mysql", "USER")`. Azure SQL's use the prefix `AZURE_SQL_`.
 */
export function serviceConnectorVariable(engine: Engine, suffix: string): string {
  return `${PREFIX[engine]}${suffix}`;
}

function invalid(name: string, message: string): EntraAuthError {
  return new EntraAuthError("INVALID_SETTING", `${name} ${message}`, {
    hint: `Fix or unset ${name} (it is normally set by Azure Service Connector).`,
  });
}

/** Shows a host without any `user:password@` part it may wrongly contain. */
function safeHost(value: string): string {
  return value.replace(/^([^/]*\/\/)?[^@/]*@/, "$1***@");
}

/**
 * Reads the Service Connector variables of an engine: `AZURE_POSTGRESQL_HOST/_PORT/_DATABASE/_USER/_SSL/_CLIENTID`,
 * `AZURE_MYSQL_*` likewise, `AZURE_SQL_SERVER/_PORT/_DATABASE/_CLIENTID`. Empty values count as
 * absent. Malformed values throw `EntraAuthError` code `INVALID_SETTING` naming the variable
 * (port not an integer 1-65535, `_SSL` not true/false/1/0, host with a scheme or path, client ID
 * not a GUID).
 *
 * @example
 * ```ts
 * const { host, database, user, clientId } = resolveSettings("postgresql");
 * ```
 *
 * Reads `process.env` unless given another `env`.
 */
export function resolveSettings(engine: Engine, env: Env = process.env): ResolvedSettings {
  const prefix = PREFIX[engine];
  if (!prefix) throw new EntraAuthError("INVALID_SETTING", `Unknown engine "${String(engine)}".`);
  const read = (suffix: string): [string, string | undefined] => {
    const name = prefix + suffix;
    const value = env[name]?.trim();
    return [name, value === "" ? undefined : value];
  };
  const settings: { -readonly [K in keyof ResolvedSettings]: ResolvedSettings[K] } = {};

  const [hostName, host] = read(engine === "sqlserver" ? "SERVER" : "HOST");
  if (host !== undefined) {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(host) || /[/@\s]/.test(host)) {
      throw invalid(
        hostName,
        `must be a host name without scheme, credentials or path (got "${safeHost(host)}").`,
      );
    }
    settings.host = host;
  }

  const [portName, port] = read("PORT");
  if (port !== undefined) {
    const value = /^\d{1,5}$/.test(port) ? Number(port) : Number.NaN;
    if (!(value >= 1 && value <= 65535)) {
      throw invalid(portName, `must be an integer from 1 to 65535 (got "${port}").`);
    }
    settings.port = value;
  }

  const [, database] = read("DATABASE");
  if (database !== undefined) settings.database = database;

  if (engine !== "sqlserver") {
    const [, user] = read("USER");
    if (user !== undefined) settings.user = user;
    const [sslName, ssl] = read("SSL");
    if (ssl !== undefined) {
      const lower = ssl.toLowerCase();
      if (lower === "true" || lower === "1") settings.ssl = true;
      else if (lower === "false" || lower === "0") settings.ssl = false;
      else throw invalid(sslName, `must be true, false, 1 or 0 (got "${ssl}").`);
    }
  }

  const [clientIdName, clientId] = read("CLIENTID");
  if (clientId !== undefined) {
    if (!GUID.test(clientId)) {
      // A misplaced secret could land here: show only its shape.
      throw invalid(
        clientIdName,
        `must be a GUID like 00000000-0000-0000-0000-000000000000 (got a ${clientId.length}-character value starting "${clientId.slice(0, 4)}").`,
      );
    }
    settings.clientId = clientId;
  }
  return Object.freeze(settings);
}
