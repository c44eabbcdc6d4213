import { CliError } from "./cli-error.js";
import { refuseTty } from "./command-options.js";
import { type Command, defineCommand } from "./define-command.js";
import { describeLogin, resolveCa, resolveLogin } from "./resolve-login.js";
import { commentLine, exportLines, quoteFor, SHELLS, type Shell, variableReference } from "./shell-quote.js";

/** Usage of `entra-db env`. */
export const ENV_USAGE = `Usage: eval "$(entra-db env [--engine postgresql|mysql] [options])"

Prints lines that set the standard client variables, with an Entra access token as the password.
Inside $(...) stdout is a pipe, so no --force is needed. The token expires (about 1 h for users,
up to 24 h for managed identities): run it again for a new one.

  postgresql: PGHOST PGPORT PGDATABASE PGUSER PGPASSWORD PGSSLMODE=verify-full PGSSLROOTCERT
              (psql, pg_dump and libpq read them all). PGSSLROOTCERT is the --ca file, else the
              PGSSLROOTCERT already set, else NODE_EXTRA_CA_CERTS, else SSL_CERT_FILE, else the
              system's CA bundle file (/etc/ssl/certs/ca-certificates.crt, ...), else "system"
              (the operating system's store, libpq 16 or later only).
  mysql:      MYSQL_HOST MYSQL_TCP_PORT MYSQL_PWD (read by the mysql / mariadb clients),
              LIBMYSQL_ENABLE_CLEARTEXT_PLUGIN=1 (Oracle's client), and MYSQL_USER,
              MYSQL_DATABASE (NOT read by the clients; pass them yourself). No variable makes
              these clients verify the server, so ALWAYS pass the flag that does (and
              --ssl-ca=<file> for a private CA):
              mariadb --ssl-verify-server-cert --user="$MYSQL_USER" "$MYSQL_DATABASE"
              mysql --ssl-mode=VERIFY_IDENTITY --user="$MYSQL_USER" "$MYSQL_DATABASE"   (Oracle's)

Shells (--shell):
  posix        export NAME='value'        eval "$(entra-db env)"             (sh, bash, zsh; default)
  fish         set -gx NAME 'value'       entra-db env --shell fish | source
  powershell   $env:NAME = 'value'        entra-db env --shell powershell | Out-String | Invoke-Expression
  cmd          set "NAME=value"           for /f "delims=" %L in ('entra-db env --shell cmd') do @%L
                                          (in a .cmd file write %%L; values cannot contain line breaks)

Options:
  -e, --engine <engine>   postgresql or mysql (default: the engine whose variables are set)
      --host, --port, -d/--database, -u/--user   Override the *_HOST/_PORT/_DATABASE/_USER variables
      --ca <file>         PEM file of the CA certificates that verify the server, or "system"
      --shell <shell>     posix, powershell, cmd or fish (default posix)
      --json              Print { "variables": {...}, "engine", "host", "port", "database", "user", "expiresOn" }
      --client-id <id>    Client ID of a user-assigned managed identity (default: *_CLIENTID)
      --scope <scope>     Token scope (default: chosen from the engine and host)
      --force             Print even when stdout is a terminal
      --timeout <s>       Give up after this many seconds (default 30)
  -h, --help              Show this help`;

/**
 * `entra-db env`: prints lines setting the psql / mysql client variables for a shell (`--shell`,
 * default POSIX `export` lines), or `--json`. Refuses a terminal unless `--force` (`$(...)` is a
 * pipe). The target comes from the flags, else the Service Connector variables (see
 * `resolveTarget`); the CA from `--ca`, `PGSSLROOTCERT`, `NODE_EXTRA_CA_CERTS` or the system store.
 */
export const envCommand: Command = defineCommand({
  name: "env",
  usage: ENV_USAGE,
  options: {
    ca: { type: "string" },
    shell: { type: "string" },
    json: { type: "boolean" },
    force: { type: "boolean" },
  },
  run: async (flags, io) => {
    const shell = flags.shell as Shell | undefined;
    if (shell !== undefined && !SHELLS.includes(shell)) {
      throw new CliError("USAGE", `Unknown --shell "${flags.shell}".`, `Use --shell ${SHELLS.join(", ")}.`);
    }
    if (shell !== undefined && flags.json) {
      throw new CliError("USAGE", "--shell and --json cannot be combined.", "Use one of them.");
    }
    refuseTty(io.stdout.isTTY, flags.force, "an access token");
    const login = await resolveLogin(flags, io, {
      command: "env",
      azureSqlHint:
        "For Azure SQL, sqlcmd and go-sqlcmd sign in themselves: sqlcmd --authentication-method ActiveDirectoryDefault.",
    });
    const ca = resolveCa(flags.ca, login.engine, io.env);
    const values: EnvLineValues = { ...login, sslRootCert: ca.file };
    if (flags.json) {
      const json = {
        variables: Object.fromEntries(envVariables(login.engine, values)),
        ...describeLogin(login),
      };
      io.stdout.write(`${JSON.stringify(json)}\n`);
    } else {
      io.stdout.write(envLines(login.engine, values, shell));
    }
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

/** The commands that use the MySQL variables with the server verified, as comments for `shell`. */
function mysqlVerifiedCommands(shell: Shell, caFile: string | undefined): string {
  const ca = caFile ? ` --ssl-ca=${quoteFor(shell, caFile)}` : "";
  const user = variableReference(shell, "MYSQL_USER");
  const database = variableReference(shell, "MYSQL_DATABASE");
  return [
    "No variable makes the clients verify the server; pass the flag that does:",
    `  mariadb --ssl-verify-server-cert${ca} --user=${user} ${database}`,
    `  mysql --ssl-mode=VERIFY_IDENTITY${ca} --user=${user} ${database}   (Oracle's client)`,
  ]
    .map((line) => `${commentLine(shell, line)}\n`)
    .join("");
}

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
  /**
   * The CA file, or `"system"` (the default). PostgreSQL: `PGSSLROOTCERT`. MySQL: no client reads
   * a variable for it, so a file is named as `--ssl-ca=<file>` in the commented commands.
   */
  readonly sslRootCert?: string | undefined;
}

/** How a client family names the values, in the order they are printed. */
const CLIENT_VARIABLES: Readonly<
  Record<"postgresql" | "mysql", ReadonlyArray<readonly [variable: string, value: keyof EnvLineValues]>>
> = {
  postgresql: [
    ["PGHOST", "host"],
    ["PGPORT", "port"],
    ["PGDATABASE", "database"],
    ["PGUSER", "user"],
    ["PGPASSWORD", "token"],
  ],
  mysql: [
    ["MYSQL_HOST", "host"],
    ["MYSQL_TCP_PORT", "port"],
    ["MYSQL_USER", "user"],
    ["MYSQL_DATABASE", "database"],
    ["MYSQL_PWD", "token"],
  ],
};

/**
 * The variables of `entra-db env` for an engine, in the order they are printed, without the
 * absent database: PostgreSQL ends with `PGSSLMODE=verify-full` and `PGSSLROOTCERT`, MySQL with
 * `LIBMYSQL_ENABLE_CLEARTEXT_PLUGIN=1` (Oracle's client needs it for the token).
 */
export function envVariables(engine: "postgresql" | "mysql", values: EnvLineValues): Array<[string, string]> {
  const entries: Array<[string, string]> = [];
  for (const [variable, key] of CLIENT_VARIABLES[engine]) {
    const value = values[key];
    if (value !== undefined && value !== "") entries.push([variable, String(value)]);
  }
  if (engine === "postgresql") {
    entries.push(["PGSSLMODE", "verify-full"], ["PGSSLROOTCERT", values.sslRootCert || "system"]);
  } else {
    entries.push(["LIBMYSQL_ENABLE_CLEARTEXT_PLUGIN", "1"]);
  }
  return entries;
}

/**
 * The lines of `entra-db env` for an engine and shell (default POSIX `export` lines); for MySQL
 * followed by comment lines naming the client flags that verify the server.
 *
 * @example
 * ```ts
 * envLines("postgresql", { host, port: 5432, user, token }); // "export PGHOST='...'\n..."
 * envLines("postgresql", { host, port: 5432, user, token }, "fish"); // "set -gx PGHOST '...'\n..."
 * ```
 */
export function envLines(
  engine: "postgresql" | "mysql",
  values: EnvLineValues,
  shell: Shell = "posix",
): string {
  const lines = exportLines(envVariables(engine, values), shell);
  if (engine === "postgresql") return lines;
  const caFile = values.sslRootCert && values.sslRootCert !== "system" ? values.sslRootCert : undefined;
  return `${lines}${mysqlVerifiedCommands(shell, caFile)}`;
}
