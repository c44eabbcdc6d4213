import { EntraAuthError, resolveUsername } from "@org/entra-core";
import { acquireToken } from "./acquire-token.js";
import type { CliIo } from "./cli-io.js";
import { requireHost, resolveTarget, type TargetFlags } from "./resolve-target.js";

/** What a PostgreSQL or MySQL client needs to log in with a token: what `url` and `env` print. */
export interface Login {
  readonly engine: "postgresql" | "mysql";
  readonly host: string;
  readonly port: number;
  /** Absent when neither `--database` nor `*_DATABASE` is set. */
  readonly database?: string | undefined;
  /** `--user`, else `*_USER`, else the name in the token (see `resolveUsername`). */
  readonly user: string;
  /** The access token, used as the password. */
  readonly token: string;
}

/** Options for {@link resolveLogin}. */
export interface ResolveLoginOptions {
  /** The command, for the message refusing Azure SQL (`entra-db <command> supports ...`). */
  readonly command: string;
  /** What to use for Azure SQL instead, the hint of that message. */
  readonly azureSqlHint: string;
}

/**
 * The login of `url` and `env`: the target from the flags and Service Connector variables (see
 * `resolveTarget`), which must be PostgreSQL or MySQL and have a host, a token for it within
 * `--timeout` (see `acquireToken`), and the user. Throws `EntraAuthError`: `INVALID_SETTING` for
 * Azure SQL or a malformed flag or variable, `MISSING_SETTING` without a host, and the token's errors.
 *
 * @example
 * ```ts
 * const login = await resolveLogin(flags, io, { command: "env", azureSqlHint: "Use sqlcmd." });
 * ```
 */
export async function resolveLogin(
  flags: TargetFlags & { readonly timeout?: string | undefined },
  io: CliIo,
  options: ResolveLoginOptions,
): Promise<Login> {
  const target = resolveTarget(flags, io.env);
  if (target.engine === "sqlserver") {
    throw new EntraAuthError(
      "INVALID_SETTING",
      `entra-db ${options.command} supports postgresql and mysql only.`,
      { hint: options.azureSqlHint },
    );
  }
  const host = requireHost(target);
  const { token } = await acquireToken(io, {
    scope: target.scope,
    clientId: target.clientId,
    timeout: flags.timeout,
  });
  const user = resolveUsername({ explicit: target.user, token });
  return { engine: target.engine, host, port: target.port, database: target.database, user, token };
}
