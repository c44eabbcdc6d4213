import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
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
