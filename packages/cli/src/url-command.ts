import { EntraAuthError, resolveUsername } from "@org/entra-core";
import { acquireToken } from "./acquire-token.js";
import { buildConnectionUrl, type MysqlUrlFormat } from "./build-url.js";
import type { CliIo } from "./cli-io.js";
import { parseCommandArgs, parseTimeout, refuseTty, TARGET_OPTIONS } from "./command-options.js";
import { requireHost, resolveTarget } from "./resolve-target.js";

/** Usage of `entra-db url`. */
export const URL_USAGE = `Usage: entra-db url [--engine postgresql|mysql] [options]

Prints a connection URL with the user and an Entra access token (URL-encoded) and TLS with
certificate verification required. The token expires (about 1 h for users, up to 24 h for
managed identities): build the URL right before use.

  postgresql://<user>:<token>@<host>:5432/<db>?sslmode=verify-full
  mysql://<user>:<token>@<host>:3306/<db>?ssl-mode=VERIFY_IDENTITY      (--format mysql, default)
  mysql://<user>:<token>@<host>:3306/<db>?sslaccept=strict              (--format prisma)
  mysql://<user>:<token>@<host>:3306/<db>?ssl=%7B%22verifyIdentity%22%3Atrue%7D&enableCleartextPlugin=true  (--format mysql2)

Options:
  -e, --engine <engine>   postgresql or mysql (default: the engine whose variables are set)
      --host <host>       Server host (default: AZURE_POSTGRESQL_HOST / AZURE_MYSQL_HOST)
      --port <port>       Port (default: *_PORT, else 5432 / 3306)
  -d, --database <name>   Database (default: *_DATABASE, else none in the URL)
  -u, --user <name>       User (default: *_USER, else the name in the token)
      --format <format>   MySQL only: mysql, prisma or mysql2 (default mysql)
      --client-id <id>    Client ID of a user-assigned managed identity (default: *_CLIENTID)
      --scope <scope>     Token scope (default: chosen from the engine and host)
      --force             Print even when stdout is a terminal
      --timeout <s>       Give up after this many seconds (default 30)
  -h, --help              Show this help`;

const FORMATS: readonly MysqlUrlFormat[] = ["mysql", "prisma", "mysql2"];

/**
 * `entra-db url`: prints a connection URL carrying the token as the password. Refuses a terminal
 * unless `--force` (the URL holds a bearer token).
 *
 * Defaults to `--format mysql` for MySQL.
 */
export async function urlCommand(args: readonly string[], io: CliIo): Promise<number> {
  const flags = parseCommandArgs("url", args, {
    ...TARGET_OPTIONS,
    format: { type: "string" },
    force: { type: "boolean" },
  });
  if (flags.help) {
    io.stdout.write(`${URL_USAGE}\n`);
    return 0;
  }
  const format = flags.format as MysqlUrlFormat | undefined;
  if (format !== undefined && !FORMATS.includes(format)) {
    throw new EntraAuthError("INVALID_SETTING", `Unknown --format "${flags.format}".`, {
      hint: "Use --format mysql, prisma or mysql2.",
    });
  }
  refuseTty(io.stdout.isTTY, flags.force, "a URL containing an access token");
  const target = resolveTarget(flags, io.env);
  if (target.engine === "sqlserver") {
    throw new EntraAuthError("INVALID_SETTING", "entra-db url supports postgresql and mysql only.", {
      hint: "For Azure SQL use Authentication=Active Directory Default in the connection string, or @org/mssql-entra / @org/tedious-entra.",
    });
  }
  const host = requireHost(target);
  const { token } = await acquireToken(io, {
    scope: target.scope,
    clientId: target.clientId,
    timeoutInMs: parseTimeout(flags.timeout, 30_000),
  });
  const user = resolveUsername({ explicit: target.user, token });
  const url = buildConnectionUrl({
    engine: target.engine,
    host,
    port: target.port,
    database: target.database,
    user,
    token,
    format,
  });
  io.stdout.write(`${url}\n`);
  return 0;
}
