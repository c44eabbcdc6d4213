import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { resetSharedTokenProviders } from "@org/entra-core";
import { withEntra } from "@org/knex-entra";
import knex from "knex";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type Harness, startHarness } from "../src/start-harness.js";

const require = createRequire(import.meta.url);
const knexDir = path.dirname(require.resolve("knex/package.json"));
const knexEntraDir = path.dirname(require.resolve("@org/knex-entra/package.json"));

const KNEXFILES = {
  "knexfile.cjs": `const { withEntra } = require("@org/knex-entra");
module.exports = withEntra({ client: "pg", connection: { ssl: true }, pool: { min: 0, max: 1 },
  migrations: { directory: "./migrations", tableName: "knexfile_cjs_migrations" } });
`,
  "knexfile.mjs": `import { withEntra } from "@org/knex-entra";
export default withEntra({ client: "pg", connection: { ssl: true }, pool: { min: 0, max: 1 },
  migrations: { directory: "./migrations", tableName: "knexfile_mjs_migrations" } });
`,
};

let harness: Harness;
let projectDir: string;

beforeAll(async () => {
  harness = await startHarness();
  // A project of its own (the knex CLI insists on a local knex next to the knexfile).
  projectDir = mkdtempSync(path.join(tmpdir(), "knex-entra-knexfile-"));
  mkdirSync(path.join(projectDir, "node_modules", "@org"), { recursive: true });
  mkdirSync(path.join(projectDir, "migrations"));
  symlinkSync(knexDir, path.join(projectDir, "node_modules", "knex"), "dir");
  symlinkSync(knexEntraDir, path.join(projectDir, "node_modules", "@org", "knex-entra"), "dir");
  for (const [name, text] of Object.entries(KNEXFILES)) writeFileSync(path.join(projectDir, name), text);
});

afterAll(async () => {
  const db = knex(withEntra({ client: "pg", connection: { ssl: harness.tls }, pool: { min: 0, max: 1 } }));
  for (const table of ["knexfile_cjs_migrations", "knexfile_mjs_migrations"]) {
    await db.schema.dropTableIfExists(table);
    await db.schema.dropTableIfExists(`${table}_lock`);
  }
  await db.destroy();
  resetSharedTokenProviders();
  await harness?.close();
  if (projectDir) rmSync(projectDir, { recursive: true, force: true });
});

it.each(Object.keys(KNEXFILES))(
  "the knex CLI runs from a plain %s (dual CommonJS / ESM package) and signs in with a token",
  async (knexfile) => {
    harness.emulator.resetCounters();
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [path.join(knexDir, "bin", "cli.js"), "migrate:list", "--knexfile", knexfile],
      { cwd: projectDir, env: { ...process.env, ...harness.emulator.env }, timeout: 30_000 },
    );
    expect(stdout).toContain("No Completed Migration files Found.");
    expect(harness.emulator.counters.loginsAccepted).toBe(1);
    expect(harness.emulator.counters.loginsRejected).toBe(0);
  },
);
