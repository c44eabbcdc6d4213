import { EntraAuthError } from "@org/entra-core";
import { buildConnectionUrl, type MysqlUrlFormat } from "./build-url.js";
import { refuseTty } from "./command-options.js";
import { type Command, defineCommand } from "./define-command.js";
import { resolveLogin } from "./resolve-login.js";

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
 * unless `--force` (the URL holds a bearer token). For MySQL, `--format` picks the TLS parameters
 * (see {@link MysqlUrlFormat}); without it, `mysql`.
 */
export const urlCommand: Command = defineCommand({
  name: "url",
  usage: URL_USAGE,
  options: { format: { type: "string" }, force: { type: "boolean" } },
  run: async (flags, io) => {
    const format = flags.format as MysqlUrlFormat | undefined;
    if (format !== undefined && !FORMATS.includes(format)) {
      throw new EntraAuthError("INVALID_SETTING", `Unknown --format "${flags.format}".`, {
        hint: "Use --format mysql, prisma or mysql2.",
      });
    }
    refuseTty(io.stdout.isTTY, flags.force, "a URL containing an access token");
    const login = await resolveLogin(flags, io, {
      command: "url",
      azureSqlHint:
        "For Azure SQL use Authentication=Active Directory Default in the connection string, or @org/mssql-entra / @org/tedious-entra.",
    });
    io.stdout.write(`${buildConnectionUrl({ ...login, format })}\n`);
    return 0;
  },
});
