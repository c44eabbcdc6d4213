import { execFile } from "node:child_process";
import path from "node:path";
import { resetSharedTokenProviders } from "@org/entra-core";
import { withEntra } from "@org/pg-entra";
import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type Harness, startHarness } from "../src/start-harness.js";

const example = path.join(import.meta.dirname, "..", "..", "examples", "typeorm");

let harness: Harness;

beforeAll(async () => {
  harness = await startHarness({ engines: ["postgresql"] });
});

afterAll(async () => {
  resetSharedTokenProviders();
  await harness?.close();
});

/** Runs the real TypeORM CLI in the example, as its `migrate` script does, with only the emulator's env. */
function typeormCli(...args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", "./node_modules/typeorm/cli.js", ...args, "-d", "src/data-source.ts"],
      { cwd: example, env: { PATH: process.env.PATH, ...harness.emulator.env }, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
        resolve({ code, output: `${stdout}\n${stderr}` });
      },
    );
  });
}

async function bookmarkTableExists(): Promise<boolean> {
  const client = new pg.Client(withEntra({ ssl: harness.tls }));
  await client.connect();
  try {
    const { rows } = await client.query<{ table: string | null }>(
      "select to_regclass('public.bookmark') as table",
    );
    return rows[0]?.table != null;
  } finally {
    await client.end();
  }
}

it("the TypeORM CLI runs and reverts the example's migration through the emulator (Entra token, verified TLS)", async () => {
  const run = await typeormCli("migration:run");
  expect(run.output).not.toMatch(/eyJ[\w-]{10,}\.eyJ/); // no token in the CLI's output
  expect(run.code, run.output).toBe(0);
  expect(run.output).toMatch(
    /Migration CreateBookmark1764150000000 has been executed successfully|No migrations are pending/,
  );
  const { loginsAccepted, loginsRejected } = harness.emulator.counters;
  expect(loginsAccepted).toBeGreaterThanOrEqual(1);
  expect(loginsRejected).toBe(0);
  expect(await bookmarkTableExists()).toBe(true);

  const revert = await typeormCli("migration:revert");
  expect(revert.code, revert.output).toBe(0);
  expect(revert.output).toContain("CreateBookmark1764150000000 has been reverted successfully");
  expect(await bookmarkTableExists()).toBe(false);
});
