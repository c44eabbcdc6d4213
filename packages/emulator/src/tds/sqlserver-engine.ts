import { authorizeSqlLogin } from "../authorize-login.js";
import { type EngineAddress, type EngineContext, engineListenOptions } from "../emulator-engine.js";
import type { EmulatorSqlServerOptions } from "../emulator-options.js";
import { startSqlServerEndpoint } from "./tds-server.js";

/**
 * Starts the Azure SQL part of the emulator: the TDS endpoint, where every identity is a database
 * user under its own name and `users` adds group users, checked with {@link authorizeSqlLogin}.
 *
 * @example
 * const sqlserver = await startSqlServerEngine({}, context); // { host: "localhost", port, database: "emulated-db" }
 */
export async function startSqlServerEngine(
  options: EmulatorSqlServerOptions,
  context: EngineContext,
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
  });
  context.addCleanup(() => endpoint.close());
  return Object.freeze({ host: "localhost", port: endpoint.port, database });
}
