import { EntraAuthError, resolveUsername } from "@org/entra-core";
import { acquireToken } from "./acquire-token.js";
import type { CliIo } from "./cli-io.js";
import { parseCommandArgs, parseTimeout, refuseTty, TARGET_OPTIONS } from "./command-options.js";
import { requireHost, resolveTarget } from "./resolve-target.js";
import { exportLines } from "./shell-quote.js";

/** Usage of `entra-db env`. */
export const ENV_USAGE = `Usage: eval "$(entra-db env [--engine postgresql|mysql] [options])"

Prints shell-quoted export lines for the standard client variables, with an Entra access
token as the password.

  postgresql: PGHOST PGPORT PGDATABASE PGUSER PGPASSWORD PGSSLMODE=verify-full
              (psql, pg_dump and libpq read them all; add PGSSLROOTCERT for a private CA)
  mysql:      MYSQL_HOST MYSQL_TCP_PORT MYSQL_PWD (read by the mysql / mariadb clients),
              LIBMYSQL_ENABLE_CLEARTEXT_PLUGIN=1 (Oracle's client), and MYSQL_USER,
              MYSQL_DATABASE (NOT read by the clients; pass them yourself). No variable makes
              these clients verify the server, so ALWAYS pass the flag that does:
              mariadb --ssl-verify-server-cert --user="$MYSQL_USER" "$MYSQL_DATABASE"
              mysql --ssl-mode=VERIFY_IDENTITY --user="$MYSQL_USER" "$MYSQL_DATABASE"   (Oracle's)

Options:
  -e, --engine <engine>   postgresql or mysql (default: the engine whose variables are set)
      --host, --port, -d/--database, -u/--user   Override the *_HOST/_PORT/_DATABASE/_USER variables
      --client-id <id>    Client ID of a user-assigned managed identity (default: *_CLIENTID)
      --scope <scope>     Token scope (default: chosen from the engine and host)
      --force             Print even when stdout is a terminal
      --timeout <s>       Give up after this many seconds (default 30)
  -h, --help              Show this help`;

/**
 * `entra-db env`: prints `export` lines for psql / the mysql client. Refuses a terminal unless
 * `--force`.
 *
 * Defaults to the engine whose Service Connector variables are set.
 */
export async function envCommand(args: readonly string[], io: CliIo): Promise<number> {
  const flags = parseCommandArgs("env", args, { ...TARGET_OPTIONS, force: { type: "boolean" } });
  if (flags.help) {
    io.stdout.write(`${ENV_USAGE}\n`);
    return 0;
  }
  refuseTty(io.stdout.isTTY, flags.force, "an access token");
  const target = resolveTarget(flags, io.env);
  if (target.engine === "sqlserver") {
    throw new EntraAuthError("INVALID_SETTING", "entra-db env supports postgresql and mysql only.", {
      hint: "For Azure SQL, sqlcmd and go-sqlcmd sign in themselves: sqlcmd --authentication-method ActiveDirectoryDefault.",
    });
  }
  const host = requireHost(target);
  const { token } = await acquireToken(io, {
    scope: target.scope,
    clientId: target.clientId,
    timeoutInMs: parseTimeout(flags.timeout, 30_000),
  });
  const user = resolveUsername({ explicit: target.user, token });
  io.stdout.write(
    envLines(target.engine, { host, port: target.port, database: target.database, user, token }),
  );
  if (target.engine === "mysql") io.stderr.write(`${MYSQL_VERIFY_REMINDER}\n`);
  return 0;
}

/**
 * The `mysql` and `mariadb` clients read the password from `MYSQL_PWD` but take TLS verification
 * only from a flag (MariaDB 10.x and Oracle's client in its default `PREFERRED` mode encrypt
 * without checking the certificate): said on stderr, so that it shows when stdout is `eval`ed.
 */
const MYSQL_VERIFY_REMINDER =
  "entra-db: the mysql and mariadb clients only verify the server when told: connect with " +
  "`mariadb --ssl-verify-server-cert` or `mysql --ssl-mode=VERIFY_IDENTITY` (Oracle's), or the token goes to any server that answers.";

/** The commands that use the MySQL variables with the server verified, as comments for the output. */
const MYSQL_VERIFIED_COMMANDS = [
  "# No variable makes the clients verify the server; pass the flag that does:",
  '#   mariadb --ssl-verify-server-cert --user="$MYSQL_USER" "$MYSQL_DATABASE"',
  '#   mysql --ssl-mode=VERIFY_IDENTITY --user="$MYSQL_USER" "$MYSQL_DATABASE"   (Oracle\'s client)',
].join("\n");

/** What {@link envLines} writes. */
export interface EnvLineValues {
  readonly host: string;
  readonly port: number;
  readonly database?: string | undefined;
  readonly user: string;
  readonly token: string;
}

/**
 * The export lines of `entra-db env` for an engine; for MySQL followed by comment lines naming
 * the client flags that verify the server.
 *
 * @example
 * ```ts
 * envLines("postgresql", { host, port: 5432, user, token }); // "export PGHOST='...'\n..."
 * ```
 *
 * Defaults to leaving out the database line when no database is known.
 */
export function envLines(engine: "postgresql" | "mysql", values: EnvLineValues): string {
  if (engine === "postgresql") {
    return exportLines([
      ["PGHOST", values.host],
      ["PGPORT", String(values.port)],
      ["PGDATABASE", values.database],
      ["PGUSER", values.user],
      ["PGPASSWORD", values.token],
      ["PGSSLMODE", "verify-full"],
    ]);
  }
  const exports = exportLines([
    ["MYSQL_HOST", values.host],
    ["MYSQL_TCP_PORT", String(values.port)],
    ["MYSQL_USER", values.user],
    ["MYSQL_DATABASE", values.database],
    ["MYSQL_PWD", values.token],
    ["LIBMYSQL_ENABLE_CLEARTEXT_PLUGIN", "1"],
  ]);
  return `${exports}${MYSQL_VERIFIED_COMMANDS}\n`;
}
