import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { getSharedTokenProvider, resetSharedTokenProviders, scopeFor } from "@org/entra-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type Harness, startHarness } from "../src/start-harness.js";

const run = promisify(execFile);

/** The first of `candidates` that exists; fails (never skips) with how to install it. */
function requireBinary(candidates: string[], debianPackage: string): string {
  const found = candidates.find((path) => existsSync(path));
  if (!found) throw new Error(`None of ${candidates.join(", ")} exists: apt-get install ${debianPackage}`);
  return found;
}

let harness: Harness;
let token: string;

beforeAll(async () => {
  harness = await startHarness({ engines: ["postgresql", "mysql"] });
  // A real token, from the real DefaultAzureCredential, through our shared provider.
  ({ token } = await getSharedTokenProvider({ scope: scopeFor("postgresql", "localhost") }).getToken());
});

afterAll(async () => {
  resetSharedTokenProviders();
  await harness?.close();
});

it("psql logs in with PGPASSWORD=<token> and sslmode=verify-full through the PostgreSQL gateway", async () => {
  const psql = requireBinary(["/usr/bin/psql"], "postgresql-client");
  const { env } = harness.emulator;
  const { stdout } = await run(
    psql,
    ["-At", "-c", "select current_user, ssl from pg_stat_ssl where pid = pg_backend_pid()"],
    {
      env: {
        PATH: process.env.PATH,
        PGHOST: env.AZURE_POSTGRESQL_HOST,
        PGPORT: env.AZURE_POSTGRESQL_PORT,
        PGDATABASE: env.AZURE_POSTGRESQL_DATABASE,
        PGUSER: env.AZURE_POSTGRESQL_USER,
        PGPASSWORD: token,
        PGSSLMODE: "verify-full",
        PGSSLROOTCERT: env.NODE_EXTRA_CA_CERTS,
      },
      timeout: 15_000,
    },
  );
  // The gateway terminates TLS; the backend session behind it is local, so pg_stat_ssl says f.
  expect(stdout.trim().split("|")[0]).toBe(env.AZURE_POSTGRESQL_USER);
  expect(harness.emulator.counters.byEngine.postgres.loginsAccepted).toBe(1);
});

it("psql without TLS is refused with Azure's pg_hba message", async () => {
  const psql = requireBinary(["/usr/bin/psql"], "postgresql-client");
  const { env } = harness.emulator;
  const error = await run(psql, ["-At", "-c", "select 1"], {
    env: {
      PATH: process.env.PATH,
      PGHOST: env.AZURE_POSTGRESQL_HOST,
      PGPORT: env.AZURE_POSTGRESQL_PORT,
      PGDATABASE: env.AZURE_POSTGRESQL_DATABASE,
      PGUSER: env.AZURE_POSTGRESQL_USER,
      PGPASSWORD: token,
      PGSSLMODE: "disable",
    },
    timeout: 15_000,
  }).then(
    () => undefined,
    (e: { stderr: string }) => e,
  );
  expect(error?.stderr).toMatch(/no pg_hba.conf entry for host .* no encryption/);
});

it("the mariadb client logs in with the token, the cleartext plugin and verified TLS through the MySQL gateway", async () => {
  const mariadb = requireBinary(["/usr/bin/mariadb", "/usr/bin/mysql"], "mariadb-client");
  const { env } = harness.emulator;
  const { stdout } = await run(
    mariadb,
    [
      `--host=${env.AZURE_MYSQL_HOST}`,
      `--port=${env.AZURE_MYSQL_PORT}`,
      `--user=${env.AZURE_MYSQL_USER}`,
      "--ssl",
      `--ssl-ca=${env.NODE_EXTRA_CA_CERTS}`,
      "--ssl-verify-server-cert",
      "--batch",
      "--skip-column-names",
      "-e",
      "select current_user()",
      env.AZURE_MYSQL_DATABASE as string,
    ],
    // MYSQL_PWD keeps the token off the command line (and out of `ps`).
    { env: { PATH: process.env.PATH, MYSQL_PWD: token }, timeout: 15_000 },
  );
  // MariaDB's client needs no flag for the cleartext plugin (it calls --enable-cleartext-plugin obsolete).
  expect(stdout.trim()).toBe(`${env.AZURE_MYSQL_USER}@%`);
  expect(harness.emulator.counters.byEngine.mysql.loginsAccepted).toBe(1);
});

// `entra-db` output fed to the clients the way people type it, through a real shell. The built bin
// is resolved from the repo root (integration/package.json does not make it a bin on PATH).
const entraDb = `${JSON.stringify(process.execPath)} ${JSON.stringify(
  path.resolve(import.meta.dirname, "..", "..", "packages", "cli", "dist", "bin.mjs"),
)}`;

/** Runs a bash command line with PATH and the emulator's env (NODE_EXTRA_CA_CERTS included). */
function bash(command: string, extra: Record<string, string> = {}) {
  return run("bash", ["-c", command], {
    env: { PATH: process.env.PATH, ...harness.emulator.env, ...extra },
    timeout: 20_000,
  });
}

/** Runs a bash command line with a pseudo-terminal as its stdout, as in an interactive shell. */
function bashInTerminal(command: string) {
  // script(1) keeps running until its stdin ends: give it /dev/null.
  return run(
    "bash",
    ["-c", `script -qec ${shellWord(`bash -c ${shellWord(command)}`)} /dev/null < /dev/null`],
    {
      env: { PATH: process.env.PATH, ...harness.emulator.env },
      timeout: 20_000,
    },
  ).then(
    ({ stdout }) => ({ code: 0, stdout }),
    (error: { code: number; stdout: string }) => ({ code: error.code, stdout: error.stdout }),
  );
}

function shellWord(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

it('psql "$(entra-db url)" logs in out of the box (sslrootcert from NODE_EXTRA_CA_CERTS, libpq 15)', async () => {
  requireBinary(["/usr/bin/psql"], "postgresql-client");
  const { stdout } = await bash(
    `set -e; url="$(${entraDb} url -e postgresql)"; psql "$url" -Atc "select current_user"`,
  ).catch((error: { stderr: string }) => {
    throw new Error(error.stderr);
  });
  expect(stdout.trim()).toBe(harness.emulator.env.AZURE_POSTGRESQL_USER);
});

it('eval "$(entra-db env)" needs no --force in an interactive terminal (stdout of $(...) is a pipe)', async () => {
  requireBinary(["/usr/bin/psql"], "postgresql-client");
  requireBinary(["/usr/bin/script"], "bsdutils");
  const user = harness.emulator.env.AZURE_POSTGRESQL_USER as string;
  // -w: psql must never prompt (a prompt would wait on the terminal).
  const ok = await bashInTerminal(
    `set -e; eval "$(${entraDb} env -e postgresql)"; psql -w -P pager=off -Atc "select 'as:' || current_user"`,
  );
  expect(ok.stdout).toContain(`as:${user}`);
  expect(ok.code).toBe(0);
  // The control: the same command straight to that terminal is refused, so the terminal is real.
  const refused = await bashInTerminal(`${entraDb} env -e postgresql`);
  expect(refused.code).toBe(1);
  expect(refused.stdout).toMatch(/Refusing to print an access token to a terminal/);
  expect(refused.stdout).not.toMatch(/eyJ/);
});

it('eval "$(entra-db env -e mysql)" then the mariadb command it names logs in with verified TLS', async () => {
  requireBinary(["/usr/bin/mariadb"], "mariadb-client");
  const { stdout: lines } = await bash(`${entraDb} env -e mysql`);
  const named = /^# {3}(mariadb --ssl-verify-server-cert .*)$/m.exec(lines)?.[1];
  expect(named).toContain("--ssl-ca=");
  // MYSQL_HOST is localhost here, which the client would take as its Unix socket: force TCP.
  const { stdout } = await bash(
    `eval "$(${entraDb} env -e mysql)" && ${named?.replace("mariadb ", "mariadb --protocol=TCP --batch --skip-column-names -e 'select current_user()' ")}`,
  );
  expect(stdout.trim()).toBe(`${harness.emulator.env.AZURE_MYSQL_USER}@%`);
});

it("entra-db pgpass writes an entry (0600, other lines kept) that psql logs in with via PGPASSFILE", async () => {
  requireBinary(["/usr/bin/psql"], "postgresql-client");
  const dir = await mkdtemp(path.join(os.tmpdir(), "entra-pgpass-"));
  try {
    const file = path.join(dir, "pgpass");
    await writeFile(file, "# mine\nother.example.com:5432:*:someone:keep\n", { mode: 0o600 });
    const { env } = harness.emulator;
    const first = await bash(`${entraDb} pgpass --file ${shellWord(file)}`);
    expect(first.stdout).toMatch(/It expires at \d{4}-\d\d-\d\dT.*run entra-db pgpass again before then/);
    expect(first.stdout).not.toMatch(/eyJ/);
    await bash(`${entraDb} pgpass --file ${shellWord(file)}`); // refreshes the same line
    const lines = (await readFile(file, "utf8")).trimEnd().split("\n");
    expect(lines.slice(0, 2)).toEqual(["# mine", "other.example.com:5432:*:someone:keep"]);
    expect(lines).toHaveLength(3);
    expect(lines[2]).toMatch(
      new RegExp(
        `^localhost:${env.AZURE_POSTGRESQL_PORT}:${env.AZURE_POSTGRESQL_DATABASE}:${env.AZURE_POSTGRESQL_USER}:eyJ`,
      ),
    );
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    // psql with no PGPASSWORD: libpq reads the password from the file.
    const { stdout } = await run(
      "psql",
      [
        `host=localhost port=${env.AZURE_POSTGRESQL_PORT} dbname=${env.AZURE_POSTGRESQL_DATABASE} user=${env.AZURE_POSTGRESQL_USER} sslmode=verify-full sslrootcert=${env.NODE_EXTRA_CA_CERTS}`,
        "-w",
        "-Atc",
        "select current_user",
      ],
      { env: { PATH: process.env.PATH, PGPASSFILE: file }, timeout: 15_000 },
    );
    expect(stdout.trim()).toBe(env.AZURE_POSTGRESQL_USER);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
