import "reflect-metadata";
import { resetSharedTokenProviders } from "@org/entra-core";
import { withEntra } from "@org/typeorm-entra";
import { DataSource as DataSource03 } from "typeorm";
import { DataSource as DataSource1 } from "typeorm1";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "../src/start-harness.js";

let harness: Harness;

beforeAll(async () => {
  harness = await startHarness({ engines: ["postgresql", "mysql"] });
});

afterAll(async () => {
  resetSharedTokenProviders();
  await harness?.close();
});

const engines = [
  { type: "postgres", sql: "select current_user as user", userVariable: "AZURE_POSTGRESQL_USER" },
  {
    type: "mysql",
    sql: "select substring_index(current_user(), '@', 1) as user",
    userVariable: "AZURE_MYSQL_USER",
  },
] as const;

describe.each([
  ["0.3", DataSource03],
  ["1", DataSource1],
] as const)("TypeORM %s", (_major, DataSource) => {
  it.each(engines)(
    "$type: with no username anywhere, the DataSource learns it from the token's claims (pg Client / mysql2 stream in extra)",
    async ({ type, sql, userVariable }) => {
      const env = { ...process.env, [userVariable]: undefined };
      const dataSource = new DataSource(withEntra({ type, ssl: harness.tls, poolSize: 2 }, { env }));
      await dataSource.initialize();
      try {
        const rows = (await dataSource.query(sql)) as { user: string }[];
        expect(rows[0]?.user).toBe(harness.emulator.identities[0]?.name);
      } finally {
        await dataSource.destroy();
      }
    },
  );
});
