import { acquireToken } from "./acquire-token.js";
import { refuseTty } from "./command-options.js";
import { type Command, defineCommand } from "./define-command.js";
import { resolveTarget } from "./resolve-target.js";

/** Usage of `entra-db token`. */
export const TOKEN_USAGE = `Usage: entra-db token [--engine postgresql|mysql|sqlserver] [options]

Prints an Entra access token for the database (use it as the password).

Options:
  -e, --engine <engine>   postgresql, mysql or sqlserver (default: the engine whose
                          AZURE_POSTGRESQL_* / AZURE_MYSQL_* / AZURE_SQL_* variables are set)
      --host <host>       Server host; picks the sovereign cloud scope (default: *_HOST / AZURE_SQL_SERVER)
      --client-id <id>    Client ID of a user-assigned managed identity (default: *_CLIENTID)
      --scope <scope>     Token scope (default: chosen from the engine and host)
      --json              Print { "token", "expiresOn", "scope" }
      --force             Print even when stdout is a terminal
      --timeout <s>       Give up after this many seconds (default 30)
  -h, --help              Show this help

Example: PGPASSWORD="$(entra-db token -e postgresql)" psql "host=... sslmode=verify-full"`;

/**
 * `entra-db token`: prints the token (or `--json` with expiry and scope). Refuses a terminal
 * unless `--force`. The target comes from the flags, else the Service Connector variables (see
 * `resolveTarget`).
 */
export const tokenCommand: Command = defineCommand({
  name: "token",
  usage: TOKEN_USAGE,
  options: { json: { type: "boolean" }, force: { type: "boolean" } },
  run: async (flags, io) => {
    refuseTty(io.stdout.isTTY, flags.force, "an access token");
    const target = resolveTarget(flags, io.env);
    const { token, expiresOnTimestamp } = await acquireToken(io, {
      scope: target.scope,
      clientId: target.clientId,
      timeout: flags.timeout,
    });
    if (flags.json) {
      const expiresOn = new Date(expiresOnTimestamp).toISOString();
      io.stdout.write(`${JSON.stringify({ token, expiresOn, scope: target.scope })}\n`);
    } else {
      io.stdout.write(`${token}\n`);
    }
    return 0;
  },
});
