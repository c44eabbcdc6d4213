import { connect as tlsConnect } from "node:tls";
import { buildRequestPacket } from "@org/entra-wire";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  ensureBackendRole,
  type GatewayFixture,
  openRaw,
  startGatewayFixture,
  withClient,
} from "./pg-test-fixture.js";

type KeyedClient = pg.Client & { processID: number; secretKey: number };

describe("cancelling a running query through the gateway", () => {
  let fixture: GatewayFixture;
  beforeAll(async () => {
    await ensureBackendRole();
    fixture = await startGatewayFixture();
  });
  afterAll(() => fixture.close());

  test("a CancelRequest on a second plaintext connection reaches the backend (pg's client.cancel)", async () => {
    await withClient(fixture.clientConfig(), async (client) => {
      const query = new pg.Query("select pg_sleep(30)");
      const running = new Promise((resolve, reject) => query.on("end", resolve).on("error", reject));
      client.query(query);
      await new Promise((resolve) => setTimeout(resolve, 200));
      const canceller = new pg.Client({ host: "127.0.0.1", port: fixture.gateway.port });
      canceller.on("error", () => {});
      // Client#cancel exists in pg 8 but is missing from @types/pg.
      (canceller as unknown as { cancel(target: pg.Client, query: pg.Query): void }).cancel(client, query);
      await expect(running).rejects.toMatchObject({ code: "57014" });
      // The session is still usable afterwards.
      expect((await client.query("select 1 as one")).rows[0].one).toBe(1);
    });
  });

  test("a CancelRequest sent over TLS is forwarded verbatim and the connection closed", async () => {
    await withClient(fixture.clientConfig(), async (client) => {
      const keyed = client as KeyedClient;
      const running = client.query("select pg_sleep(30)");
      await new Promise((resolve) => setTimeout(resolve, 200));
      const raw = await openRaw(fixture.gateway.port);
      raw.socket.write(buildRequestPacket({ kind: "ssl-request" }));
      expect((await raw.received(1)).toString()).toBe("S");
      const secure = tlsConnect({
        socket: raw.socket,
        ca: fixture.certificate.ca,
        servername: "localhost",
      });
      const upgraded = await openRaw(0, secure);
      secure.write(
        buildRequestPacket({
          kind: "cancel-request",
          processId: keyed.processID,
          secretKey: keyed.secretKey,
        }),
      );
      await expect(running).rejects.toMatchObject({ code: "57014" });
      expect((await upgraded.closed).length).toBe(0);
    });
  });
});
