import { resetSharedTokenProviders } from "@org/entra-core";
import { withEntra } from "@org/knex-entra";
import knex from "knex";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type Harness, startHarness } from "../src/start-harness.js";

let harness: Harness;

beforeAll(async () => {
  harness = await startHarness({ engines: ["postgresql", "mysql"] });
});

afterAll(async () => {
  resetSharedTokenProviders();
  await harness?.close();
});

const cases = [
  { client: "pg", variable: "AZURE_POSTGRESQL_USER", sql: "select current_user as user" },
  {
    client: "mysql2",
    variable: "AZURE_MYSQL_USER",
    sql: "select substring_index(current_user(), '@', 1) as user",
  },
] as const;

it.each(cases)(
  "knex with client $client and no user configured learns it from the token's claims",
  async ({ client, variable, sql }) => {
    const env = { ...process.env, [variable]: undefined };
    const db = knex(
      withEntra({ client, connection: { ssl: harness.tls }, pool: { min: 0, max: 2 } }, { env }),
    );
    try {
      const results = await Promise.all([db.raw(sql), db.raw(sql), db.raw(sql)]);
      const users = results.map((result) => (client === "pg" ? result.rows[0].user : result[0][0].user));
      expect(users).toEqual(Array(3).fill(harness.emulator.identities[0]?.name));
    } finally {
      await db.destroy();
    }
  },
);
