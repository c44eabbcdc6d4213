import { chmod, lstat, mkdir, readFile, realpath, rename, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { type Command, defineCommand } from "./define-command.js";
import { resolveCa, resolveLogin } from "./resolve-login.js";

/** Usage of `entra-db pgpass`. */
export const PGPASS_USAGE = `Usage: entra-db pgpass [options]

Writes an Entra access token for PostgreSQL into a libpq password file, so that psql, pg_dump and
every libpq tool log in without PGPASSWORD:

  <host>:<port>:<database>:<user>:<token>       (":" and "\\" escaped with "\\"; database "*" without one)

The line for the same host, port, database and user is replaced (or added before any line that
would match first); every other line is kept. The file gets mode 0600, as libpq requires. The
token expires (about 1 h for users, up to 24 h for managed identities): run entra-db pgpass again
before the time it prints, e.g. from cron. Nothing secret is printed.

Then connect without a password: psql "host=<host> port=<port> dbname=<db> user=<user> sslmode=verify-full sslrootcert=<ca>"
(sslrootcert=system needs libpq 16 or later; with libpq 15 and older pass --ca <file>).

Options:
      --file <path>       The password file (default: PGPASSFILE, else ~/.pgpass;
                          %APPDATA%\\postgresql\\pgpass.conf on Windows)
      --host <host>       Server host (default: AZURE_POSTGRESQL_HOST)
      --port <port>       Port (default: AZURE_POSTGRESQL_PORT, else 5432)
  -d, --database <name>   Database (default: AZURE_POSTGRESQL_DATABASE, else "*": any database)
  -u, --user <name>       User (default: AZURE_POSTGRESQL_USER, else the name in the token)
      --ca <file>         CA file for the psql command printed (default: PGSSLROOTCERT,
                          NODE_EXTRA_CA_CERTS, SSL_CERT_FILE, the system's CA bundle, else "system")
      --client-id <id>    Client ID of a user-assigned managed identity (default: AZURE_POSTGRESQL_CLIENTID)
      --scope <scope>     Token scope (default: chosen from the host)
      --timeout <s>       Give up after this many seconds (default 30)
  -h, --help              Show this help`;

/** Escapes a pgpass field: libpq reads `\\` followed by any character as that character. */
export function escapePgpassField(value: string): string {
  return value.replace(/[\\:]/g, "\\$&");
}

/**
 * Splits a pgpass line into its unescaped fields, the way libpq reads it: `:` separates, `\\`
 * makes the next character literal. `undefined` for a comment or blank line.
 */
export function parsePgpassLine(line: string): string[] | undefined {
  if (line.trim() === "" || line.startsWith("#")) return undefined;
  const fields: string[] = [];
  let current = "";
  for (let i = 0; i < line.length; i++) {
    const char = line[i] as string;
    if (char === "\\" && i + 1 < line.length) {
      current += line[++i];
    } else if (char === ":" && fields.length < 4) {
      fields.push(current);
      current = "";
    } else {
      current += char;
    }
  }
  fields.push(current);
  return fields;
}

/** The four fields a pgpass line is looked up by. */
export interface PgpassKey {
  readonly host: string;
  readonly port: string;
  readonly database: string;
  readonly user: string;
}

/**
 * `content` with the entry for `key` set to `password`: lines with exactly the same host, port,
 * database and user are removed, and the new line goes where the first of them was, or before an
 * earlier line that would match the key with `*` wildcards (libpq uses the first matching line),
 * else at the end. Comments, blank lines and other entries are kept as they are.
 */
export function upsertPgpassEntry(content: string, key: PgpassKey, password: string): string {
  const wanted = [key.host, key.port, key.database, key.user];
  const entry = [...wanted, password].map(escapePgpassField).join(":");
  const lines = content === "" ? [] : content.replace(/\r?\n$/, "").split(/\r?\n/);
  const kept: string[] = [];
  let at: number | undefined;
  for (const line of lines) {
    const fields = parsePgpassLine(line);
    if (fields && fields.length >= 4) {
      if (wanted.every((value, i) => fields[i] === value)) {
        at ??= kept.length;
        continue;
      }
      if (at === undefined && wanted.every((value, i) => fields[i] === "*" || fields[i] === value)) {
        at = kept.length;
      }
    }
    kept.push(line);
  }
  kept.splice(at ?? kept.length, 0, entry);
  return `${kept.join("\n")}\n`;
}

/** The default password file of libpq: `PGPASSFILE`, else `~/.pgpass` (`%APPDATA%\postgresql\pgpass.conf` on Windows). */
export function defaultPgpassFile(env: Readonly<Record<string, string | undefined>>): string {
  if (env.PGPASSFILE) return env.PGPASSFILE;
  if (process.platform === "win32" && env.APPDATA) {
    return path.join(env.APPDATA, "postgresql", "pgpass.conf");
  }
  return path.join(env.HOME || os.homedir(), ".pgpass");
}

/** A libpq keyword value, single-quoted when it needs to be. */
function libpqValue(value: string): string {
  return /^[^\s'\\]+$/.test(value) ? value : `'${value.replace(/['\\]/g, "\\$&")}'`;
}

async function readIfExists(file: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return "";
    throw error;
  }
}

/**
 * Writes `content` to `file` with mode 0600 through a temporary file in the same directory and a
 * rename, so that libpq never reads a half-written file. A symbolic link is followed (its target
 * is replaced, the link kept).
 */
async function writePrivateFile(file: string, content: string): Promise<void> {
  let target = file;
  try {
    if ((await lstat(file)).isSymbolicLink()) target = await realpath(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  await mkdir(path.dirname(target), { recursive: true, mode: 0o700 });
  const temporary = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.tmp`);
  try {
    await writeFile(temporary, content, { mode: 0o600, flag: "wx" });
    await chmod(temporary, 0o600);
    await rename(temporary, target);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

/**
 * `entra-db pgpass`: gets a token for PostgreSQL and writes it into the libpq password file
 * (`--file`, else `PGPASSFILE`, else `~/.pgpass`), replacing the entry for the same host, port,
 * database and user. Prints where it wrote, when the token expires and how to connect; never the
 * token. The engine is PostgreSQL unless `--engine` says otherwise (then it refuses).
 */
export const pgpassCommand: Command = defineCommand({
  name: "pgpass",
  usage: PGPASS_USAGE,
  options: { file: { type: "string" }, ca: { type: "string" } },
  run: async (flags, io) => {
    const login = await resolveLogin({ ...flags, engine: flags.engine ?? "postgresql" }, io, {
      command: "pgpass",
      azureSqlHint: "A pgpass file is for PostgreSQL (libpq) clients only.",
      mysqlHint:
        'The mysql and mariadb clients read the password from MYSQL_PWD: eval "$(entra-db env -e mysql)".',
    });
    const ca = resolveCa(flags.ca, "postgresql", io.env);
    const file = path.resolve(flags.file || defaultPgpassFile(io.env));
    const database = login.database || "*";
    const before = await readIfExists(file);
    const key = { host: login.host, port: String(login.port), database, user: login.user };
    await writePrivateFile(file, upsertPgpassEntry(before, key, login.token));

    const now = io.now?.() ?? Date.now();
    const minutes = Math.max(0, Math.floor((login.expiresOnTimestamp - now) / 60_000));
    const expiresOn = new Date(login.expiresOnTimestamp).toISOString();
    const connect = [
      `host=${libpqValue(login.host)}`,
      `port=${login.port}`,
      ...(login.database ? [`dbname=${libpqValue(login.database)}`] : []),
      `user=${libpqValue(login.user)}`,
      "sslmode=verify-full",
      `sslrootcert=${libpqValue(ca.file)}`,
    ].join(" ");
    io.stdout.write(
      [
        `Wrote the token for ${login.user} at ${login.host}:${login.port} (database ${database}) to ${file}.`,
        `It expires at ${expiresOn} (in ${minutes} min): run entra-db pgpass again before then.`,
        `Connect: psql "${connect}"`,
        "",
      ].join("\n"),
    );
    return 0;
  },
});
