#!/usr/bin/env node
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import pkg from "../package.json" with { type: "json" };
import { type BackendUrl, parseBackendUrl } from "./backend-url.js";
import type { EmulatorOptions } from "./emulator-options.js";
import { type EmulatorPart, failedPartOf, startEmulator } from "./start-emulator.js";

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
  --service-principal <name>
                           Make the default identity a service principal with this display name: the
                           printed env then signs in at the emulator's Entra authority
                           (AZURE_AUTHORITY_HOST, AZURE_TENANT_ID, AZURE_CLIENT_ID, ...)
  --credential <kind>      How the service principal signs in: secret (AZURE_CLIENT_SECRET; default),
                           certificate (AZURE_CLIENT_CERTIFICATE_PATH) or workload-identity
                           (AZURE_FEDERATED_TOKEN_FILE, rewritten before it expires)
  --authority-port <port>  Port of the Entra authority (default: ephemeral)
  -h, --help               Show this help
  -v, --version            Show the version

Examples:
  # PostgreSQL gateway in front of an embedded PGlite (needs @electric-sql/pglite@0.5.14 and
  # @electric-sql/pglite-socket@0.2.17 installed next to the emulator)
  entra-emulator --pglite
  # PostgreSQL gateway in front of a real PostgreSQL server (creates a LOGIN role per identity)
  entra-emulator --postgres-url postgres://postgres:secret@127.0.0.1:5432/app
  # MySQL gateway only, in front of a real MySQL or MariaDB server (creates a user per identity)
  entra-emulator --no-postgres --mysql-url mysql://root@127.0.0.1:3306/test
  # Azure SQL Database endpoint only, on a fixed port (no server needed)
  entra-emulator --no-postgres --sqlserver --sqlserver-port 14330
  # A service principal with workload identity (AKS, GitHub Actions) instead of a managed identity
  entra-emulator --service-principal orders-api --credential workload-identity

Copy the printed export lines into the shell (or .env) of the app under test.
Stop with Ctrl+C (SIGINT) or SIGTERM.

Exit status:
  0  stopped by Ctrl+C (SIGINT) or SIGTERM
  1  could not start: a port in use, a backend server down or refusing the setup, ...
  2  usage error: an unknown option, a malformed value or URL`;

/** A mistake in the command line: printed as one line, exit status 2. */
class UsageError extends Error {
  override readonly name = "UsageError";
}

/** The flag (or variable) each part's port and backend came from, to name it in error messages. */
interface Invocation {
  readonly options: EmulatorOptions;
  /** The listening port asked for each part, and by which flag; absent when ephemeral. */
  readonly ports: Partial<Record<EmulatorPart, { readonly flag: string; readonly port: number }>>;
  /** The backend URL of each gateway in front of a real server, and the flag or variable that gave it. */
  readonly backends: Partial<
    Record<"postgres" | "mysql", { readonly source: string; readonly url: BackendUrl }>
  >;
  readonly pglite: boolean;
}

const partNames: Readonly<Record<EmulatorPart, string>> = {
  identity: "identity endpoint",
  authority: "Entra authority",
  postgres: "PostgreSQL gateway",
  mysql: "MySQL gateway",
  sqlserver: "Azure SQL endpoint",
};

/** Socket errors that mean "the backend server is not there (at that address)". */
const unreachableCodes = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EHOSTDOWN",
]);

/** Quotes a value for POSIX shells. */
function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

function nonNegativeInteger(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (value.trim() === "" || !Number.isInteger(parsed) || parsed < 0)
    throw new UsageError(`${name} must be a non-negative integer, got "${value}"`);
  return parsed;
}

function portNumber(name: string, value: string | undefined): number | undefined {
  const port = nonNegativeInteger(name, value);
  if (port !== undefined && port > 65535)
    throw new UsageError(`${name} must be a port number from 0 (any free port) to 65535, got "${value}"`);
  return port;
}

/** What a malformed URL was, without echoing it (it may carry a password). */
function describeBadUrl(text: string): string {
  try {
    return `got a ${new URL(text).protocol}// URL`;
  } catch {
    return "got something that is not a URL";
  }
}

function backendUrl(source: string, text: string, engine: "postgres" | "mysql"): BackendUrl {
  const postgres = engine === "postgres";
  try {
    return parseBackendUrl(text, {
      protocols: postgres ? ["postgres:", "postgresql:"] : ["mysql:", "mariadb:"],
      defaultPort: postgres ? 5432 : 3306,
      invalid: "",
    });
  } catch {
    const example = postgres
      ? "postgres://postgres@127.0.0.1:5432/postgres"
      : "mysql://root@127.0.0.1:3306/test";
    throw new UsageError(
      `${source} must be a ${postgres ? "postgres://" : "mysql://"} URL such as ${example}, ${describeBadUrl(text)}`,
    );
  }
}

function parseCommandLine(args: readonly string[]) {
  try {
    return parseArgs({
      args: [...args],
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
        "service-principal": { type: "string" },
        credential: { type: "string" },
        "authority-port": { type: "string" },
        help: { type: "boolean", short: "h" },
        version: { type: "boolean", short: "v" },
      },
      strict: true,
    }).values;
  } catch (error) {
    const { code, message } = error as { code?: string; message: string };
    if (!code?.startsWith("ERR_PARSE_ARGS_")) throw error;
    const unknown = code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" ? /'([^']+)'/.exec(message)?.[1] : undefined;
    const what = unknown
      ? `unknown option ${unknown}`
      : (message.split(". ")[0] ?? message).replace(/^./, (first) => first.toLowerCase());
    throw new UsageError(`${what.replace(/\.$/, "")} (see entra-emulator --help)`);
  }
}

/** Reads the command line and the environment into emulator options; throws a {@link UsageError}. */
function plan(values: ReturnType<typeof parseCommandLine>, env: NodeJS.ProcessEnv): Invocation {
  const identityPort = portNumber("--identity-port", values["identity-port"]);
  const authorityPort = portNumber("--authority-port", values["authority-port"]);
  const credentialFlags = {
    secret: "secret",
    certificate: "certificate",
    "workload-identity": "workloadIdentity",
  } as const;
  const credential = values.credential;
  if (credential !== undefined && !Object.hasOwn(credentialFlags, credential)) {
    throw new UsageError(
      `--credential must be secret, certificate or workload-identity, got "${credential}"`,
    );
  }
  if (credential !== undefined && values["service-principal"] === undefined) {
    throw new UsageError("--credential needs --service-principal <name>");
  }
  if (values["service-principal"] !== undefined && values["user-assigned"] !== undefined) {
    throw new UsageError("--service-principal and --user-assigned both name the default identity: pick one");
  }
  const postgresPort = portNumber("--postgres-port", values["postgres-port"]);
  const mysqlPort = portNumber("--mysql-port", values["mysql-port"]);
  const sqlserverPort = portNumber("--sqlserver-port", values["sqlserver-port"]);
  const tokenLifetimeInSeconds = nonNegativeInteger("--token-lifetime", values["token-lifetime"]);
  const mysqlPersona = values["mysql-persona"];
  if (mysqlPersona !== undefined && mysqlPersona !== "mysql8" && mysqlPersona !== "mariadb") {
    throw new UsageError(`--mysql-persona must be mysql8 or mariadb, got "${mysqlPersona}"`);
  }
  const sqlserverOn =
    values.sqlserver === true || sqlserverPort !== undefined || env.ENTRA_EMULATOR_SQLSERVER === "1";

  const backends: Invocation["backends"] = {};
  const postgresOn = values["no-postgres"] !== true;
  const postgresSource =
    values["postgres-url"] !== undefined
      ? "--postgres-url"
      : env.ENTRA_EMULATOR_POSTGRES_URL
        ? "ENTRA_EMULATOR_POSTGRES_URL"
        : undefined;
  const postgresText = values["postgres-url"] ?? (env.ENTRA_EMULATOR_POSTGRES_URL || undefined);
  const pglite = values.pglite === true || postgresText === undefined;
  if (postgresOn && !pglite && postgresSource && postgresText) {
    backends.postgres = { source: postgresSource, url: backendUrl(postgresSource, postgresText, "postgres") };
  }
  const mysqlSource = values["mysql-url"] !== undefined ? "--mysql-url" : "ENTRA_EMULATOR_MYSQL_URL";
  const mysqlText = values["mysql-url"] ?? (env.ENTRA_EMULATOR_MYSQL_URL || undefined);
  const mysqlOn = values["no-mysql"] !== true && mysqlText !== undefined;
  if (mysqlOn && mysqlText !== undefined) {
    backends.mysql = { source: mysqlSource, url: backendUrl(mysqlSource, mysqlText, "mysql") };
  }

  const ports: Invocation["ports"] = {};
  if (identityPort) ports.identity = { flag: "--identity-port", port: identityPort };
  if (authorityPort) ports.authority = { flag: "--authority-port", port: authorityPort };
  if (postgresPort) ports.postgres = { flag: "--postgres-port", port: postgresPort };
  if (mysqlPort) ports.mysql = { flag: "--mysql-port", port: mysqlPort };
  if (sqlserverPort) ports.sqlserver = { flag: "--sqlserver-port", port: sqlserverPort };

  const options: EmulatorOptions = {
    tokenLifetimeInSeconds,
    identityPort,
    identities: values["service-principal"]
      ? [{ name: values["service-principal"], kind: "servicePrincipal" }]
      : values["user-assigned"]
        ? [{ name: values["user-assigned"], kind: "user" }]
        : undefined,
    servicePrincipalCredential:
      credential === undefined ? undefined : credentialFlags[credential as keyof typeof credentialFlags],
    authorityPort,
    postgres: postgresOn
      ? { backend: pglite ? "pglite" : (postgresText as string), port: postgresPort }
      : false,
    mysql: mysqlOn ? { backend: mysqlText, port: mysqlPort, persona: mysqlPersona } : false,
    sqlserver: sqlserverOn ? { port: sqlserverPort } : false,
  };
  return { options, ports, backends, pglite: postgresOn && pglite };
}

/** The first `code` along the `cause` chain, e.g. `ECONNREFUSED` under a MySQL login error. */
function errorCode(error: unknown): string | undefined {
  for (let current = error, depth = 0; current && depth < 8; depth++) {
    const { code, cause } = current as { code?: unknown; cause?: unknown };
    if (typeof code === "string") return code;
    current = cause;
  }
  return undefined;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** One line saying which flag made the start fail and what to do about it. */
function explainStartFailure(error: unknown, invocation: Invocation): string {
  const part = failedPartOf(error);
  if (part === undefined) return messageOf(error);
  const code = errorCode(error);
  const { syscall } = error as { syscall?: string };
  if (syscall === "listen" || code === "EADDRINUSE") {
    const asked = invocation.ports[part];
    if (asked === undefined) return `the ${partNames[part]} could not listen: ${messageOf(error)}`;
    const where = `${asked.flag} ${asked.port}`;
    if (code === "EADDRINUSE")
      return `${where} is in use (EADDRINUSE): pick another port or 0 for any free one`;
    if (code === "EACCES")
      return `${where} needs privileges (EACCES): pick a port above 1023 or 0 for any free one`;
    return `${where} cannot be listened on (${code ?? "error"}): ${messageOf(error)}`;
  }
  if (part !== "postgres" && part !== "mysql") return messageOf(error);
  const backend = invocation.backends[part];
  if (backend === undefined) return messageOf(error);
  const { host, port } = backend.url;
  const address = `${host.includes(":") ? `[${host}]` : host}:${port}`;
  const fromFlag = backend.source.startsWith("--");
  if (code !== undefined && unreachableCodes.has(code)) {
    const server = part === "postgres" ? "PostgreSQL" : "MySQL or MariaDB";
    const instead =
      part === "postgres"
        ? "or use --pglite instead"
        : fromFlag
          ? "or leave --mysql-url out"
          : "or pass --no-mysql";
    if (code === "ENOTFOUND" || code === "EAI_AGAIN") {
      return `${backend.source} host ${host} is not found (${code}): fix the ${fromFlag ? "URL" : "variable"}, ${instead}`;
    }
    return (
      `${backend.source} server ${address} is not reachable (${code}): ` +
      `start ${server} there, fix the ${fromFlag ? "URL" : "variable"}, ${instead}`
    );
  }
  const accounts = part === "postgres" ? "roles" : "users";
  return `setting up the emulator's ${accounts} on the ${backend.source} server ${address} failed: ${messageOf(error)}`;
}

/** Hides backend passwords should a message ever carry one. */
function redact(line: string, invocation: Invocation | undefined): string {
  let redacted = line;
  for (const backend of Object.values(invocation?.backends ?? {})) {
    const password = backend?.url.password;
    if (password && password.length >= 4) redacted = redacted.replaceAll(password, "***");
  }
  return redacted;
}

async function run(invocation: Invocation): Promise<void> {
  const started = performance.now();
  if (invocation.pglite) process.stderr.write("entra-emulator: starting PGlite (embedded PostgreSQL)...\n");
  const emulator = await startEmulator(invocation.options);
  if (invocation.pglite) {
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    process.stderr.write(`entra-emulator: PGlite started in ${seconds} s\n`);
  }
  // Listen for the signals before printing: a supervisor may send one as soon as it reads the lines.
  const stopped = new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      process.stderr.write(`entra-emulator: ${signal}, shutting down.\n`);
      resolve();
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  for (const [key, value] of Object.entries(emulator.env)) {
    if (value !== undefined) process.stdout.write(`export ${key}=${shellQuote(value)}\n`);
  }
  const postgres = emulator.postgres
    ? `PostgreSQL gateway on localhost:${emulator.postgres.port} (backend: ${invocation.pglite ? "PGlite" : "URL"}), `
    : "";
  const mysql = emulator.mysql ? `MySQL gateway on localhost:${emulator.mysql.port}, ` : "";
  const sqlserver = emulator.sqlserver
    ? `Azure SQL endpoint on localhost:${emulator.sqlserver.port} (database ${emulator.sqlserver.database}), `
    : "";
  process.stderr.write(
    `entra-emulator: identity endpoint ${emulator.identityEndpoint}, Entra authority ${emulator.authorityHost}, ${postgres}${mysql}${sqlserver}tenant ${emulator.tenantId}. Ctrl+C to stop.\n`,
  );

  await stopped;
  await emulator.close();
}

/** Runs the bin and returns its exit status: 0 stopped by a signal, 1 failed to start, 2 usage error. */
async function main(args: readonly string[]): Promise<number> {
  let invocation: Invocation | undefined;
  try {
    const values = parseCommandLine(args);
    if (values.help) {
      process.stdout.write(`${usage}\n`);
      return 0;
    }
    if (values.version) {
      process.stdout.write(`${pkg.version}\n`);
      return 0;
    }
    invocation = plan(values, process.env);
    await run(invocation);
    return 0;
  } catch (error) {
    const usageError = error instanceof UsageError;
    const line = usageError
      ? error.message
      : invocation
        ? explainStartFailure(error, invocation)
        : messageOf(error);
    process.stderr.write(`entra-emulator: ${redact(line, invocation)}\n`);
    return usageError ? 2 : 1;
  }
}

main(process.argv.slice(2)).then((status) => process.exit(status));
