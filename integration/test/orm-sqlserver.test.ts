import "reflect-metadata";
import { resetSharedTokenProviders } from "@org/entra-core";
import { withEntra as withKnexEntra } from "@org/knex-entra";
import { createEntraAdapter } from "@org/prisma-entra";
import { withEntra as withSequelizeEntra } from "@org/sequelize-entra";
import { withEntra as withTypeormEntra } from "@org/typeorm-entra";
import knex, { type Knex } from "knex";
import { QueryTypes, Sequelize } from "sequelize";
import * as typeorm03 from "typeorm";
import * as typeorm1 from "typeorm1";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "../src/start-harness.js";

/**
 * The ORMs' SQL Server paths, end to end through the emulator's TDS endpoint with TDS 8 strict TLS
 * verified against its CA and the real DefaultAzureCredential: each connects and runs its raw-query
 * equivalent of `SELECT 1`, and the session runs as the managed identity. (The endpoint answers a
 * fixed query set, so models, migrations and schema sync are tested at the config level only.)
 */

let harness: Harness;
const tds = () => ({ cryptoCredentialsDetails: { ca: harness.tls.ca } });

beforeAll(async () => {
  harness = await startHarness({ engines: ["sqlserver"] });
});

afterAll(async () => {
  resetSharedTokenProviders();
  await harness?.close();
});

beforeEach(() => harness.emulator.resetCounters());

function expectEntraLogins() {
  const { sqlserver } = harness.emulator.counters.byEngine;
  expect(sqlserver.loginsAccepted).toBeGreaterThanOrEqual(1);
  expect(sqlserver.loginsRejected).toBe(0);
}

describe("ORMs on Azure SQL through the TDS endpoint", () => {
  it("knex (client mssql)", async () => {
    // knex's typings want server/database/credential, which withEntra fills from AZURE_SQL_*.
    const connection = { options: tds() } as unknown as Knex.MsSqlConnectionConfig;
    const db = knex(withKnexEntra({ client: "mssql", connection }));
    try {
      const rows = await db.raw("SELECT 1 AS one, SUSER_SNAME() AS name");
      expect(rows).toEqual([{ one: 1, name: harness.emulator.identities[0]?.name }]);
    } finally {
      await db.destroy();
    }
    expectEntraLogins();
  });

  it("Sequelize (dialect mssql): authenticate() and a raw query", async () => {
    const sequelize = new Sequelize(
      withSequelizeEntra({ dialect: "mssql", logging: false, dialectOptions: { options: tds() } }),
    );
    try {
      await sequelize.authenticate();
      const rows = await sequelize.query<{ one: number }>("SELECT 1 AS one", { type: QueryTypes.SELECT });
      expect(rows).toEqual([{ one: 1 }]);
    } finally {
      await sequelize.close();
    }
    expectEntraLogins();
  });

  it.each([
    ["0.3", typeorm03.DataSource],
    ["1.x", typeorm1.DataSource],
  ] as const)("TypeORM %s (type mssql)", async (_major, DataSource) => {
    const dataSource = new DataSource(withTypeormEntra({ type: "mssql", options: tds() }) as never);
    await dataSource.initialize();
    try {
      const rows = await dataSource.query("SELECT 1 AS one");
      expect(rows).toEqual([{ one: 1 }]);
    } finally {
      await dataSource.destroy();
    }
    expectEntraLogins();
  });

  it("Prisma (provider sqlserver, @prisma/adapter-mssql)", async () => {
    const factory = createEntraAdapter({ provider: "sqlserver", options: tds() } as never);
    const adapter = await factory.connect();
    try {
      const result = await adapter.queryRaw({ sql: "SELECT 1 AS one", args: [], argTypes: [] } as never);
      expect(result.columnNames).toEqual(["one"]);
      expect(result.rows).toEqual([[1]]);
    } finally {
      await adapter.dispose();
    }
    expectEntraLogins();
  });
});
