import { withEntra } from "@org/pg-entra";
import pg from "pg";
import { expect, it } from "vitest";
import { useHarness } from "../src/use-harness.js";

const harness = useHarness();

it("a pg.Pool with no user configured learns it from the token's claims (managed identity name)", async () => {
  const env = { ...process.env, AZURE_POSTGRESQL_USER: undefined };
  const pool = new pg.Pool(withEntra({ ssl: harness.tls, max: 1 }, { env }));
  try {
    const { rows } = await pool.query<{ user: string }>("select current_user as user");
    expect(rows[0]?.user).toBe(harness.emulator.identities[0]?.name);
  } finally {
    await pool.end();
  }
});

it("a bare pg.Client with no user gets an error naming the user the token belongs to", async () => {
  const env = { ...process.env, AZURE_POSTGRESQL_USER: undefined };
  const client = new pg.Client({ ...withEntra({ ssl: harness.tls }, { env }), user: "not-the-identity" });
  const error = await client.connect().then(
    () => undefined,
    (e: Error) => e,
  );
  await client.end().catch(() => {});
  expect(error?.message).toContain('password authentication failed for user "not-the-identity"');
  expect(error?.message).toContain(`The token belongs to "${harness.emulator.identities[0]?.name}"`);
});
