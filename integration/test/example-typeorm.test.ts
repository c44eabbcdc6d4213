import path from "node:path";
import { withEntra } from "@org/pg-entra";
import pg from "pg";
import { expect, it } from "vitest";
import { runProcess } from "../src/run-process.js";
import { useHarness } from "../src/use-harness.js";

const example = path.join(import.meta.dirname, "..", "..", "examples", "typeorm");

const harness = useHarness({ engines: ["postgresql"] });

/** Runs the real TypeORM CLI in the example, as its `migrate` script does, with only the emulator's env. */
async function typeormCli(...args: string[]): Promise<{ code: number; output: string }> {
  const { code, stdout, stderr } = await runProcess(
    process.execPath,
    ["--import", "tsx", "./node_modules/typeorm/cli.js", ...args, "-d", "src/data-source.ts"],
    { cwd: example, env: { PATH: process.env.PATH, ...harness.emulator.env }, timeoutInMs: 60_000 },
  );
  return { code: code ?? 1, output: `${stdout}\n${stderr}` };
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
