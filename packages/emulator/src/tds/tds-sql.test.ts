import { describe, expect, it } from "vitest";
import { AZURE_SQL_VERSION_STRING, runSqlBatch, type SqlSession, splitStatements } from "./tds-sql.js";

const session: SqlSession = {
  user: "orders-app",
  login: "orders-app",
  database: "orders-db",
  spid: 51,
  serverName: "emulated-sql",
  transactionCount: 0,
};

const rows = (sql: string, extra: Partial<SqlSession> = {}) => {
  const outcome = runSqlBatch(sql, { ...session, ...extra });
  expect(outcome.error).toBeUndefined();
  return outcome.resultSets.map((set) => ({
    names: set.columns.map((column) => column.name),
    rows: set.rows,
  }));
};

describe("runSqlBatch", () => {
  it("answers constant SELECTs with aliases", () => {
    expect(rows("SELECT 1")).toEqual([{ names: [""], rows: [[1]] }]);
    expect(rows("select 1 as x")).toEqual([{ names: ["x"], rows: [[1]] }]);
    expect(rows("SELECT 1 AS one;")).toEqual([{ names: ["one"], rows: [[1]] }]);
    expect(rows("SELECT 1 one, 'a' [b], N'c' AS \"d\", 2 AS 'e'")).toEqual([
      { names: ["one", "b", "d", "e"], rows: [[1, "a", "c", 2]] },
    ]);
    expect(rows("SELECT 1+1 AS result, -3 + 10, 'a' + 'b', NULL")).toEqual([
      { names: ["result", "", "", ""], rows: [[2, 7, "ab", null]] },
    ]);
    expect(rows("SELECT 3000000000")).toEqual([{ names: [""], rows: [[3000000000n]] }]);
  });

  it("answers session functions", () => {
    expect(
      rows(
        "SELECT SUSER_SNAME(), SUSER_NAME(), CURRENT_USER, USER_NAME(), USER, SYSTEM_USER, SESSION_USER, ORIGINAL_LOGIN()",
        { login: "principal" },
      )[0]?.rows,
    ).toEqual([
      [
        "principal",
        "principal",
        "orders-app",
        "orders-app",
        "orders-app",
        "principal",
        "orders-app",
        "principal",
      ],
    ]);
    expect(
      rows("SELECT DB_NAME(), DB_ID(), SCHEMA_NAME(), SCHEMA_ID('dbo'), @@SPID, @@SERVERNAME, @@TRANCOUNT")[0]
        ?.rows,
    ).toEqual([["orders-db", 5, "dbo", 1, 51, "emulated-sql", 0]]);
    expect(rows("SELECT @@VERSION")[0]?.rows).toEqual([[AZURE_SQL_VERSION_STRING]]);
    expect(
      rows(
        "SELECT SERVERPROPERTY('ProductVersion'), SERVERPROPERTY('Edition'), SERVERPROPERTY('EngineEdition'), CONVERT(NVARCHAR(20), SERVERPROPERTY('ProductVersion'))",
      )[0]?.rows,
    ).toEqual([["12.0.2000.8", "SQL Azure", 5, "12.0.2000.8"]]);
    expect(rows("SELECT CAST(SERVERPROPERTY('ProductVersion') AS NVARCHAR(4)) AS v")[0]?.rows).toEqual([
      ["12.0"],
    ]);
  });

  it("runs what ORMs send on connect", () => {
    // tedious's initial SQL
    expect(
      runSqlBatch(
        "set textsize 2147483647\nset quoted_identifier on\nset arithabort off\nset numeric_roundabort off\nset ansi_warnings on\nset ansi_padding on\nset ansi_nulls on\nset concat_null_yields_null on\nset cursor_close_on_commit off\nset implicit_transactions off\nset language us_english\nset dateformat mdy\nset datefirst 7\nset transaction isolation level read committed",
        session,
      ),
    ).toEqual({ resultSets: [], transaction: undefined, delayMs: undefined });
    // mssql pool validation, TypeORM, Sequelize
    expect(rows("SELECT 1;")[0]?.rows).toEqual([[1]]);
    expect(rows(`SELECT DB_NAME() AS "db_name"`)[0]).toEqual({ names: ["db_name"], rows: [["orders-db"]] });
    expect(rows(`SELECT SCHEMA_NAME() AS "schema_name"`)[0]).toEqual({
      names: ["schema_name"],
      rows: [["dbo"]],
    });
    expect(
      rows(`SELECT DB_ID(@0) as "db_id"`, { parameters: new Map([["@0", "orders-db"]]) })[0]?.rows,
    ).toEqual([[5]]);
    expect(
      rows(
        "DECLARE @ms_ver NVARCHAR(20); SET @ms_ver = REVERSE(CONVERT(NVARCHAR(20), SERVERPROPERTY('ProductVersion'))); SELECT REVERSE(SUBSTRING(@ms_ver, CHARINDEX('.', @ms_ver)+1, 20)) AS 'version'",
      ),
    ).toEqual([{ names: ["version"], rows: [["12.0.2000"]] }]);
    expect(rows("SELECT 1+1 AS result")[0]?.rows).toEqual([[2]]);
  });

  it("keeps variables across statements and reads sp_executesql parameters", () => {
    expect(
      rows("DECLARE @a INT = 41, @b NVARCHAR(10) = N'x'; SET @a = @a + 1; SELECT @a AS a, @b AS b"),
    ).toEqual([{ names: ["a", "b"], rows: [[42, "x"]] }]);
    expect(rows("SELECT @p1 AS id", { parameters: new Map([["@P1", 7]]) })[0]?.rows).toEqual([[7]]);
    expect(runSqlBatch("SELECT @missing", session).error).toMatchObject({ number: 137, class: 15 });
  });

  it("tracks transaction statements and WAITFOR DELAY", () => {
    expect(runSqlBatch("BEGIN TRANSACTION", session).transaction).toBe("begin");
    expect(runSqlBatch("COMMIT", session).transaction).toBe("commit");
    expect(runSqlBatch("ROLLBACK TRAN", session).transaction).toBe("rollback");
    expect(runSqlBatch("WAITFOR DELAY '00:00:01.5'", session).delayMs).toBe(1500);
    expect(runSqlBatch("WAITFOR DELAY '99:00:00'", session).delayMs).toBe(300_000);
    expect(runSqlBatch("WAITFOR DELAY 'soon'", session).error).toMatchObject({ number: 148 });
  });

  it("refuses everything else with real SQL Server errors", () => {
    expect(runSqlBatch("SELECT * FROM [dbo].[orders]", session).error).toMatchObject({
      number: 208,
      class: 16,
      state: 1,
      message: "Invalid object name 'dbo.orders'.",
      serverName: "emulated-sql",
    });
    expect(runSqlBatch("EXEC sp_who", session).error).toMatchObject({
      number: 2812,
      message: "Could not find stored procedure 'sp_who'.",
    });
    expect(runSqlBatch("INSERT INTO t VALUES (1)", session).error).toMatchObject({
      number: 40517,
      class: 16,
      message: "Keyword or statement option 'INSERT' is not supported in this version of SQL Server.",
    });
    expect(runSqlBatch("SELECT NEWID()", session).error).toMatchObject({
      number: 195,
      message: "'newid' is not a recognized built-in function name.",
    });
    expect(runSqlBatch("USE master", session).error).toMatchObject({ number: 40508 });
    expect(runSqlBatch("SELECT 1 AS", session).error).toMatchObject({ number: 40517 });
    // results before the failing statement are kept
    const outcome = runSqlBatch("SELECT 1; SELECT * FROM t", session);
    expect(outcome.resultSets).toHaveLength(1);
    expect(outcome.error?.number).toBe(208);
  });
});

describe("splitStatements", () => {
  it("splits on semicolons and statement-starting lines, not inside strings or comments", () => {
    expect(splitStatements("SELECT 'a;b'; SELECT [x;y]\nSET NOCOUNT ON -- c;d\n/* ; */SELECT 2")).toEqual([
      "SELECT 'a;b'",
      "SELECT [x;y]",
      "SET NOCOUNT ON",
      "SELECT 2",
    ]);
  });
});
