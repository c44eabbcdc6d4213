import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { runMysqlAdminStatements } from "./mysql-admin.js";
import {
  ensureMysqlBackendUser,
  MYSQL_BACKEND_USER,
  type MysqlGatewayFixture,
  startMysqlGatewayFixture,
  withMysqlClient,
} from "./mysql-test-fixture.js";

describe("a mysql2 client logging in through the gateway over verified TLS", () => {
  let fixture: MysqlGatewayFixture;
  beforeAll(async () => {
    await ensureMysqlBackendUser();
    fixture = await startMysqlGatewayFixture();
  });
  afterAll(() => fixture.close());

  test("runs as the backend user authorize chose, in the requested database", async () => {
    const rows = await withMysqlClient(fixture.clientConfig(), async (connection) => {
      const [result] = await connection.query("select current_user() as who, database() as db");
      return result as Array<{ who: string; db: string }>;
    });
    expect(rows).toEqual([{ who: `${MYSQL_BACKEND_USER}@%`, db: "test" }]);
    expect(fixture.logins).toContainEqual({ accepted: true, user: "app@contoso" });
  });

  test("the greeting is the backend's: its version and its thread id", async () => {
    await withMysqlClient(fixture.clientConfig(), async (connection) => {
      const [rows] = await connection.query("select connection_id() as id, version() as version");
      const [row] = rows as Array<{ id: number; version: string }>;
      expect(connection.threadId).toBe(row?.id);
      expect(row?.version).toMatch(/MariaDB/);
    });
  });

  test("a 5000-character token is read whole", async () => {
    const token = `good-${"x".repeat(4995)}`;
    let seen = "";
    const local = await startMysqlGatewayFixture({
      authorize: (request) => {
        seen = request.token;
        return { ok: true, backendUser: MYSQL_BACKEND_USER };
      },
    });
    try {
      await withMysqlClient(local.clientConfig(token), (connection) => connection.query("select 1"));
      expect(seen).toBe(token);
    } finally {
      await local.close();
    }
  });

  test("prepared statements and multi-row results pass through the pipe", async () => {
    await withMysqlClient(fixture.clientConfig(), async (connection) => {
      const [rows] = await connection.execute(
        "select seq as n, concat('row-', seq) as label from seq_1_to_500 where seq > ?",
        [497],
      );
      expect(rows).toEqual([
        { n: 498, label: "row-498" },
        { n: 499, label: "row-499" },
        { n: 500, label: "row-500" },
      ]);
      const [many] = await connection.query("select seq from seq_1_to_20000");
      expect((many as unknown[]).length).toBe(20000);
    });
  });
});

describe("backend authentication", () => {
  test("the gateway answers the backend's mysql_native_password with backend.password", async () => {
    await runMysqlAdminStatements({ host: "127.0.0.1", port: 3306, user: "root" }, [
      "CREATE USER IF NOT EXISTS 'entra_gateway_pw'@'%' IDENTIFIED BY 'gateway-secret'",
      "ALTER USER 'entra_gateway_pw'@'%' IDENTIFIED BY 'gateway-secret'",
    ]);
    const local = await startMysqlGatewayFixture({
      backend: { host: "127.0.0.1", port: 3306, password: "gateway-secret" },
      authorize: () => ({ ok: true, backendUser: "entra_gateway_pw" }),
    });
    try {
      const [rows] = await withMysqlClient(
        local.clientConfig("good", { database: undefined }),
        (connection) => connection.query("select current_user() as who"),
      );
      expect(rows).toEqual([{ who: "entra_gateway_pw@%" }]);
    } finally {
      await local.close();
    }
  });

  test("admin statements report the server's error", async () => {
    await expect(
      runMysqlAdminStatements({ host: "127.0.0.1", port: 3306, user: "root" }, ["GRANT NONSENSE"]),
    ).rejects.toMatchObject({ errno: 1064, sqlState: "42000" });
  });
});
