import { readFileSync } from "node:fs";
import path from "node:path";
import mysql from "mysql2/promise";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ProcessResult, runProcess } from "../src/run-process.js";
import type { BackendEngine } from "../src/select-backend.js";
import { useHarness } from "../src/use-harness.js";

const exampleDir = path.join(import.meta.dirname, "..", "..", "examples", "mikro-orm");
const scripts: Record<string, string> = JSON.parse(
  readFileSync(path.join(exampleDir, "package.json"), "utf8"),
).scripts;

const harness = useHarness({ engines: ["postgresql", "mysql"] });

/**
 * Runs one of the example's package.json scripts as the user would, with only PATH, the emulator's
 * variables and DB_ENGINE: its own DefaultAzureCredential asks the emulator's identity endpoint for
 * tokens, and Node trusts the emulator's CA through NODE_EXTRA_CA_CERTS.
 */
function runScript(name: "start" | "migrate:down", engine: BackendEngine): Promise<ProcessResult> {
  return runProcess(scripts[name] as string, [], {
    cwd: exampleDir,
    shell: true,
    env: { PATH: process.env.PATH, ...harness.emulator.env, DB_ENGINE: engine },
    timeoutInMs: 45_000,
  });
}

/** Runs SQL on the backend itself (not through the gateway), to check and clean up the example's tables. */
async function onBackend(engine: BackendEngine, sql: string): Promise<Record<string, unknown>[]> {
  const url = harness.backends[engine]?.url as string;
  if (engine === "postgresql") {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      return (await client.query(sql)).rows;
    } finally {
      await client.end();
    }
  }
  const connection = await mysql.createConnection({
    uri: url,
    database: harness.emulator.env.AZURE_MYSQL_DATABASE,
  });
  try {
    const [rows] = await connection.query<mysql.RowDataPacket[]>(sql);
    return rows;
  } finally {
    await connection.end();
  }
}

async function dropTables(engine: BackendEngine): Promise<void> {
  await onBackend(engine, "drop table if exists note");
  await onBackend(engine, "drop table if exists mikro_orm_migrations");
}

const engines = [
  { engine: "postgresql", gateway: "postgres" },
  { engine: "mysql", gateway: "mysql" },
] as const;

describe.each(engines)(
  "examples/mikro-orm with DB_ENGINE=$engine through the emulator",
  ({ engine, gateway }) => {
    beforeAll(() => dropTables(engine)); // a previous run that died half-way
    afterAll(() => dropTables(engine));

    it("`npm start` migrates, writes and reads a note through the EntityManager signed in with Entra tokens; `migrate:down` reverts", async () => {
      const identity = harness.emulator.identities[0]?.name as string;
      const text = `Written by ${identity} without a password`;
      harness.emulator.resetCounters();

      const start = await runScript("start", engine);
      expect(start.output).not.toMatch(/eyJ[\w-]{10,}\.eyJ/); // no token in the app's output
      expect(start.code, start.output).toBe(0);
      expect(start.output).toMatch(/Applied 'Migration\d+'/); // MikroORM's migrator
      expect(start.output).toContain(`as ${identity} with a Microsoft Entra access token`);
      expect(start.output).toContain(`#1 ${text}`);

      const { counters } = harness.emulator;
      console.info(
        `examples/mikro-orm (${engine}): npm start: ${counters.byEngine[gateway].loginsAccepted} Entra logins accepted, ` +
          `${counters.tokenRequests} token request(s), ${counters.loginsRejected} rejected`,
      );
      expect(counters.byEngine[gateway].loginsAccepted).toBeGreaterThanOrEqual(1);
      expect(counters.tokenRequests).toBeGreaterThanOrEqual(1);
      expect(counters.loginsRejected).toBe(0);
      expect(await onBackend(engine, "select text from note")).toEqual([{ text }]);

      const down = await runScript("migrate:down", engine);
      expect(down.code, down.output).toBe(0);
      expect(down.output).toMatch(/Reverted 'Migration\d+'/);
      await expect(onBackend(engine, "select text from note")).rejects.toThrow();
    });
  },
);
