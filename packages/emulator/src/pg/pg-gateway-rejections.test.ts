import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  BACKEND_USER,
  ensureBackendRole,
  type GatewayFixture,
  loginError,
  startGatewayFixture,
  withClient,
} from "./pg-test-fixture.js";

describe("logins the authorizer refuses", () => {
  let fixture: GatewayFixture;
  beforeAll(async () => {
    await ensureBackendRole();
    fixture = await startGatewayFixture();
  });
  afterAll(() => fixture.close());

  test.each([
    ["expired", "28000", "The access token has expired. Please acquire a new token and retry."],
    [
      "audience",
      "28000",
      'The access token does not have a valid audience claim. Please acquire a new token for the resource "https://ossrdbms-aad.database.windows.net".',
    ],
    [
      "invalid",
      "28000",
      "An error occurred while validating the access token. Please acquire a new token and retry",
    ],
    ["principal", "28P01", 'password authentication failed for user "app@contoso"'],
  ])("token %s fails with SQLSTATE %s and Azure's message", async (reason, code, message) => {
    const error = await loginError(fixture.clientConfig({ password: reason }));
    expect(error.message).toBe(message);
    expect(error.code).toBe(code);
    expect(error.severity).toBe("FATAL");
    expect(fixture.logins).toContainEqual({ accepted: false, reason, user: "app@contoso" });
  });

  test("an authorizer that throws counts as an invalid token", async () => {
    const error = await loginError(fixture.clientConfig({ password: "throw" }));
    expect(error.code).toBe("28000");
    expect(error.message).toBe(
      "An error occurred while validating the access token. Please acquire a new token and retry",
    );
  });

  test("the authorizer sees the token, user, database and client address", async () => {
    const requests: unknown[] = [];
    const spy = await startGatewayFixture({
      authorize: (request) => {
        requests.push(request);
        return { ok: false, reason: "invalid" };
      },
    });
    try {
      await loginError(spy.clientConfig({ password: "tok", user: "u1", database: "d1" }));
      await loginError(spy.clientConfig({ password: "tok", user: "u2", database: undefined }));
    } finally {
      await spy.close();
    }
    expect(requests).toEqual([
      { token: "tok", user: "u1", database: "d1", remoteAddress: "127.0.0.1" },
      { token: "tok", user: "u2", database: "u2", remoteAddress: "127.0.0.1" },
    ]);
  });

  test("a plaintext login is refused with the pg_hba message when TLS is required", async () => {
    const error = await loginError(fixture.clientConfig({ ssl: false, host: "127.0.0.1" }));
    expect(error.code).toBe("28000");
    expect(error.message).toBe(
      'no pg_hba.conf entry for host "127.0.0.1", user "app@contoso", database "test", no encryption',
    );
    expect(fixture.logins).toContainEqual({ accepted: false, reason: "tls-required", user: "app@contoso" });
  });

  test("a backend refusal is forwarded to the client as the backend sent it", async () => {
    const error = await loginError(fixture.clientConfig({ database: "no_such_database_here" }));
    expect(error.code).toBe("3D000");
    expect(error.message).toBe('database "no_such_database_here" does not exist');
    expect(fixture.logins).toContainEqual({ accepted: false, user: "app@contoso" });
  });

  test("an unreachable backend gives the client a connection error naming it", async () => {
    const broken = await startGatewayFixture({ backend: { host: "127.0.0.1", port: 1 } });
    try {
      const error = await loginError(broken.clientConfig());
      expect(error.code).toBe("08006");
      expect(error.message).toContain("could not connect to the backend at 127.0.0.1:1");
    } finally {
      await broken.close();
    }
  });
});

describe("a gateway that does not require TLS", () => {
  test("lets a plaintext client log in", async () => {
    await ensureBackendRole();
    const fixture = await startGatewayFixture({ requireTls: false });
    try {
      const user = await withClient(
        fixture.clientConfig({ ssl: false, host: "127.0.0.1" }),
        async (client) => {
          return (await client.query("select current_user as u")).rows[0].u;
        },
      );
      expect(user).toBe(BACKEND_USER);
    } finally {
      await fixture.close();
    }
  });
});
