import type { TLSSocket } from "node:tls";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  BACKEND_USER,
  ensureBackendRole,
  type GatewayFixture,
  startGatewayFixture,
  withClient,
} from "./pg-test-fixture.js";

describe("a client logging in through the gateway with a good token", () => {
  let fixture: GatewayFixture;
  beforeAll(async () => {
    await ensureBackendRole();
    fixture = await startGatewayFixture();
  });
  afterAll(() => fixture.close());

  test("gets a verified TLS session as the backend user the authorizer chose", async () => {
    const row = await withClient(fixture.clientConfig(), async (client) => {
      const stream = (client as unknown as { connection: { stream: TLSSocket } }).connection.stream;
      expect(stream.encrypted).toBe(true);
      expect(stream.authorized).toBe(true);
      return (await client.query("select current_user, current_database()")).rows[0];
    });
    expect(row.current_user).toBe(BACKEND_USER);
    expect(row.current_database).toBe("test");
    expect(fixture.logins).toContainEqual({ accepted: true, user: "app@contoso" });
  });

  test("passes the client's startup parameters and the backend's session parameters through", async () => {
    await withClient(fixture.clientConfig({ application_name: "gateway-test" }), async (client) => {
      const result = await client.query("select current_setting('application_name') as name");
      expect(result.rows[0].name).toBe("gateway-test");
      // ParameterStatus and BackendKeyData came from the backend itself.
      const pid = await client.query("select pg_backend_pid() as pid");
      expect(pid.rows[0].pid).toBe((client as unknown as { processID: number }).processID);
    });
  });

  test("accepts a 5000-character token", async () => {
    const token = `good-${"x".repeat(4995)}`;
    expect(token).toHaveLength(5000);
    const user = await withClient(fixture.clientConfig({ password: token }), async (client) => {
      return (await client.query("select current_user as u")).rows[0].u;
    });
    expect(user).toBe(BACKEND_USER);
  });

  test("accepts a password function, as the pg adapter provides", async () => {
    const user = await withClient(fixture.clientConfig({ password: async () => "good" }), async (client) => {
      return (await client.query("select current_user as u")).rows[0].u;
    });
    expect(user).toBe(BACKEND_USER);
  });

  test("serves many concurrent sessions and large results", async () => {
    const sums = await Promise.all(
      Array.from({ length: 8 }, () =>
        withClient(fixture.clientConfig(), async (client) => {
          const result = await client.query(
            "select sum(length(repeat('x', g))) as s from generate_series(1, 2000) g",
          );
          const big = await client.query("select repeat('y', 5000000) as big");
          return [Number(result.rows[0].s), big.rows[0].big.length];
        }),
      ),
    );
    for (const [sum, big] of sums) {
      expect(sum).toBe(2001000);
      expect(big).toBe(5_000_000);
    }
  });
});

describe("a gateway with a backend database override", () => {
  test("opens the session on that database whatever the client asked", async () => {
    await ensureBackendRole();
    const fixture = await startGatewayFixture({
      backend: { host: "127.0.0.1", port: 5432, database: "postgres" },
    });
    try {
      const db = await withClient(fixture.clientConfig({ database: "anything" }), async (client) => {
        return (await client.query("select current_database() as d")).rows[0].d;
      });
      expect(db).toBe("postgres");
    } finally {
      await fixture.close();
    }
  });
});
