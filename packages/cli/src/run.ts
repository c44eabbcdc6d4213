import { isEntraAuthError } from "@org/entra-core";
import pkg from "../package.json" with { type: "json" };
import { CliError, EXIT, isCliError } from "./cli-error.js";
import type { CliIo } from "./cli-io.js";
import type { Command } from "./define-command.js";
import { DOCTOR_USAGE, doctorCommand } from "./doctor-command.js";
import { ENV_USAGE, envCommand } from "./env-command.js";
import { PGPASS_USAGE, pgpassCommand } from "./pgpass-command.js";
import { PROXY_USAGE, proxyCommand } from "./proxy-command.js";
import { TOKEN_USAGE, tokenCommand } from "./token-command.js";
import { URL_USAGE, urlCommand } from "./url-command.js";

/** Usage of `entra-db`. */
export const USAGE = `Usage: entra-db <command> [options]

Microsoft Entra tokens for Azure Database for PostgreSQL / MySQL and Azure SQL.

Commands:
  token    Print an access token (use it as the password)
  url      Print a connection URL with the token and verified TLS
  env      Print export lines for psql (PG*) or the mysql client (MYSQL_*)
  pgpass   Write the token into ~/.pgpass (or PGPASSFILE) for psql and pg_dump
  doctor   Diagnose settings, credential, token, network and login
  proxy    Run a local auth proxy for clients that cannot take a token (psql, GUI tools)

Every command reads the Service Connector variables (AZURE_POSTGRESQL_*, AZURE_MYSQL_*,
AZURE_SQL_*) and accepts --engine, --host, --client-id and --scope.

  -h, --help      Show this help (entra-db <command> --help for a command's)
  -v, --version   Show the version

Errors go to stderr as "entra-db: <message> [<code>]", with "  hint: ..." on the next line.

Exit status:
  0  success (doctor: no check failed; warnings allowed)
  1  a check or an operation failed (credential, token, network, login, missing setting,
     or a secret refused to a terminal [SECRET_TO_TERMINAL])
  2  usage error: unknown command or option, bad option value [USAGE]`;

const COMMANDS: Readonly<Record<string, { run: Command; usage: string }>> = {
  token: { run: tokenCommand, usage: TOKEN_USAGE },
  url: { run: urlCommand, usage: URL_USAGE },
  env: { run: envCommand, usage: ENV_USAGE },
  pgpass: { run: pgpassCommand, usage: PGPASS_USAGE },
  doctor: { run: doctorCommand, usage: DOCTOR_USAGE },
  proxy: { run: proxyCommand, usage: PROXY_USAGE },
};

/** The version of this package. */
export const VERSION: string = pkg.version;

function commandList(): string {
  return Object.keys(COMMANDS).join(", ");
}

/**
 * Runs `entra-db` with the given arguments (without `node` and the script) and returns the exit
 * status: 0 success, 1 a check or an operation failed, 2 a usage error (see `EXIT`). Errors are
 * printed to stderr by {@link formatError} (`entra-db: <message> [<code>]`, then the hint on its
 * own line); they never contain a token. With no arguments it prints the usage to stderr and
 * returns 2.
 *
 * @example
 * ```ts
 * process.exitCode = await run(process.argv.slice(2), processIo());
 * ```
 */
export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined) {
    io.stderr.write(`${USAGE}\n`);
    return EXIT.usage;
  }
  if (first === "-h" || first === "--help") {
    io.stdout.write(`${USAGE}\n`);
    return EXIT.ok;
  }
  if (first === "-v" || first === "--version") {
    io.stdout.write(`${VERSION}\n`);
    return EXIT.ok;
  }
  try {
    if (first === "help") {
      if (rest[0] === undefined) {
        io.stdout.write(`${USAGE}\n`);
        return EXIT.ok;
      }
      const topic = Object.hasOwn(COMMANDS, rest[0]) ? COMMANDS[rest[0]] : undefined;
      if (!topic) throw unknownCommand(rest[0]);
      io.stdout.write(`${topic.usage}\n`);
      return EXIT.ok;
    }
    const command = Object.hasOwn(COMMANDS, first) ? COMMANDS[first] : undefined;
    if (!command) throw unknownCommand(first);
    return await command.run(rest, io);
  } catch (error) {
    io.stderr.write(`${formatError(error)}\n`);
    return isCliError(error) ? error.exitCode : EXIT.failed;
  }
}

function unknownCommand(name: string): CliError {
  return new CliError(
    "USAGE",
    name.startsWith("-") ? `Unknown option '${name}'.` : `Unknown command "${name}".`,
    `Commands: ${commandList()}. Run: entra-db --help`,
  );
}

/**
 * The error text: `entra-db: <message> [<code>]` for a `CliError` or an `EntraAuthError`, else
 * `entra-db: <message>` (`String(error)` for a value that is not an `Error`); the hint, when
 * there is one, follows on its own line as `  hint: <hint>`. No trailing newline.
 */
export function formatError(error: unknown): string {
  if (isCliError(error)) {
    return `entra-db: ${error.message} [${error.code}]${error.hint ? `\n  hint: ${error.hint}` : ""}`;
  }
  if (isEntraAuthError(error)) {
    const hint = error.hint;
    // EntraAuthError's message ends with its hint: print them apart.
    const message =
      hint && error.message.endsWith(hint) ? error.message.slice(0, -hint.length).trimEnd() : error.message;
    return `entra-db: ${message} [${error.code}]${hint ? `\n  hint: ${hint}` : ""}`;
  }
  return `entra-db: ${error instanceof Error ? error.message : String(error)}`;
}
