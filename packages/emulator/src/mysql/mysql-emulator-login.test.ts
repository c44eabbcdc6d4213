import mysql from "mysql2/promise";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Emulator, startEmulator } from "../start-emulator.js";

describe("startEmulator with a MySQL gateway in front of MariaDB", () => {
  let emulator: Emulator;

  beforeAll(async () => {
    emulator = await startEmulator({
      postgres: false,
      identities: [
        { name: "orders-mysql-identity", kind: "user" },
        { name: "orders-mysql-app", kind: "system" },
      ],
      mysql: { backend: "mysql://root@127.0.0.1:3306/test", users: { "orders-mysql-readers": [] } },
    });
  }, 60_000);

  afterAll(async () => {
    await emulator?.close();
  });

  function connect(token: string, user = "orders-mysql-identity", tls: "verified" | "none" = "verified") {
    const target = emulator.mysql;
    if (!target) throw new Error("mysql is disabled");
    return mysql.createConnection({
      host: target.host,
      port: target.port,
      database: target.database,
      user,
      ssl: tls === "verified" ? { ca: emulator.ca } : undefined,
      authPlugins: { mysql_clear_password: () => () => Buffer.from(`${token}\0`) },
    });
  }

  async function refusal(token: string, user?: string, tls?: "verified" | "none") {
    const error = (await connect(token, user, tls).then(
      async (connection) => {
        await connection.end();
        throw new Error("login unexpectedly succeeded");
      },
      (failure: unknown) => failure,
    )) as { errno?: number; sqlState?: string; sqlMessage?: string };
    return { errno: error.errno, sqlState: error.sqlState, message: error.sqlMessage };
  }

  it("sets the Service Connector MySQL variables for the default (user-assigned) identity", () => {
    expect(emulator.mysql).toEqual({ host: "localhost", port: expect.any(Number), database: "test" });
    expect(emulator.postgres).toBeUndefined();
    expect(emulator.env).toMatchObject({
      AZURE_MYSQL_HOST: "localhost",
      AZURE_MYSQL_PORT: String(emulator.mysql?.port),
      AZURE_MYSQL_DATABASE: "test",
      AZURE_MYSQL_USER: "orders-mysql-identity",
      AZURE_MYSQL_SSL: "true",
      AZURE_MYSQL_CLIENTID: emulator.identities[0]?.clientId,
    });
  });

  it("logs a real token in as the identity's own MySQL user and counts per engine", async () => {
    emulator.resetCounters();
    const connection = await connect(emulator.mintToken());
    const [rows] = await connection.query("select current_user() as who");
    await connection.end();
    expect(rows).toEqual([{ who: "orders-mysql-identity@%" }]);

    expect(await refusal(emulator.mintToken({ expired: true }))).toEqual({
      errno: 9119,
      sqlState: "HY000",
      message: "The access token has expired. Please acquire a new token and retry.",
    });
    expect(await refusal(emulator.mintToken({ identity: "orders-mysql-app" }))).toEqual({
      errno: 1045,
      sqlState: "28000",
      message: "Access denied for user 'orders-mysql-identity'@'127.0.0.1' (using password: YES)",
    });
    expect((await refusal(emulator.mintToken({ audience: "https://database.windows.net/" }))).errno).toBe(
      9120,
    );
    expect((await refusal(emulator.mintToken({ signature: "bad" }))).errno).toBe(9118);
    emulator.faults.mysql.rejectNextLogins(1, "expired");
    expect((await refusal(emulator.mintToken())).errno).toBe(9119);
    expect((await refusal(emulator.mintToken(), "orders-mysql-identity", "none")).errno).toBe(3159);

    const mysqlCounters = {
      loginsAccepted: 1,
      loginsRejected: 6,
      rejectionsByReason: { expired: 2, principal: 1, audience: 1, invalid: 1, "tls-required": 1 },
    };
    expect(emulator.counters).toMatchObject({
      ...mysqlCounters,
      byEngine: {
        mysql: mysqlCounters,
        postgres: { loginsAccepted: 0, loginsRejected: 0, rejectionsByReason: {} },
      },
    });
  }, 30_000);

  it("accepts the ossrdbms audience with a trailing slash and maps extra users to object ids", async () => {
    const connection = await connect(
      emulator.mintToken({ audience: "https://ossrdbms-aad.database.windows.net/" }),
    );
    await connection.end();
    expect((await refusal(emulator.mintToken(), "orders-mysql-readers")).errno).toBe(1045);
  });
});

describe("startEmulator's MySQL switch", () => {
  it("is off unless asked for (or ENTRA_EMULATOR_MYSQL_URL is set)", async () => {
    const saved = process.env.ENTRA_EMULATOR_MYSQL_URL;
    delete process.env.ENTRA_EMULATOR_MYSQL_URL;
    try {
      await using emulator = await startEmulator({ postgres: false });
      expect(emulator.mysql).toBeUndefined();
      expect(emulator.env.AZURE_MYSQL_HOST).toBeUndefined();
    } finally {
      if (saved !== undefined) process.env.ENTRA_EMULATOR_MYSQL_URL = saved;
    }
  });

  it("rejects a backend that is not a mysql:// URL", async () => {
    await expect(startEmulator({ postgres: false, mysql: { backend: "postgres://x@y/z" } })).rejects.toThrow(
      /mysql:\/\/ URL/,
    );
  });
});
