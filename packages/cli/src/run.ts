import { isEntraAuthError } from "@org/entra-core";
import pkg from "../package.json" with { type: "json" };
import type { CliIo } from "./cli-io.js";
import type { Command } from "./define-command.js";
import { DOCTOR_USAGE, doctorCommand } from "./doctor-command.js";
import { ENV_USAGE, envCommand } from "./env-command.js";
import { TOKEN_USAGE, tokenCommand } from "./token-command.js";
import { URL_USAGE, urlCommand } from "./url-command.js";

/** Usage of `entra-db`. */
export const USAGE = `Usage: entra-db <command> [options]

Microsoft Entra tokens for Azure Database for PostgreSQL / MySQL and Azure SQL.

Commands:
  token    Print an access token (use it as the password)
  url      Print a connection URL with the token and verified TLS
  env      Print export lines for psql (PG*) or the mysql client (MYSQL_*)
  doctor   Diagnose settings, credential, token, network and login

Every command reads the Service Connector variables (AZURE_POSTGRESQL_*, AZURE_MYSQL_*,
AZURE_SQL_*) and accepts --engine, --host, --client-id and --scope.

  -h, --help      Show this help (entra-db <command> --help for a command's)
  -v, --version   Show the version`;

const COMMANDS: Readonly<Record<string, { run: Command; usage: string }>> = {
  token: { run: tokenCommand, usage: TOKEN_USAGE },
  url: { run: urlCommand, usage: URL_USAGE },
  env: { run: envCommand, usage: ENV_USAGE },
  doctor: { run: doctorCommand, usage: DOCTOR_USAGE },
};

/** The version of this package. */
export const VERSION: string = pkg.version;

/**
 * Runs `entra-db` with the given arguments (without `node` and the script) and returns the exit
 * code. Errors are printed to stderr as one `entra-db: <message> [<code>]` line with exit code 1;
 * they never contain a token. With no arguments it prints the usage and returns 1.
 *
 * @example
 * ```ts
 * process.exitCode = await run(process.argv.slice(2), processIo());
 * ```
 */
export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === "-h" || first === "--help") {
    io.stdout.write(`${USAGE}\n`);
    return first === undefined ? 1 : 0;
  }
  if (first === "-v" || first === "--version") {
    io.stdout.write(`${VERSION}\n`);
    return 0;
  }
  if (first === "help") {
    const command = rest[0] ? COMMANDS[rest[0]] : undefined;
    io.stdout.write(`${command?.usage ?? USAGE}\n`);
    return 0;
  }
  const command = COMMANDS[first];
  if (!command) {
    io.stderr.write(
      `entra-db: unknown command "${first}". Commands: token, url, env, doctor (entra-db --help).\n`,
    );
    return 1;
  }
  try {
    return await command.run(rest, io);
  } catch (error) {
    io.stderr.write(`${formatError(error)}\n`);
    return 1;
  }
}

/**
 * One line for an error: `entra-db: <message> [<code>]` for `EntraAuthError`, else
 * `entra-db: <message>`, with `String(error)` as the message of a value that is not an `Error`.
 */
export function formatError(error: unknown): string {
  if (isEntraAuthError(error)) return `entra-db: ${error.message} [${error.code}]`;
  return `entra-db: ${error instanceof Error ? error.message : String(error)}`;
}
