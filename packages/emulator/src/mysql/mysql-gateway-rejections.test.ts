import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  ensureMysqlBackendUser,
  type MysqlGatewayFixture,
  mysqlLoginError,
  startMysqlGatewayFixture,
  withMysqlClient,
} from "./mysql-test-fixture.js";

describe("refused logins get Azure's MySQL errors", () => {
  let fixture: MysqlGatewayFixture;
  beforeAll(async () => {
    await ensureMysqlBackendUser();
    fixture = await startMysqlGatewayFixture();
  });
  afterAll(() => fixture.close());

  test.each([
    ["expired", 9119, "HY000", "The access token has expired. Please acquire a new token and retry."],
    [
      "audience",
      9120,
      "HY000",
      'The access token does not have a valid audience claim. Please acquire a new token for the resource "https://ossrdbms-aad.database.windows.net".',
    ],
    [
      "invalid",
      9118,
      "HY000",
      "An error occurred while validating the access token. Please acquire a new token and retry.",
    ],
    [
      "throw",
      9118,
      "HY000",
      "An error occurred while validating the access token. Please acquire a new token and retry.",
    ],
    ["principal", 1045, "28000", "Access denied for user 'app@contoso'@'127.0.0.1' (using password: YES)"],
  ])("%s token -> %i (%s)", async (token, errno, sqlState, message) => {
    const error = await mysqlLoginError(fixture.clientConfig(token));
    expect({ errno: error.errno, sqlState: error.sqlState, message: error.sqlMessage }).toEqual({
      errno,
      sqlState,
      message,
    });
  });

  test("onLogin reports each refusal with its reason", async () => {
    await mysqlLoginError(fixture.clientConfig("expired"));
    expect(fixture.logins).toContainEqual({ accepted: false, reason: "expired", user: "app@contoso" });
  });

  test("a plaintext login is refused with 3159 when TLS is required", async () => {
    const error = await mysqlLoginError(fixture.clientConfig("good", { ssl: undefined }));
    expect({ errno: error.errno, sqlState: error.sqlState, message: error.sqlMessage }).toEqual({
      errno: 3159,
      sqlState: "HY000",
      message: "Connections using insecure transport are prohibited while --require_secure_transport=ON.",
    });
    expect(fixture.logins).toContainEqual({ accepted: false, reason: "tls-required", user: "app@contoso" });
  });

  test("a plaintext login works when TLS is not required", async () => {
    const local = await startMysqlGatewayFixture({ requireTls: false });
    try {
      const config = local.clientConfig("good", { ssl: undefined });
      const [rows] = await withMysqlClient(config, (connection) => connection.query("select 1 as one"));
      expect(rows).toEqual([{ one: 1 }]);
    } finally {
      await local.close();
    }
  });

  test("a backend that refuses the decided user is reported as a backend failure with its error", async () => {
    const local = await startMysqlGatewayFixture({
      authorize: () => ({ ok: true, backendUser: "no_such_user_for_gateway" }),
    });
    try {
      const error = await mysqlLoginError(local.clientConfig());
      expect(error.errno).toBe(1045);
      expect(local.logins).toEqual([{ accepted: false, user: "app@contoso" }]);
    } finally {
      await local.close();
    }
  });

  test("an unreachable backend is an error packet instead of a greeting", async () => {
    const local = await startMysqlGatewayFixture({ backend: { host: "127.0.0.1", port: 1 } });
    try {
      const error = await mysqlLoginError(local.clientConfig());
      expect(error.errno).toBe(1105);
      expect(error.message).toMatch(/could not reach the backend/);
    } finally {
      await local.close();
    }
  });
});
