import { readFileSync } from "node:fs";
import path from "node:path";
import { withEntra as withEntraMysql2 } from "@org/mysql2-entra";
import { withEntra } from "@org/pg-entra";
import mysql from "mysql2/promise";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ProcessResult, runProcess } from "../src/run-process.js";
import { ENTRA_DB_BIN, startProxyProcess } from "../src/start-proxy-process.js";
import { useHarness } from "../src/use-harness.js";

const exampleDir = path.join(import.meta.dirname, "..", "..", "examples", "drizzle");
const scripts: Record<string, string> = JSON.parse(
  readFileSync(path.join(exampleDir, "package.json"), "utf8"),
).scripts;
const JWT_PATTERN = /eyJ[\w-]{10,}\.eyJ[\w-]{10,}/;

const harness = useHarness({ engines: ["postgresql", "mysql"] });
const identity = () => harness.emulator.identities[0]?.name as string;

/**
 * Runs one of the example's package.json scripts as npm does (its node_modules/.bin first on PATH)
 * with only `env` besides PATH and HOME: drizzle-kit gets nothing but `DATABASE_URL`; the app gets
 * the emulator's variables, so its DefaultAzureCredential asks the emulator's identity endpoint and
 * Node trusts the emulator's CA through NODE_EXTRA_CA_CERTS.
 */
function runScript(name: string, env: Readonly<Record<string, string | undefined>>): Promise<ProcessResult> {
  const bin = path.join(exampleDir, "node_modules", ".bin");
  return runProcess(scripts[name] as string, [], {
    cwd: exampleDir,
    shell: true,
    env: { PATH: `${bin}${path.delimiter}${process.env.PATH}`, HOME: process.env.HOME, ...env },
    timeoutInMs: 30_000,
  });
}

/** The line `src/app.ts` prints for a task it added and read back through `driver`. */
const appLine = (driver: string) =>
  new RegExp(`task \\d+: Signed in with Microsoft Entra ID \\(${driver}\\) \\(as ${identity()}\\)`);

describe("examples/drizzle on PostgreSQL through the emulator", () => {
  let db: pg.Client;
  let admin: pg.Client;
  const database = () => harness.emulator.postgres?.database as string;

  beforeAll(async () => {
    db = new pg.Client(withEntra({ ssl: harness.tls }));
    await db.connect();
    await db.query('drop table if exists "tasks"; drop schema if exists "drizzle" cascade'); // a run that died half-way
    // What an Entra admin does once on Azure (README): Drizzle's migrator runs CREATE SCHEMA IF NOT
    // EXISTS "drizzle", which needs CREATE on the database. Here the backend's own superuser does it.
    admin = new pg.Client({ connectionString: harness.backends.postgresql?.url });
    await admin.connect();
    await admin.query(`grant create on database "${database()}" to "${identity()}"`);
  });

  afterAll(async () => {
    await db?.query('drop table if exists "tasks"; drop schema if exists "drizzle" cascade');
    await db?.end();
    await admin?.query(`revoke create on database "${database()}" from "${identity()}"`);
    await admin?.end();
  });

  it("`drizzle-kit migrate` through entra-db proxy (no password), then the app through node-postgres and postgres.js", async () => {
    harness.emulator.resetCounters();
    const proxy = await startProxyProcess(["--engine", "postgresql"], harness.emulator.env);
    let migrate: ProcessResult;
    try {
      migrate = await runScript("migrate", {
        DATABASE_URL: `postgresql://app@127.0.0.1:${proxy.port}/${database()}?sslmode=disable`,
      });
    } finally {
      expect(await proxy.stop()).toBe(0);
    }
    expect(migrate.output).toContain("migrations applied successfully");
    expect(migrate.code, migrate.output).toBe(0);
    const migrations = await db.query('select hash from "drizzle"."__drizzle_migrations"');
    expect(migrations.rowCount).toBe(1);
    const viaProxy = harness.emulator.counters.byEngine.postgres.loginsAccepted;
    expect(viaProxy).toBeGreaterThanOrEqual(1); // the proxy signed drizzle-kit's connection in

    for (const [script, driver] of [
      ["start", "node-postgres"],
      ["start:postgres-js", "postgres-js"],
    ] as const) {
      const app = await runScript(script, harness.emulator.env);
      expect(app.code, app.output).toBe(0);
      expect(app.output).toMatch(appLine(driver));
    }
    const { counters } = harness.emulator;
    console.info(
      `examples/drizzle (postgresql): migrate through the proxy + 2 app runs: ${counters.byEngine.postgres.loginsAccepted} ` +
        `Entra logins accepted, ${counters.tokenRequests} token request(s), ${counters.loginsRejected} rejected`,
    );
    expect(counters.byEngine.postgres.loginsAccepted).toBeGreaterThanOrEqual(viaProxy + 2);
    expect(counters.loginsRejected).toBe(0);
    const { rows } = await db.query<{ title: string; done: boolean }>(
      'select title, done from "tasks" order by id',
    );
    expect(rows).toEqual([
      { title: "Signed in with Microsoft Entra ID (node-postgres)", done: false },
      { title: "Signed in with Microsoft Entra ID (postgres-js)", done: false },
    ]);
  });

  it("`drizzle-kit migrate` with a URL from `entra-db url` (a token valid for the run)", async () => {
    const url = await runProcess(process.execPath, [ENTRA_DB_BIN, "url", "-e", "postgresql"], {
      cwd: exampleDir,
      env: { PATH: process.env.PATH, ...harness.emulator.env },
    });
    expect(url.code, url.stderr).toBe(0);
    harness.emulator.resetCounters();
    const migrate = await runScript("migrate", { DATABASE_URL: url.stdout.trim() });
    expect(migrate.output).not.toMatch(JWT_PATTERN); // drizzle-kit prints no token
    expect(migrate.code, migrate.output).toBe(0);
    expect(migrate.output).toContain("migrations applied successfully"); // nothing left to apply
    expect(harness.emulator.counters.byEngine.postgres.loginsAccepted).toBe(1);
    expect(harness.emulator.counters.tokenRequests).toBe(0); // the token came with the URL
  });
});

describe("examples/drizzle on MySQL through the emulator", () => {
  let db: mysql.Connection;
  const drop = () => db.query("drop table if exists `tasks`, `__drizzle_migrations`");

  beforeAll(async () => {
    db = await mysql.createConnection(withEntraMysql2({ ssl: harness.tls }));
    await drop(); // a run that died half-way
  });

  afterAll(async () => {
    if (db) await drop();
    await db?.end();
  });

  it("Drizzle's own migrator on the Entra pool, `drizzle-kit migrate` through entra-db proxy, then the app through mysql2", async () => {
    harness.emulator.resetCounters();
    const runtime = await runScript("migrate:app:mysql2", harness.emulator.env);
    expect(runtime.code, runtime.output).toBe(0);
    expect(runtime.output).toContain("migrations applied through mysql2");
    const [applied] = await db.query<mysql.RowDataPacket[]>("select hash from `__drizzle_migrations`");
    expect(applied).toHaveLength(1);

    const proxy = await startProxyProcess(["--engine", "mysql"], harness.emulator.env);
    let migrate: ProcessResult;
    try {
      migrate = await runScript("migrate:mysql", {
        DATABASE_URL: `mysql://app@127.0.0.1:${proxy.port}/${harness.emulator.mysql?.database}`,
      });
    } finally {
      expect(await proxy.stop()).toBe(0);
    }
    expect(migrate.code, migrate.output).toBe(0);
    expect(migrate.output).toContain("migrations applied successfully"); // nothing left to apply

    const app = await runScript("start:mysql2", harness.emulator.env);
    expect(app.code, app.output).toBe(0);
    expect(app.output).toMatch(appLine("mysql2"));
    const { counters } = harness.emulator;
    console.info(
      `examples/drizzle (mysql): migrator + migrate through the proxy + 1 app run: ${counters.byEngine.mysql.loginsAccepted} ` +
        `Entra logins accepted, ${counters.tokenRequests} token request(s), ${counters.loginsRejected} rejected`,
    );
    expect(counters.byEngine.mysql.loginsAccepted).toBeGreaterThanOrEqual(3); // one per process at least
    expect(counters.loginsRejected).toBe(0);
    const [rows] = await db.query<mysql.RowDataPacket[]>("select title, done from `tasks` order by id");
    expect(rows.map((row) => ({ title: row.title, done: Boolean(row.done) }))).toEqual([
      { title: "Signed in with Microsoft Entra ID (mysql2)", done: false },
    ]);
  });
});
