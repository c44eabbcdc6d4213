import { createRequire } from "node:module";
import { Request } from "tedious";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AZURE_SQL_VERSION_STRING } from "./tds-sql.js";
import {
  closeTedious,
  connectTedious,
  queryTedious,
  startTdsFixture,
  TDS_TEST_DATABASE,
  type TdsFixture,
} from "./tds-test-fixture.js";

/** The slice of mssql 12's API these tests use (its types are not a dependency of this package). */
interface MssqlResult {
  recordset: Array<Record<string, unknown>>;
}
interface MssqlRequest {
  input(name: string, type: unknown, value: unknown): MssqlRequest;
  query(sql: string): Promise<MssqlResult>;
}
interface MssqlModule {
  NVarChar: unknown;
  ConnectionPool: new (
    config: Record<string, unknown>,
  ) => {
    connect(): Promise<unknown>;
    request(): MssqlRequest;
    transaction(): { begin(): Promise<unknown>; commit(): Promise<void>; request(): MssqlRequest };
    close(): Promise<void>;
  };
}
const sql = createRequire(import.meta.url)("mssql") as MssqlModule;

let fixture: TdsFixture;

beforeAll(async () => {
  fixture = await startTdsFixture();
});

afterAll(async () => {
  await fixture.close();
});

describe("statements answered by the Azure SQL endpoint (tedious 19)", () => {
  const cases: Array<[string, string[], unknown[][]]> = [
    ["SELECT 1", [""], [[1]]],
    ["select 1 as x", ["x"], [[1]]],
    ["SELECT 1 AS one;", ["one"], [[1]]],
    ["SELECT 1+1 AS result", ["result"], [[2]]],
    ["SELECT SUSER_SNAME()", [""], [["app-principal"]]],
    [
      "SELECT CURRENT_USER, USER_NAME(), SYSTEM_USER",
      ["", "", ""],
      [["app-user", "app-user", "app-principal"]],
    ],
    ["SELECT @@VERSION", [""], [[AZURE_SQL_VERSION_STRING]]],
    [`SELECT DB_NAME() AS "db_name"`, ["db_name"], [[TDS_TEST_DATABASE]]],
    [`SELECT SCHEMA_NAME() AS "schema_name"`, ["schema_name"], [["dbo"]]],
    [
      "SELECT CAST(SERVERPROPERTY('ProductVersion') AS NVARCHAR(20)) AS version",
      ["version"],
      [["12.0.2000.8"]],
    ],
    ["SELECT N'it''s' AS [quoted name]", ["quoted name"], [["it's"]]],
    [
      "DECLARE @ms_ver NVARCHAR(20); SET @ms_ver = REVERSE(CONVERT(NVARCHAR(20), SERVERPROPERTY('ProductVersion'))); SELECT REVERSE(SUBSTRING(@ms_ver, CHARINDEX('.', @ms_ver)+1, 20)) AS 'version'",
      ["version"],
      [["12.0.2000"]],
    ],
  ];

  for (const rpc of [false, true]) {
    for (const [statement, columns, rows] of cases) {
      it(`${rpc ? "sp_executesql" : "SQL_BATCH"}: ${statement.slice(0, 60)}`, async () => {
        const connection = await connectTedious(fixture.config());
        try {
          const result = await queryTedious(connection, statement, { rpc });
          expect(result.columns).toEqual(columns);
          expect(result.rows).toEqual(rows);
        } finally {
          await closeTedious(connection);
        }
      });
    }
  }

  it("answers unknown statements with real errors and keeps the connection usable", async () => {
    const connection = await connectTedious(fixture.config());
    try {
      await expect(queryTedious(connection, "SELECT * FROM dbo.orders")).rejects.toMatchObject({
        number: 208,
        class: 16,
        message: "Invalid object name 'dbo.orders'.",
      });
      await expect(queryTedious(connection, "EXEC dbo.refresh_orders", { rpc: true })).rejects.toMatchObject({
        number: 2812,
        message: "Could not find stored procedure 'dbo.refresh_orders'.",
      });
      await expect(queryTedious(connection, "UPDATE orders SET total = 0")).rejects.toMatchObject({
        number: 40517,
        message: "Keyword or statement option 'UPDATE' is not supported in this version of SQL Server.",
      });
      expect((await queryTedious(connection, "SELECT 2 AS two")).rows).toEqual([[2]]);
    } finally {
      await closeTedious(connection);
    }
  });

  it("acknowledges ATTENTION (cancel) with DONE+ATTN", async () => {
    const connection = await connectTedious(fixture.config());
    try {
      const started = Date.now();
      const canceled = new Promise<Error | null | undefined>((resolve) => {
        const request = new Request("WAITFOR DELAY '00:00:30'; SELECT 1", (error) => resolve(error));
        connection.execSqlBatch(request);
        setTimeout(() => connection.cancel(), 100);
      });
      expect(await canceled).toMatchObject({ code: "ECANCEL", message: "Canceled." });
      expect(Date.now() - started).toBeLessThan(5_000);
      expect((await queryTedious(connection, "SELECT 3")).rows).toEqual([[3]]);
      // A cancel before the request is fully sent (IGNORE bit) is answered too.
      const early = new Promise<Error | null | undefined>((resolve) => {
        const request = new Request("SELECT 4", (error) => resolve(error));
        connection.execSqlBatch(request);
        connection.cancel();
      });
      await early;
      expect((await queryTedious(connection, "SELECT 5")).rows).toEqual([[5]]);
    } finally {
      await closeTedious(connection);
    }
  });

  it("delays WAITFOR DELAY responses", async () => {
    const connection = await connectTedious(fixture.config());
    try {
      const started = Date.now();
      expect((await queryTedious(connection, "WAITFOR DELAY '00:00:00.300'; SELECT 1 AS one")).rows).toEqual([
        [1],
      ]);
      expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    } finally {
      await closeTedious(connection);
    }
  });

  it("begins, commits and rolls back transactions with ENVCHANGE descriptors", async () => {
    const connection = await connectTedious(fixture.config());
    const run = (action: (done: (error?: Error | null) => void) => void) =>
      new Promise<void>((resolve, reject) => action((error) => (error ? reject(error) : resolve())));
    try {
      await run((done) => connection.beginTransaction(done));
      expect((await queryTedious(connection, "SELECT @@TRANCOUNT")).rows).toEqual([[1]]);
      await run((done) => connection.commitTransaction(done));
      expect((await queryTedious(connection, "SELECT @@TRANCOUNT")).rows).toEqual([[0]]);
      await run((done) => connection.beginTransaction(done));
      await run((done) => connection.rollbackTransaction(done));
      expect((await queryTedious(connection, "SELECT @@TRANCOUNT")).rows).toEqual([[0]]);
    } finally {
      await closeTedious(connection);
    }
  });

  it("serves an mssql 12 ConnectionPool (validation, query, parameters, transaction)", async () => {
    const config = fixture.config("good-mssql", { encrypt: true });
    const pool = new sql.ConnectionPool({
      server: config.server as string,
      port: config.options?.port,
      database: TDS_TEST_DATABASE,
      authentication: config.authentication,
      options: {
        encrypt: true,
        trustServerCertificate: false,
        cryptoCredentialsDetails: { ca: fixture.certificate.ca },
      },
      pool: { max: 2 },
    });
    try {
      await pool.connect();
      const result = await pool.request().query("select 1 as one");
      expect(result.recordset).toEqual([{ one: 1 }]);
      const withInput = await pool
        .request()
        .input("name", sql.NVarChar, "dbo")
        .query("SELECT SCHEMA_ID(@name) AS id");
      expect(withInput.recordset).toEqual([{ id: 1 }]);
      const transaction = pool.transaction();
      await transaction.begin();
      expect((await transaction.request().query("SELECT @@TRANCOUNT AS n")).recordset).toEqual([{ n: 1 }]);
      await transaction.commit();
      await expect(pool.request().query("SELECT * FROM missing")).rejects.toMatchObject({ number: 208 });
    } finally {
      await pool.close();
    }
  });

  it("logs in without TLS only when requireTls is false", async () => {
    const plain = await startTdsFixture({ requireTls: false });
    try {
      const connection = await connectTedious(plain.config("good", { encrypt: false }));
      expect((await queryTedious(connection, "SELECT 1 AS one")).rows).toEqual([[1]]);
      await closeTedious(connection);
    } finally {
      await plain.close();
    }
  });
});
