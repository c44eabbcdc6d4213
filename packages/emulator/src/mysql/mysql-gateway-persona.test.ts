import { MysqlCapability, type MysqlHandshake, openMysqlBackend, parseHandshake } from "@org/entra-wire";
import mysql from "mysql2/promise";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  ensureMysqlBackendUser,
  MYSQL_BACKEND,
  type MysqlGatewayFixture,
  openRawMysql,
  startMysqlGatewayFixture,
  withMysqlClient,
} from "./mysql-test-fixture.js";

async function gatewayGreeting(port: number): Promise<MysqlHandshake> {
  const raw = await openRawMysql(port);
  try {
    const head = await raw.received(4);
    const length = head.readUIntLE(0, 3);
    return parseHandshake((await raw.received(4 + length)).subarray(4, 4 + length));
  } finally {
    raw.socket.destroy();
  }
}

async function backendGreeting(): Promise<MysqlHandshake> {
  const session = await openMysqlBackend(MYSQL_BACKEND);
  session.destroy();
  return session.greeting;
}

const NOT_OFFERED =
  MysqlCapability.compress | MysqlCapability.zstdCompression | MysqlCapability.queryAttributes;

describe("the default mysql8 persona in front of MariaDB", () => {
  let fixture: MysqlGatewayFixture;
  beforeAll(async () => {
    await ensureMysqlBackendUser();
    fixture = await startMysqlGatewayFixture();
  });
  afterAll(() => fixture.close());

  test("greets as MySQL 8.0.42 with the backend's capabilities only, plus TLS", async () => {
    const [greeting, backend] = await Promise.all([gatewayGreeting(fixture.gateway.port), backendGreeting()]);
    expect(backend.serverVersion).toMatch(/MariaDB/);
    expect(greeting).toMatchObject({
      serverVersion: "8.0.42",
      extendedCapabilities: 0,
      authPluginName: "caching_sha2_password",
      characterSet: backend.characterSet,
    });
    expect(greeting.capabilities & MysqlCapability.longPassword).toBe(MysqlCapability.longPassword);
    expect(greeting.capabilities & MysqlCapability.ssl).toBe(MysqlCapability.ssl);
    expect(greeting.capabilities & NOT_OFFERED).toBe(0);
    const beyondBackend =
      greeting.capabilities & ~(backend.capabilities | MysqlCapability.ssl | MysqlCapability.longPassword);
    expect(beyondBackend).toBe(0);
  });

  test("mysql2 logs in, sees a MySQL server, and runs in the backend's session", async () => {
    await withMysqlClient(fixture.clientConfig(), async (connection) => {
      const [rows] = await connection.query("select connection_id() as id, version() as version");
      const [row] = rows as Array<{ id: number; version: string }>;
      expect(connection.threadId).toBe(row?.id);
      expect(row?.version).toMatch(/MariaDB/);
      const [executed] = await connection.execute("select ? + 1 as n", [41]);
      expect(executed).toEqual([{ n: 42 }]);
    });
  });
});

describe("the mariadb persona", () => {
  let fixture: MysqlGatewayFixture;
  beforeAll(async () => {
    await ensureMysqlBackendUser();
    fixture = await startMysqlGatewayFixture({ persona: "mariadb" });
  });
  afterAll(() => fixture.close());

  test("forwards the backend's greeting with TLS offered and compression withdrawn", async () => {
    const [greeting, backend] = await Promise.all([gatewayGreeting(fixture.gateway.port), backendGreeting()]);
    expect(greeting).toMatchObject({
      serverVersion: backend.serverVersion,
      extendedCapabilities: backend.extendedCapabilities,
      authPluginName: backend.authPluginName,
    });
    expect(greeting.capabilities).toBe(((backend.capabilities | MysqlCapability.ssl) & ~NOT_OFFERED) >>> 0);
  });

  test("mysql2 logs in through the forwarded MariaDB greeting", async () => {
    const connection = await mysql.createConnection(fixture.clientConfig());
    try {
      const [rows] = await connection.query("select 1 as one");
      expect(rows).toEqual([{ one: 1 }]);
    } finally {
      await connection.end();
    }
  });
});
