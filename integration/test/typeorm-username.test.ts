import "reflect-metadata";
import { withEntra } from "@org/typeorm-entra";
import { DataSource as DataSource03 } from "typeorm";
import { DataSource as DataSource1 } from "typeorm1";
import { describe, expect, it } from "vitest";
import { CURRENT_USER } from "../src/current-user.js";
import { useHarness } from "../src/use-harness.js";

const harness = useHarness({ engines: ["postgresql", "mysql"] });

const engines = [
  { type: "postgres", ...CURRENT_USER.postgresql },
  { type: "mysql", ...CURRENT_USER.mysql },
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
