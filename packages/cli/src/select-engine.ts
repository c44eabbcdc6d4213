import { type Engine, EntraAuthError } from "@org/entra-core";

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
 * Picks the engine: the `--engine` flag (`postgresql`, `mysql`, `sqlserver`, or the aliases
 * `postgres`, `pg`, `mariadb`, `mssql`, `sql`), else the one engine whose Service Connector
 * variables are set. Throws `EntraAuthError` (`INVALID_SETTING` / `MISSING_SETTING`) otherwise.
 *
 * @example
 * ```ts
 * selectEngine(undefined, { AZURE_MYSQL_HOST: "srv.mysql.database.azure.com" }); // "mysql"
 * ```
 */
export function selectEngine(flag: string | undefined, env: Env): Engine {
  if (flag !== undefined) {
    const engine = ALIASES[flag.trim().toLowerCase()];
    if (!engine) {
      throw new EntraAuthError("INVALID_SETTING", `Unknown engine "${flag}".`, {
        hint: "Use --engine postgresql, mysql or sqlserver.",
      });
    }
    return engine;
  }
  const found = (Object.keys(ENGINE_PREFIXES) as Engine[]).filter(
    (engine) => serviceConnectorVariables(engine, env).length > 0,
  );
  if (found.length === 1) return found[0] as Engine;
  if (found.length === 0) {
    throw new EntraAuthError("MISSING_SETTING", "No --engine given and no Service Connector variables set.", {
      hint: "Pass --engine postgresql|mysql|sqlserver (with --host), or set AZURE_POSTGRESQL_HOST, AZURE_MYSQL_HOST or AZURE_SQL_SERVER.",
    });
  }
  throw new EntraAuthError(
    "MISSING_SETTING",
    `Service Connector variables are set for several engines (${found.join(", ")}).`,
    { hint: `Pass --engine ${found.join("|")} to pick one.` },
  );
}
