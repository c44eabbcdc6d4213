import { readFileSync } from "node:fs";
import path from "node:path";
import { resetSharedTokenProviders } from "@org/entra-core";
import { type Kysely, sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMssqlDb } from "../../examples/kysely/src/mssql.js";
import { type ProcessResult, runProcess } from "../src/run-process.js";
import { createKysely } from "../src/targets/kysely-targets.js";
import { useHarness } from "../src/use-harness.js";

const exampleDir = path.join(import.meta.dirname, "..", "..", "examples", "kysely");
const scripts: Record<string, string> = JSON.parse(
  readFileSync(path.join(exampleDir, "package.json"), "utf8"),
).scripts;

const MIGRATION = "2026-01-01T00-00-00_create_todos";
const TITLE = "Delete the database password";
const JWT_PATTERN = /eyJ[\w-]{10,}\.eyJ[\w-]{10,}/;
const LIFETIME_IN_SECONDS = 3;
const RUN_FOR_IN_MS = 5_000; // more than a lifetime: sessions outlive the tokens they signed in with

// No clock-skew allowance: an Azure SQL session whose token has expired is ended at its next request.
const harness = useHarness({ engines: ["postgresql", "mysql", "sqlserver"], clockSkewInSeconds: 0 });

/**
 * Runs one of the example's package.json scripts as the user would, with only the emulator's
 * variables: its own DefaultAzureCredential asks the emulator's identity endpoint for tokens, and
 * Node trusts the emulator's CA through NODE_EXTRA_CA_CERTS.
 */
function runScript(name: string, dialect: string): Promise<ProcessResult> {
  return runProcess(scripts[name] as string, [], {
    cwd: exampleDir,
    shell: true,
    env: { PATH: process.env.PATH, ...harness.emulator.env, DB_DIALECT: dialect },
    timeoutInMs: 45_000,
  });
}

async function tableNames(db: Kysely<unknown>): Promise<string[]> {
  return (await db.introspection.getTables()).map((table) => table.name);
}

const dialects = [
  { dialect: "postgres", engine: "postgresql", gateway: "postgres", undo: true },
  // One child process fewer: the migration's `down` is the same Kysely code on both engines.
  { dialect: "mysql", engine: "mysql", gateway: "mysql", undo: false },
] as const;

describe.each(dialects)(
  "examples/kysely with DB_DIALECT=$dialect through the emulator",
  ({ dialect, engine, gateway, undo }) => {
    let db: Kysely<unknown>;

    beforeAll(() => {
      db = createKysely(engine, harness);
    });

    afterAll(async () => {
      // Leave nothing behind, so the next run starts from an empty schema.
      for (const table of ["todos", "kysely_migration", "kysely_migration_lock"]) {
        await db?.schema.dropTable(table).ifExists().execute();
      }
      await db?.destroy();
    });

    it("`migrate` and `start` run Kysely's Migrator and queries signed in with Entra tokens", async () => {
      for (const table of ["todos", "kysely_migration", "kysely_migration_lock"]) {
        await db.schema.dropTable(table).ifExists().execute(); // a previous run that died half-way
      }
      harness.emulator.resetCounters();

      const migrate = await runScript("migrate", dialect);
      expect(migrate.output).toContain(`${MIGRATION}: Up Success`);
      expect(migrate.code, migrate.output).toBe(0);
      const start = await runScript("start", dialect);
      expect(start.code, start.output).toBe(0);
      expect(start.output).toContain(`${dialect}: signed in as ${harness.emulator.identities[0]?.name}`);
      expect(start.output).toContain(`- ${TITLE}`);
      expect(`${migrate.output}${start.output}`).not.toMatch(JWT_PATTERN);

      const { counters } = harness.emulator;
      console.info(
        `examples/kysely (${dialect}): migrate + start: ${counters.byEngine[gateway].loginsAccepted} Entra logins accepted, ` +
          `${counters.tokenRequests} token request(s), ${counters.loginsRejected} rejected`,
      );
      // Each process opened at least one connection and signed in with a token it fetched itself.
      expect(counters.byEngine[gateway].loginsAccepted).toBeGreaterThanOrEqual(2);
      expect(counters.tokenRequests).toBeGreaterThanOrEqual(2);
      expect(counters.loginsRejected).toBe(0);

      const todos = await sql<{ title: string }>`select title from todos`.execute(db);
      expect(todos.rows.map((row) => row.title)).toEqual([TITLE]);
    });

    if (undo)
      it("`migrate:down` undoes the migration", async () => {
        const down = await runScript("migrate:down", dialect);
        expect(down.code, down.output).toBe(0);
        expect(down.output).toContain(`${MIGRATION}: Down Success`);
        expect(await tableNames(db)).not.toContain("todos");
      });
  },
);

describe("examples/kysely with DB_DIALECT=mssql through the emulator's Azure SQL endpoint", () => {
  it("`whoami` signs in with an Entra token over TDS 8 strict TLS", async () => {
    harness.emulator.resetCounters();
    const whoami = await runScript("whoami", "mssql");
    expect(whoami.code, whoami.output).toBe(0);
    expect(whoami.output).toContain(`mssql: signed in as ${harness.emulator.identities[0]?.name}`);
    expect(whoami.output).not.toMatch(JWT_PATTERN);
    expect(harness.emulator.counters.byEngine.sqlserver.loginsAccepted).toBeGreaterThanOrEqual(1);
    expect(harness.emulator.counters.loginsRejected).toBe(0);
  });

  it("the recipe's pool retires sessions before their token expires: no query fails, none meets 37396", async () => {
    resetSharedTokenProviders();
    harness.emulator.tokenLifetimeInSeconds = LIFETIME_IN_SECONDS;
    harness.emulator.resetCounters();
    const db = createMssqlDb({ options: { cryptoCredentialsDetails: { ca: harness.tls.ca } } });
    const failures: string[] = [];
    let queries = 0;
    const deadline = Date.now() + RUN_FOR_IN_MS;
    // One query at a time: one session is open at any moment, none waits idle in the pool, so a
    // session that outlived its token would be sent the next query (or Kysely's validation) and
    // end with 37396.
    try {
      while (Date.now() < deadline) {
        await sql`SELECT 1 AS one`.execute(db).then(
          () => queries++,
          (error: Error) => failures.push(error.message),
        );
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    } finally {
      await db.destroy();
      resetSharedTokenProviders();
    }
    const { counters } = harness.emulator;
    console.info(
      `examples/kysely (mssql): ${queries} queries over ${(RUN_FOR_IN_MS / 1000 / LIFETIME_IN_SECONDS).toFixed(1)} token lifetimes: ` +
        `${counters.byEngine.sqlserver.loginsAccepted} logins, ${counters.sessionsExpired} sessions ended with 37396, ` +
        `${counters.tokenRequests} token requests`,
    );
    expect(failures).toEqual([]);
    expect(queries).toBeGreaterThan(50);
    expect(counters.loginsRejected).toBe(0);
    // Queries ran past the first tokens' expiry, yet no session was sent a request after its token
    // expired (Azure SQL, and the emulator, would end it with 37396): EntraConnection retired each
    // one on release and the pool signed in new ones.
    expect(counters.sessionsExpired).toBe(0);
    expect(counters.byEngine.sqlserver.loginsAccepted).toBeGreaterThanOrEqual(2);
  });
});
