import { type Engine, EntraAuthError } from "@org/entra-core";
import { CliError } from "./cli-error.js";

/**
 * Environment variables by name, as in `process.env`.
 *
 * @inline
 */
type Env = Readonly<Record<string, string | undefined>>;

/** The engines and the prefix of their Service Connector variables. */
export const ENGINE_PREFIXES: Readonly<Record<Engine, string>> = {
  postgresql: "AZURE_POSTGRESQL_",
  mysql: "AZURE_MYSQL_",
  sqlserver: "AZURE_SQL_",
};

const ALIASES: Readonly<Record<string, Engine>> = {
  postgresql: "postgresql",
  postgres: "postgresql",
  pg: "postgresql",
  mysql: "mysql",
  mariadb: "mysql",
  sqlserver: "sqlserver",
  mssql: "sqlserver",
  sql: "sqlserver",
};

/**
 * The names of the non-empty Service Connector variables of an engine, sorted; empty when none
 * is set.
 *
 * @example
 * ```ts
 * serviceConnectorVariables("mysql", process.env); // ["AZURE_MYSQL_HOST", "AZURE_MYSQL_USER"]
 * ```
 */
export function serviceConnectorVariables(engine: Engine, env: Env): string[] {
  const prefix = ENGINE_PREFIXES[engine];
  return Object.keys(env)
    .filter((name) => name.startsWith(prefix) && (env[name]?.trim() ?? "") !== "")
    .sort();
}

/**
 * The engines whose Service Connector variables are set, in the order postgresql, mysql, sqlserver.
 *
 * @example
 * ```ts
 * configuredEngines({ AZURE_MYSQL_HOST: "h", AZURE_SQL_SERVER: "s" }); // ["mysql", "sqlserver"]
 * ```
 */
export function configuredEngines(env: Env): Engine[] {
  return (Object.keys(ENGINE_PREFIXES) as Engine[]).filter(
    (engine) => serviceConnectorVariables(engine, env).length > 0,
  );
}

/**
 * Reads an `--engine` value (`postgresql`, `mysql`, `sqlserver`, or the aliases `postgres`, `pg`,
 * `mariadb`, `mssql`, `sql`). Throws `CliError` `USAGE` for anything else.
 */
export function parseEngine(flag: string): Engine {
  const engine = ALIASES[flag.trim().toLowerCase()];
  if (!engine) {
    throw new CliError("USAGE", `Unknown engine "${flag}".`, "Use --engine postgresql, mysql or sqlserver.");
  }
  return engine;
}

/**
 * Picks the engine: the `--engine` flag (aliases such as `pg` and `mssql` accepted), else the one engine whose
 * Service Connector variables are set. Throws `CliError` `USAGE` for an unknown engine and when
 * variables of several engines are set (the message names them), and `EntraAuthError`
 * `MISSING_SETTING` when there is neither a flag nor a variable.
 *
 * @example
 * ```ts
 * selectEngine(undefined, { AZURE_MYSQL_HOST: "srv.mysql.database.azure.com" }); // "mysql"
 * ```
 */
export function selectEngine(flag: string | undefined, env: Env): Engine {
  if (flag !== undefined) return parseEngine(flag);
  const found = configuredEngines(env);
  if (found.length === 1) return found[0] as Engine;
  if (found.length === 0) {
    throw new EntraAuthError("MISSING_SETTING", "No --engine given and no Service Connector variables set.", {
      hint: "Pass --engine postgresql|mysql|sqlserver (with --host), or set AZURE_POSTGRESQL_HOST, AZURE_MYSQL_HOST or AZURE_SQL_SERVER.",
    });
  }
  throw new CliError(
    "USAGE",
    `Service Connector variables are set for several engines (${found.join(", ")}).`,
    `Pass --engine ${found.join("|")} to pick one.`,
  );
}
