import { readFileSync } from "node:fs";
import path from "node:path";
import { withEntra } from "@org/knex-entra";
import knex, { type Knex } from "knex";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ProcessResult, runProcess } from "../src/run-process.js";
import { useHarness } from "../src/use-harness.js";

const exampleDir = path.join(import.meta.dirname, "..", "..", "examples", "knex");
const scripts: Record<string, string> = JSON.parse(
  readFileSync(path.join(exampleDir, "package.json"), "utf8"),
).scripts;

const SEEDED_TITLES = [
  "Give the app a managed identity",
  "Create its database role with pgaadauth_create_principal",
  "Delete the database password",
];

const harness = useHarness({ engines: ["postgresql", "mysql"] });

/**
 * Runs one of the example's package.json scripts (the real knex CLI, TypeScript through tsx) as
 * the user would, with the emulator's variables: its own DefaultAzureCredential asks the emulator's
 * identity endpoint for tokens, and Node trusts the emulator's CA through NODE_EXTRA_CA_CERTS.
 */
function runScript(name: "migrate" | "seed" | "rollback", dbClient: string): Promise<ProcessResult> {
  return runProcess(scripts[name] as string, [], {
    cwd: exampleDir,
    shell: true,
    env: { ...process.env, ...harness.emulator.env, DB_CLIENT: dbClient },
    timeoutInMs: 45_000,
  });
}

const clients = [
  { dbClient: "pg", engine: "postgres" },
  { dbClient: "mysql2", engine: "mysql" },
] as const;

describe.each(clients)(
  "examples/knex with DB_CLIENT=$dbClient through the emulator",
  ({ dbClient, engine }) => {
    let db: Knex;

    beforeAll(() => {
      db = knex(withEntra({ client: dbClient, connection: { ssl: harness.tls }, pool: { min: 0, max: 1 } }));
    });

    afterAll(async () => {
      // Leave nothing behind, so the next run starts from an empty schema.
      await db?.schema.dropTableIfExists("todos");
      await db?.schema.dropTableIfExists("knex_migrations");
      await db?.schema.dropTableIfExists("knex_migrations_lock");
      await db?.destroy();
    });

    it("`migrate` and `seed` run the real knex CLI signed in with Entra tokens, and `rollback` undoes it", async () => {
      await db.schema.dropTableIfExists("todos"); // a previous run that died half-way
      harness.emulator.resetCounters();

      const migrate = await runScript("migrate", dbClient);
      expect(migrate.output).toContain("Batch 1 run: 1 migrations");
      expect(migrate.code, migrate.output).toBe(0);
      const seed = await runScript("seed", dbClient);
      expect(seed.output).toContain("Ran 1 seed files");
      expect(seed.code, seed.output).toBe(0);

      const { counters } = harness.emulator;
      console.info(
        `examples/knex (${dbClient}): migrate + seed: ${counters.byEngine[engine].loginsAccepted} Entra logins accepted, ` +
          `${counters.tokenRequests} token request(s), ${counters.loginsRejected} rejected`,
      );
      // Each CLI process opened at least one connection and authenticated with a token it fetched itself.
      expect(counters.byEngine[engine].loginsAccepted).toBeGreaterThanOrEqual(2);
      expect(counters.tokenRequests).toBeGreaterThanOrEqual(2);
      expect(counters.loginsRejected).toBe(0);

      const rows = await db("todos").select("title", "done").orderBy("id");
      expect(rows.map((row) => row.title)).toEqual(SEEDED_TITLES);
      expect(rows.map((row) => Boolean(row.done))).toEqual([true, true, false]);

      const rollback = await runScript("rollback", dbClient);
      expect(rollback.code, rollback.output).toBe(0);
      expect(await db.schema.hasTable("todos")).toBe(false);
    });
  },
);
