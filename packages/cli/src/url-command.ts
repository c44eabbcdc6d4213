import { readFileSync } from "node:fs";
import { buildConnectionUrl, type MysqlUrlFormat } from "./build-url.js";
import { CliError } from "./cli-error.js";
import { refuseTty } from "./command-options.js";
import { type Command, defineCommand } from "./define-command.js";
import { describeLogin, resolveCa, resolveLogin } from "./resolve-login.js";

/** Usage of `entra-db url`. */
export const URL_USAGE = `Usage: entra-db url [--engine postgresql|mysql] [options]

Prints a connection URL with the user and an Entra access token (URL-encoded) and TLS with
certificate verification required. The token expires (about 1 h for users, up to 24 h for
managed identities): build the URL right before use.

  postgresql://<user>:<token>@<host>:5432/<db>?sslmode=verify-full&sslrootcert=<ca>
  mysql://<user>:<token>@<host>:3306/<db>?ssl-mode=VERIFY_IDENTITY      (--format mysql, default)
  mysql://<user>:<token>@<host>:3306/<db>?sslaccept=strict              (--format prisma)
  mysql://<user>:<token>@<host>:3306/<db>?ssl=%7B%22verifyIdentity%22%3Atrue%7D&enableCleartextPlugin=true  (--format mysql2)

  psql "$(entra-db url)"

<ca> is the --ca file, else PGSSLROOTCERT, else NODE_EXTRA_CA_CERTS, else SSL_CERT_FILE, else
the system's CA bundle file (/etc/ssl/certs/ca-certificates.crt, /etc/pki/tls/certs/ca-bundle.crt,
/etc/ssl/cert.pem), which psql, node-postgres and Prisma all read; else "system" (the operating
system's store, libpq 16 or later only). For MySQL a CA file is added as
ssl-ca=<file> (--format mysql), sslcert=<file> (prisma) or inside ssl as "ca" (mysql2).

Options:
  -e, --engine <engine>   postgresql or mysql (default: the engine whose variables are set)
      --host <host>       Server host (default: AZURE_POSTGRESQL_HOST / AZURE_MYSQL_HOST)
      --port <port>       Port (default: *_PORT, else 5432 / 3306)
  -d, --database <name>   Database (default: *_DATABASE, else none in the URL)
  -u, --user <name>       User (default: *_USER, else the name in the token)
      --format <format>   MySQL only: mysql, prisma or mysql2 (default mysql)
      --ca <file>         PEM file of the CA certificates that verify the server, or "system"
      --json              Print { "url", "engine", "host", "port", "database", "user", "expiresOn" }
      --client-id <id>    Client ID of a user-assigned managed identity (default: *_CLIENTID)
      --scope <scope>     Token scope (default: chosen from the engine and host)
      --force             Print even when stdout is a terminal
      --timeout <s>       Give up after this many seconds (default 30)
  -h, --help              Show this help`;

const FORMATS: readonly MysqlUrlFormat[] = ["mysql", "prisma", "mysql2"];

/**
 * `entra-db url`: prints a connection URL carrying the token as the password (or `--json` with the
 * URL, the target and the expiry). Refuses a terminal unless `--force` (the URL holds a bearer
 * token). For MySQL, `--format` picks the TLS parameters (see {@link MysqlUrlFormat}); without it,
 * `mysql`. The CA comes from `--ca`, `PGSSLROOTCERT`, `NODE_EXTRA_CA_CERTS` or the system store
 * (see `resolveCa`).
 */
export const urlCommand: Command = defineCommand({
  name: "url",
  usage: URL_USAGE,
  options: {
    format: { type: "string" },
    ca: { type: "string" },
    json: { type: "boolean" },
    force: { type: "boolean" },
  },
  run: async (flags, io) => {
    const format = flags.format as MysqlUrlFormat | undefined;
    if (format !== undefined && !FORMATS.includes(format)) {
      throw new CliError(
        "USAGE",
        `Unknown --format "${flags.format}".`,
        "Use --format mysql, prisma or mysql2.",
      );
    }
    refuseTty(io.stdout.isTTY, flags.force, "a URL containing an access token");
    const login = await resolveLogin(flags, io, {
      command: "url",
      azureSqlHint:
        "For Azure SQL use Authentication=Active Directory Default in the connection string, or @org/mssql-entra / @org/tedious-entra.",
    });
    const ca = resolveCa(flags.ca, login.engine, io.env);
    const caPem =
      login.engine === "mysql" && format === "mysql2" && ca.file !== "system"
        ? readFileSync(ca.file, "utf8")
        : undefined;
    const url = buildConnectionUrl({ ...login, format, sslRootCert: ca.file, caPem });
    if (flags.json) {
      const json = { url, ...describeLogin(login) };
      io.stdout.write(`${JSON.stringify(json)}\n`);
    } else {
      io.stdout.write(`${url}\n`);
    }
    return 0;
  },
});
