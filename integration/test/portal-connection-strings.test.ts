import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "../src/start-harness.js";

// Connection strings shaped like the ones Azure's portal shows ("Connect" / "Connection strings"),
// pasted into the adapters as they are (without the password: the token replaces it). Each runs in
// its own Node process, as an app would, so that a warning printed once per process (pg-connection-
// string's "SECURITY WARNING" for sslmode=require) is seen, and stderr must stay empty.

const execFileAsync = promisify(execFile);
const integrationDir = path.resolve(import.meta.dirname, "..");

let harness: Harness;

beforeAll(async () => {
  harness = await startHarness({ engines: ["postgresql", "mysql", "sqlserver"] });
});

afterAll(async () => {
  await harness?.close();
});

/** The identity endpoint and the emulator's CA only: the connection string says where to connect. */
function appEnv(): Record<string, string> {
  const { IDENTITY_ENDPOINT, IDENTITY_HEADER, AZURE_TOKEN_CREDENTIALS, NODE_EXTRA_CA_CERTS } =
    harness.emulator.env;
  return {
    PATH: process.env.PATH as string,
    IDENTITY_ENDPOINT: IDENTITY_ENDPOINT as string, // a managed identity's env has both
    IDENTITY_HEADER: IDENTITY_HEADER as string,
    AZURE_TOKEN_CREDENTIALS,
    NODE_EXTRA_CA_CERTS,
  };
}

/** Runs an ES module script with the connection string in CONNECTION_STRING; stdout and stderr. */
async function runApp(script: string, connectionString: string) {
  const { stdout, stderr } = await execFileAsync(process.execPath, ["--input-type=module", "-e", script], {
    cwd: integrationDir,
    env: { ...appEnv(), CONNECTION_STRING: connectionString },
    timeout: 30_000,
  });
  return { stdout: stdout.trim(), stderr };
}

const PG_APP = `import pg from "pg";
import { withEntra } from "@org/pg-entra";
const client = new pg.Client(withEntra({ connectionString: process.env.CONNECTION_STRING }));
await client.connect();
const { rows } = await client.query("select current_user as u");
console.log(rows[0].u);
await client.end();`;

describe("PostgreSQL (@org/pg-entra)", () => {
  const target = () => {
    const {
      AZURE_POSTGRESQL_PORT: port,
      AZURE_POSTGRESQL_DATABASE: db,
      AZURE_POSTGRESQL_USER: user,
    } = harness.emulator.env;
    return { port, db, user: user as string };
  };

  it("the portal's URL form with sslmode=require connects with verified TLS and prints nothing", async () => {
    const { port, db, user } = target();
    const url = `postgresql://${encodeURIComponent(user)}@localhost:${port}/${db}?sslmode=require`;
    const { stdout, stderr } = await runApp(PG_APP, url);
    expect(stdout).toBe(user);
    expect(stderr).toBe("");
  });

  it("the portal's keyword=value (psql) form with sslmode=require connects and prints nothing", async () => {
    const { port, db, user } = target();
    const { stdout, stderr } = await runApp(
      PG_APP,
      `host=localhost port=${port} dbname=${db} user=${user} sslmode=require`,
    );
    expect(stdout).toBe(user);
    expect(stderr).toBe("");
  });

  it("control: pg alone prints the SECURITY WARNING for the same string (what the adapter stops)", async () => {
    const { port, db, user } = target();
    const { stderr } = await runApp(
      `import pg from "pg";
new pg.Client({ connectionString: process.env.CONNECTION_STRING });`,
      `postgresql://${user}@localhost:${port}/${db}?sslmode=require`,
    );
    expect(stderr).toMatch(/SECURITY WARNING/);
  });
});

describe("MySQL (@org/mysql2-entra)", () => {
  it("a mysql:// URI with the user, host, port and database connects with verified TLS and prints nothing", async () => {
    const { AZURE_MYSQL_PORT: port, AZURE_MYSQL_DATABASE: db, AZURE_MYSQL_USER: user } = harness.emulator.env;
    const { stdout, stderr } = await runApp(
      `import mysql from "mysql2/promise";
import { withEntra } from "@org/mysql2-entra";
const connection = await mysql.createConnection(withEntra({ uri: process.env.CONNECTION_STRING }));
const [rows] = await connection.query("select current_user() as u");
console.log(rows[0].u);
await connection.end();`,
      `mysql://${encodeURIComponent(user as string)}@localhost:${port}/${db}`,
    );
    expect(stdout).toBe(`${user}@%`);
    expect(stderr).toBe("");
  });
});

describe("Azure SQL (@org/mssql-entra)", () => {
  it("the portal's ADO.NET string (Authentication=Active Directory Default) connects and prints nothing", async () => {
    const { AZURE_SQL_PORT: port, AZURE_SQL_DATABASE: db } = harness.emulator.env;
    const ado =
      `Server=tcp:localhost,${port};Initial Catalog=${db};Persist Security Info=False;` +
      "MultipleActiveResultSets=False;Encrypt=True;TrustServerCertificate=False;Connection Timeout=30;" +
      'Authentication="Active Directory Default";';
    const { stdout, stderr } = await runApp(
      `import sql from "mssql";
import { withEntra } from "@org/mssql-entra";
const pool = await new sql.ConnectionPool(withEntra(process.env.CONNECTION_STRING)).connect();
const result = await pool.request().query("SELECT DB_NAME() AS db");
console.log(result.recordset[0].db);
await pool.close();`,
      ado,
    );
    expect(stdout).toBe(db);
    expect(stderr).toBe("");
  });
});
