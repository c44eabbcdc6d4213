import { refuseTty } from "./command-options.js";
import { type Command, defineCommand } from "./define-command.js";
import { resolveLogin } from "./resolve-login.js";
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
 * `--force`. The target comes from the flags, else the Service Connector variables (see
 * `resolveTarget`).
 */
export const envCommand: Command = defineCommand({
  name: "env",
  usage: ENV_USAGE,
  options: { force: { type: "boolean" } },
  run: async (flags, io) => {
    refuseTty(io.stdout.isTTY, flags.force, "an access token");
    const login = await resolveLogin(flags, io, {
      command: "env",
      azureSqlHint:
        "For Azure SQL, sqlcmd and go-sqlcmd sign in themselves: sqlcmd --authentication-method ActiveDirectoryDefault.",
    });
    io.stdout.write(envLines(login.engine, login));
    if (login.engine === "mysql") io.stderr.write(`${MYSQL_VERIFY_REMINDER}\n`);
    return 0;
  },
});

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

/**
 * What {@link envLines} writes.
 *
 * @inline
 */
export interface EnvLineValues {
  /** The server's host name: `PGHOST` or `MYSQL_HOST`. */
  readonly host: string;
  /** The server's port: `PGPORT` or `MYSQL_TCP_PORT`. */
  readonly port: number;
  /** The database: `PGDATABASE` or `MYSQL_DATABASE`. Its line is left out when absent. */
  readonly database?: string | undefined;
  /** The database user name: `PGUSER` or `MYSQL_USER`. */
  readonly user: string;
  /** The access token, used as the password: `PGPASSWORD` or `MYSQL_PWD`. */
  readonly token: string;
}

/** How a client family names the values, in the order they are printed, and what follows them. */
interface ClientVariables {
  readonly names: ReadonlyArray<readonly [variable: string, value: keyof EnvLineValues]>;
  /** A variable with a fixed value: libpq's TLS verification, or the cleartext plugin Oracle's client needs. */
  readonly fixed: readonly [variable: string, value: string];
  /** Lines printed after the exports. */
  readonly trailer?: string;
}

const CLIENT_VARIABLES: Readonly<Record<"postgresql" | "mysql", ClientVariables>> = {
  postgresql: {
    names: [
      ["PGHOST", "host"],
      ["PGPORT", "port"],
      ["PGDATABASE", "database"],
      ["PGUSER", "user"],
      ["PGPASSWORD", "token"],
    ],
    fixed: ["PGSSLMODE", "verify-full"],
  },
  mysql: {
    names: [
      ["MYSQL_HOST", "host"],
      ["MYSQL_TCP_PORT", "port"],
      ["MYSQL_USER", "user"],
      ["MYSQL_DATABASE", "database"],
      ["MYSQL_PWD", "token"],
    ],
    fixed: ["LIBMYSQL_ENABLE_CLEARTEXT_PLUGIN", "1"],
    trailer: MYSQL_VERIFIED_COMMANDS,
  },
};

/**
 * The export lines of `entra-db env` for an engine; for MySQL followed by comment lines naming
 * the client flags that verify the server.
 *
 * @example
 * ```ts
 * envLines("postgresql", { host, port: 5432, user, token }); // "export PGHOST='...'\n..."
 * ```
 */
export function envLines(engine: "postgresql" | "mysql", values: EnvLineValues): string {
  const client = CLIENT_VARIABLES[engine];
  const exports = exportLines([
    ...client.names.map(([variable, key]) => {
      const value = values[key];
      return [variable, value === undefined ? undefined : String(value)] as const;
    }),
    client.fixed,
  ]);
  return client.trailer === undefined ? exports : `${exports}${client.trailer}\n`;
}
