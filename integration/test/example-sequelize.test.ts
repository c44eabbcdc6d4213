import { fileURLToPath } from "node:url";
import mysql from "mysql2/promise";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runProcess } from "../src/run-process.js";
import { type Harness, startHarness } from "../src/start-harness.js";

const EXAMPLE_DIR = fileURLToPath(new URL("../../examples/sequelize/", import.meta.url));
const SEQUELIZE_CLI = fileURLToPath(new URL("node_modules/.bin/sequelize", `file://${EXAMPLE_DIR}`));

/** Runs the example's real `sequelize` CLI with only PATH and the emulator's variables. */
async function sequelizeCli(
  harness: Harness,
  dialect: string,
  command: string,
): Promise<{ code: number; output: string }> {
  const { code, stdout, stderr } = await runProcess(SEQUELIZE_CLI, [command], {
    cwd: EXAMPLE_DIR,
    env: { PATH: process.env.PATH, ...harness.emulator.env, DB_DIALECT: dialect },
    timeoutInMs: 60_000,
  });
  return { code: code ?? 1, output: `${stdout}\n${stderr}` };
}

async function postgresTitles(url: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ title: string }>("select title from todos order by id");
    return rows.map((row) => row.title);
  } finally {
    await client.end();
  }
}

async function mysqlTitles(url: string, database: string): Promise<string[]> {
  const connection = await mysql.createConnection({ uri: url, database });
  try {
    const [rows] = await connection.query<mysql.RowDataPacket[]>("select title from todos order by id");
    return rows.map((row) => String(row.title));
  } finally {
    await connection.end();
  }
}

describe("examples/sequelize: the real sequelize-cli migrates and seeds through the emulator", () => {
  let harness: Harness;

  beforeAll(async () => {
    harness = await startHarness({ engines: ["postgresql", "mysql"] });
  });

  afterAll(async () => {
    await harness?.close();
  });

  const cases = [
    { dialect: "postgres", engine: "postgresql" },
    { dialect: "mysql", engine: "mysql" },
    { dialect: "mariadb", engine: "mysql" },
  ] as const;

  it.each(cases)("$dialect: db:migrate, db:seed:all, db:migrate:undo:all", async ({ dialect, engine }) => {
    const backend = harness.backends[engine]?.url as string;
    const titles = () =>
      engine === "postgresql"
        ? postgresTitles(backend)
        : mysqlTitles(backend, harness.emulator.env.AZURE_MYSQL_DATABASE as string);
    // A failed earlier run may have left the table behind.
    await sequelizeCli(harness, dialect, "db:migrate:undo:all");
    harness.emulator.resetCounters();

    const migrate = await sequelizeCli(harness, dialect, "db:migrate");
    expect(migrate.output).toContain("create-todos");
    expect(migrate.code, migrate.output).toBe(0);
    const seed = await sequelizeCli(harness, dialect, "db:seed:all");
    expect(seed.code, seed.output).toBe(0);

    expect(await titles()).toEqual(["Sign in without a password", "Rotate nothing, ever"]);
    const { counters } = harness.emulator;
    expect(counters.loginsAccepted).toBeGreaterThanOrEqual(2);
    expect(counters.loginsRejected).toBe(0);
    expect(counters.tokenRequests).toBeGreaterThanOrEqual(2); // one per CLI process

    const undo = await sequelizeCli(harness, dialect, "db:migrate:undo:all");
    expect(undo.code, undo.output).toBe(0);
    await expect(titles()).rejects.toThrow();
  });
});
