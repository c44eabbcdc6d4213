import { withEntra } from "@org/knex-entra";
import knex from "knex";
import { expect, it } from "vitest";
import { CURRENT_USER } from "../src/current-user.js";
import { useHarness } from "../src/use-harness.js";

const harness = useHarness({ engines: ["postgresql", "mysql"] });

const cases = [
  { client: "pg", ...CURRENT_USER.postgresql },
  { client: "mysql2", ...CURRENT_USER.mysql },
] as const;

it.each(cases)(
  "knex with client $client and no user configured learns it from the token's claims",
  async ({ client, userVariable, sql }) => {
    const env = { ...process.env, [userVariable]: undefined };
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
