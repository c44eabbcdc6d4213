import { authorizeLogin } from "../authorize-login.js";
import { parseBackendUrl } from "../backend-url.js";
import {
  type EngineAddress,
  type EngineContext,
  engineAccounts,
  engineListenOptions,
} from "../emulator-engine.js";
import { DEFAULT_MYSQL_URL, type EmulatorMysqlOptions } from "../emulator-options.js";
import { runMysqlAdminStatements } from "./mysql-admin.js";
import { startMysqlGateway } from "./mysql-gateway.js";

/**
 * Starts the MySQL part of the emulator: prepares the backend (a real MySQL or MariaDB server given
 * by URL) with a user per identity and extra user, and starts the token-validating gateway in front
 * of it, mapping principals to users with {@link authorizeLogin}.
 *
 * @example
 * const mysql = await startMysqlEngine({ backend: "mysql://root@127.0.0.1:3306/test" }, context); // { host: "localhost", port, database: "test" }
 */
export async function startMysqlEngine(
  options: EmulatorMysqlOptions,
  context: EngineContext,
): Promise<EngineAddress> {
  const users = options.users ?? {};
  const backend = await prepareBackend(options, engineAccounts(context, users));
  const gateway = await startMysqlGateway({
    ...engineListenOptions(context, options),
    persona: options.persona,
    backend: backend.target,
    authorize: (request) => authorizeLogin(request, { ...context.tokenPolicy(), roles: users }),
    onLogin: context.onLogin,
  });
  context.addCleanup(() => gateway.close());
  return Object.freeze({ host: "localhost", port: gateway.port, database: backend.database });
}

interface PreparedBackend {
  readonly target: { host: string; port: number; password?: string };
  readonly database: string;
}

async function prepareBackend(
  options: EmulatorMysqlOptions,
  userNames: readonly string[],
): Promise<PreparedBackend> {
  const url = parseBackendUrl(options.backend ?? DEFAULT_MYSQL_URL, {
    protocols: ["mysql:", "mariadb:"],
    defaultPort: 3306,
    invalid: "mysql.backend must be a mysql:// URL.",
  });
  const { host, port, password } = url;
  const database = options.database ?? (url.database || "test");
  if (options.createUsers ?? true) {
    const identified = password === undefined ? "" : ` IDENTIFIED BY ${quoteMysqlString(password)}`;
    const statements = [`CREATE DATABASE IF NOT EXISTS ${quoteMysqlIdentifier(database)}`];
    for (const user of userNames) {
      const account = `${quoteMysqlString(user)}@'%'`;
      statements.push(
        `CREATE USER IF NOT EXISTS ${account}${identified}`,
        `GRANT ALL ON ${quoteMysqlIdentifier(database)}.* TO ${account}`,
      );
    }
    await runMysqlAdminStatements({ host, port, user: url.user || "root", password }, statements);
  }
  return { target: { host, port, password }, database };
}

function quoteMysqlIdentifier(name: string): string {
  return `\`${name.replaceAll("`", "``")}\``;
}

function quoteMysqlString(value: string): string {
  return `'${value.replaceAll("\\", "\\\\").replaceAll("'", "''")}'`;
}
