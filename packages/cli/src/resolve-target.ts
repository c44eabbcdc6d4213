import { type Engine, EntraAuthError, resolveSettings, scopeFor } from "@org/entra-core";
import { CliError } from "./cli-error.js";
import type { CommandFlags, TARGET_OPTIONS } from "./command-options.js";
import { selectEngine } from "./select-engine.js";

type Env = Readonly<Record<string, string | undefined>>;

/** The connection flags every command accepts (`--engine`, `--host`, ... `--scope`). */
export type TargetFlags = Omit<CommandFlags<typeof TARGET_OPTIONS>, "timeout" | "help">;

/** Where a command connects to and how it asks for a token: flags over Service Connector variables. */
export interface Target {
  readonly engine: Engine;
  readonly host?: string | undefined;
  readonly port: number;
  readonly database?: string | undefined;
  /** `--user`, else the `*_USER` variable; the token's claims come last (see `resolveUsername`). */
  readonly user?: string | undefined;
  /** Where `user` came from, for messages. */
  readonly userSource?: "--user" | string | undefined;
  readonly clientId?: string | undefined;
  readonly scope: string;
  /** True when `scope` came from `--scope`. */
  readonly scopeOverridden: boolean;
  readonly ssl?: boolean | undefined;
  /** The settings that came from flags rather than the Service Connector variables, e.g. `["--host", "--port"]`. */
  readonly fromFlags?: readonly string[] | undefined;
}

/** The default port of an engine. */
export function defaultPort(engine: Engine): number {
  return engine === "postgresql" ? 5432 : engine === "mysql" ? 3306 : 1433;
}

function parsePort(value: string): number {
  const port = /^\d{1,5}$/.test(value) ? Number(value) : Number.NaN;
  if (!(port >= 1 && port <= 65535)) {
    throw new CliError("USAGE", `--port must be an integer from 1 to 65535 (got "${value}").`);
  }
  return port;
}

/**
 * Resolves the target of a command: the engine (see `selectEngine`), then each of host, port,
 * database, user and client ID from its flag, else its Service Connector variable (the port
 * last from the engine's standard port, see {@link defaultPort}), and the scope from `--scope`,
 * else `scopeFor(engine, host)`. Throws `EntraAuthError` `INVALID_SETTING` for a malformed
 * variable, `CliError` `USAGE` for a malformed flag (`--port`, `--engine`).
 *
 * @example
 * ```ts
 * const target = resolveTarget({ engine: "postgresql" }, process.env);
 * ```
 */
export function resolveTarget(flags: TargetFlags, env: Env): Target {
  const engine = selectEngine(flags.engine, env);
  const settings = resolveSettings(engine, env);
  const prefix =
    engine === "postgresql" ? "AZURE_POSTGRESQL_" : engine === "mysql" ? "AZURE_MYSQL_" : "AZURE_SQL_";
  const host = flags.host || settings.host;
  const user = flags.user || settings.user;
  return {
    engine,
    host,
    port: flags.port ? parsePort(flags.port) : (settings.port ?? defaultPort(engine)),
    database: flags.database || settings.database,
    user,
    userSource: flags.user ? "--user" : settings.user ? `${prefix}USER` : undefined,
    clientId: flags["client-id"] || settings.clientId,
    scope: flags.scope || scopeFor(engine, host),
    scopeOverridden: Boolean(flags.scope),
    ssl: settings.ssl,
    fromFlags: (["host", "port", "database", "user", "client-id", "scope"] as const)
      .filter((name) => Boolean(flags[name]))
      .map((name) => `--${name}`),
  };
}

/**
 * The settings a command actually uses, in one line: `engine host:port/database user <user>
 * client id <id>` (flags over Service Connector variables, the port defaulted per engine), for
 * every verb that shows its settings.
 *
 * @example
 * ```ts
 * describeTarget(resolveTarget({ host: "127.0.0.1", port: "5432" }, process.env));
 * // "postgresql 127.0.0.1:5432/app user orders-api"
 * ```
 */
export function describeTarget(target: Target): string {
  return [
    target.engine,
    target.host ? ` ${target.host}:${target.port}` : " (no host)",
    target.database ? `/${target.database}` : "",
    target.user ? ` user ${target.user}` : "",
    target.clientId ? ` client id ${target.clientId}` : "",
    target.scopeOverridden ? ` scope ${target.scope}` : "",
  ].join("");
}

/** Throws `MISSING_SETTING` when the target has no host. */
export function requireHost(target: Target): string {
  if (target.host) return target.host;
  const variable =
    target.engine === "sqlserver" ? "AZURE_SQL_SERVER" : `AZURE_${target.engine.toUpperCase()}_HOST`;
  throw new EntraAuthError("MISSING_SETTING", `No host given for ${target.engine}.`, {
    hint: `Pass --host or set ${variable}.`,
  });
}
