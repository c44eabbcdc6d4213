#!/usr/bin/env node
import { parseArgs } from "node:util";
import type { EmulatorOptions } from "./emulator-options.js";
import { startEmulator } from "./start-emulator.js";

const usage = `Usage: entra-emulator [options]

Starts the Entra emulator in the foreground and prints the environment an app needs.

Options:
  --postgres-url <url>     Put the PostgreSQL gateway in front of this server (creates the roles)
  --pglite                 Use an embedded PGlite backend (the default without ENTRA_EMULATOR_POSTGRES_URL)
  --no-postgres            Do not start the PostgreSQL gateway
  --mysql-url <url>        Start the MySQL gateway in front of this server (creates the users);
                           also on when ENTRA_EMULATOR_MYSQL_URL is set
  --no-mysql               Do not start the MySQL gateway even if ENTRA_EMULATOR_MYSQL_URL is set
  --mysql-port <port>      Port of the MySQL gateway (default: ephemeral)
  --mysql-persona <name>   What the MySQL gateway greets as: mysql8 (MySQL 8.0.42, as Azure; default)
                           or mariadb (the backend's own greeting)
  --sqlserver              Start the Azure SQL Database (TDS) endpoint (no SQL Server needed; answers
                           SELECT 1, SUSER_SNAME(), @@VERSION, ...); also on with ENTRA_EMULATOR_SQLSERVER=1
  --sqlserver-port <port>  Port of the Azure SQL endpoint (default: ephemeral)
  --token-lifetime <s>     Lifetime of issued tokens in seconds (default 3600)
  --identity-port <port>   Port of the identity endpoint (default: ephemeral)
  --postgres-port <port>   Port of the PostgreSQL gateway (default: ephemeral)
  --user-assigned <name>   Make the default identity a user-assigned one with this name
  -h, --help               Show this help

Copy the printed export lines into the shell (or .env) of the app under test.
Stop with Ctrl+C (SIGINT) or SIGTERM.`;

/** Quotes a value for POSIX shells. */
function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

function positiveInteger(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0)
    throw new Error(`${name} must be a non-negative integer, got "${value}".`);
  return parsed;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      "postgres-url": { type: "string" },
      pglite: { type: "boolean" },
      "no-postgres": { type: "boolean" },
      "mysql-url": { type: "string" },
      "no-mysql": { type: "boolean" },
      "mysql-port": { type: "string" },
      "mysql-persona": { type: "string" },
      sqlserver: { type: "boolean" },
      "sqlserver-port": { type: "string" },
      "token-lifetime": { type: "string" },
      "identity-port": { type: "string" },
      "postgres-port": { type: "string" },
      "user-assigned": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    return;
  }
  const postgresPort = positiveInteger("--postgres-port", values["postgres-port"]);
  const mysqlPort = positiveInteger("--mysql-port", values["mysql-port"]);
  const sqlserverPort = positiveInteger("--sqlserver-port", values["sqlserver-port"]);
  const sqlserverOn =
    values.sqlserver === true || sqlserverPort !== undefined || process.env.ENTRA_EMULATOR_SQLSERVER === "1";
  const mysqlUrl = values["mysql-url"] ?? process.env.ENTRA_EMULATOR_MYSQL_URL;
  const mysqlPersona = values["mysql-persona"];
  if (mysqlPersona !== undefined && mysqlPersona !== "mysql8" && mysqlPersona !== "mariadb") {
    throw new Error(`--mysql-persona must be mysql8 or mariadb, got "${mysqlPersona}".`);
  }
  const backend = values.pglite
    ? "pglite"
    : (values["postgres-url"] ?? process.env.ENTRA_EMULATOR_POSTGRES_URL ?? "pglite");
  const options: EmulatorOptions = {
    tokenLifetimeInSeconds: positiveInteger("--token-lifetime", values["token-lifetime"]),
    identityPort: positiveInteger("--identity-port", values["identity-port"]),
    identities: values["user-assigned"] ? [{ name: values["user-assigned"], kind: "user" }] : undefined,
    postgres: values["no-postgres"] ? false : { backend, port: postgresPort },
    mysql:
      values["no-mysql"] || !mysqlUrl ? false : { backend: mysqlUrl, port: mysqlPort, persona: mysqlPersona },
    sqlserver: sqlserverOn ? { port: sqlserverPort } : false,
  };

  const emulator = await startEmulator(options);
  for (const [key, value] of Object.entries(emulator.env)) {
    if (value !== undefined) process.stdout.write(`export ${key}=${shellQuote(value)}\n`);
  }
  const postgres = emulator.postgres
    ? `PostgreSQL gateway on localhost:${emulator.postgres.port} (backend: ${backend.startsWith("pglite") ? "PGlite" : "URL"}), `
    : "";
  const mysql = emulator.mysql ? `MySQL gateway on localhost:${emulator.mysql.port}, ` : "";
  const sqlserver = emulator.sqlserver
    ? `Azure SQL endpoint on localhost:${emulator.sqlserver.port} (database ${emulator.sqlserver.database}), `
    : "";
  process.stderr.write(
    `entra-emulator: identity endpoint ${emulator.identityEndpoint}, ${postgres}${mysql}${sqlserver}tenant ${emulator.tenantId}. Ctrl+C to stop.\n`,
  );

  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      process.stderr.write(`entra-emulator: ${signal}, shutting down.\n`);
      resolve();
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  await emulator.close();
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`entra-emulator: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
