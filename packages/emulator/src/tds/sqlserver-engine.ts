import { authorizeSqlLogin } from "../authorize-login.js";
import { type EngineAddress, type EngineContext, engineListenOptions } from "../emulator-engine.js";
import type { EmulatorSqlServerOptions } from "../emulator-options.js";
import { startSqlServerEndpoint } from "./tds-server.js";

/** The run-time switch and count of sessions ended with error 37396, shared with the emulator handle. */
export interface SqlSessionExpiry {
  /** Whether a request on a session whose token expired ends it (37396). */
  enabled: boolean;
  /** Sessions ended that way since the last counter reset. */
  ended: number;
}

/**
 * Starts the Azure SQL part of the emulator: the TDS endpoint, where every identity is a database
 * user under its own name and `users` adds group users, checked with {@link authorizeSqlLogin}.
 * While `sessions.enabled`, a request on a session whose token is past `exp` plus the emulator's
 * clock skew gets error 37396 and the connection closes; each such session counts in `sessions.ended`.
 *
 * @example
 * const sqlserver = await startSqlServerEngine({}, context, { enabled: true, ended: 0 }); // { host: "localhost", port, database: "emulated-db" }
 */
export async function startSqlServerEngine(
  options: EmulatorSqlServerOptions,
  context: EngineContext,
  sessions: SqlSessionExpiry = { enabled: options.expireSessions ?? true, ended: 0 },
): Promise<EngineAddress> {
  const users = options.users ?? {};
  const database = options.database ?? "emulated-db";
  const principals = context.identities.map((identity) => identity.name);
  const endpoint = await startSqlServerEndpoint({
    ...engineListenOptions(context, options),
    database,
    tenantId: context.tenantId,
    serverName: options.serverName,
    authorize: (request) => authorizeSqlLogin(request, { ...context.tokenPolicy(), principals, users }),
    onLogin: context.onLogin,
    isSessionExpired: (expiresOnTimestamp) => {
      if (!sessions.enabled) return false;
      const { nowMs = Date.now(), clockSkewInSeconds = 30 } = context.tokenPolicy();
      // The same boundary as the login check: expired once `exp + skew` is reached.
      return nowMs >= expiresOnTimestamp + clockSkewInSeconds * 1000;
    },
    onSessionExpired: () => {
      sessions.ended += 1;
    },
  });
  context.addCleanup(() => endpoint.close());
  return Object.freeze({ host: "localhost", port: endpoint.port, database });
}
