import { connect as tlsConnect } from "node:tls";
import {
  buildMessage,
  buildRequestPacket,
  buildStartupMessage,
  PgFrameReader,
  parseAuthenticationRequest,
  parseErrorFields,
} from "@org/entra-wire";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  ensureBackendRole,
  type GatewayFixture,
  openRaw,
  startGatewayFixture,
  withClient,
} from "./pg-test-fixture.js";

function uint32(...values: number[]): Buffer {
  const buffer = Buffer.alloc(values.length * 4);
  for (const [index, value] of values.entries()) buffer.writeUInt32BE(value, index * 4);
  return buffer;
}

describe("malformed or hostile input closes only that connection", () => {
  let fixture: GatewayFixture;
  beforeAll(async () => {
    await ensureBackendRole();
    fixture = await startGatewayFixture({ requireTls: false }, { startupTimeoutInMs: 300 });
  });
  afterAll(() => fixture.close());

  test.each([
    ["a length below 8", uint32(4, 196608)],
    ["an oversized startup packet", uint32(1_000_000, 196608)],
    ["a startup packet without its terminator", Buffer.concat([uint32(13, 196608), Buffer.from("user\0")])],
    ["an encryption request with a body", uint32(12, 80877103, 0)],
  ])("%s", async (_name, bytes) => {
    await withClient(fixture.clientConfig(), async (client) => {
      const raw = await openRaw(fixture.gateway.port);
      raw.socket.write(bytes);
      expect((await raw.closed).length).toBe(0);
      expect((await client.query("select 1 as one")).rows[0].one).toBe(1);
    });
  });

  test("a password message over 65535 bytes", async () => {
    const raw = await openRaw(fixture.gateway.port);
    raw.socket.write(buildStartupMessage([["user", "u"]]));
    await raw.received(9);
    const header = Buffer.from([0x70, 0, 1, 0, 4]); // 'p', length 65540
    raw.socket.write(header);
    await raw.closed;
  });

  test("a message other than a password after the password request", async () => {
    const raw = await openRaw(fixture.gateway.port);
    raw.socket.write(buildStartupMessage([["user", "u"]]));
    await raw.received(9);
    raw.socket.write(buildMessage("Q", Buffer.from("select 1\0")));
    await raw.closed;
  });

  test("an unknown protocol version gets a 0A000 error", async () => {
    const raw = await openRaw(fixture.gateway.port);
    raw.socket.write(Buffer.concat([uint32(8 + 5, 0x00020000), Buffer.from("u\0u\0\0")]));
    const reader = new PgFrameReader();
    reader.push(await raw.closed);
    const error = reader.readMessage(1000);
    expect(error?.type).toBe("E");
    expect(parseErrorFields(error?.payload ?? Buffer.alloc(0)).get("C")).toBe("0A000");
  });

  test("a truncated packet followed by silence is closed after the startup timeout", async () => {
    const raw = await openRaw(fixture.gateway.port);
    raw.socket.write(uint32(100).subarray(0, 3));
    const started = Date.now();
    await raw.closed;
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  test("data pipelined after SSLRequest (before the handshake) is refused", async () => {
    const raw = await openRaw(fixture.gateway.port);
    raw.socket.write(
      Buffer.concat([buildRequestPacket({ kind: "ssl-request" }), buildStartupMessage([["user", "u"]])]),
    );
    expect((await raw.closed).length).toBe(0);
  });
});

describe("startup negotiation", () => {
  let fixture: GatewayFixture;
  beforeAll(async () => {
    fixture = await startGatewayFixture();
  });
  afterAll(() => fixture.close());

  test("GSSENCRequest is declined with N, then SSLRequest upgrades to TLS and a password is requested", async () => {
    const raw = await openRaw(fixture.gateway.port);
    raw.socket.write(buildRequestPacket({ kind: "gssenc-request" }));
    expect((await raw.received(1)).toString()).toBe("N");
    raw.socket.write(buildRequestPacket({ kind: "ssl-request" }));
    expect((await raw.received(2)).toString()).toBe("NS");
    const secure = tlsConnect({ socket: raw.socket, ca: fixture.certificate.ca, servername: "localhost" });
    const upgraded = await openRaw(0, secure);
    secure.write(buildStartupMessage([["user", "u"]]));
    const reader = new PgFrameReader();
    reader.push(await upgraded.received(9));
    const message = reader.readMessage(100);
    expect(message?.type).toBe("R");
    expect(parseAuthenticationRequest(message?.payload ?? Buffer.alloc(0))).toEqual({ method: "cleartext" });
    secure.destroy();
  });

  test("a protocol 3.2 client is told the server speaks 3.0 before the password request", async () => {
    const raw = await openRaw(fixture.gateway.port);
    raw.socket.write(buildRequestPacket({ kind: "ssl-request" }));
    await raw.received(1);
    const secure = tlsConnect({ socket: raw.socket, ca: fixture.certificate.ca, servername: "localhost" });
    const upgraded = await openRaw(0, secure);
    const startup = buildStartupMessage([
      ["user", "u"],
      ["_pq_.test", "x"],
    ]);
    startup.writeUInt32BE(0x00030002, 4);
    secure.write(startup);
    const reader = new PgFrameReader();
    reader.push(await upgraded.received(9 + 9 + 4 + 10));
    const negotiate = reader.readMessage(100);
    expect(negotiate?.type).toBe("v");
    expect(negotiate?.payload.readUInt32BE(0)).toBe(196608);
    expect(negotiate?.payload.subarray(8).toString()).toBe("_pq_.test\0");
    expect(reader.readMessage(100)?.type).toBe("R");
    secure.destroy();
  });
});

describe("closing the gateway", () => {
  test("destroys live sessions, stops listening and can be called twice", async () => {
    await ensureBackendRole();
    const fixture = await startGatewayFixture();
    const client = new pg.Client(fixture.clientConfig());
    const ended = new Promise<void>((resolve) =>
      client.on("error", () => resolve()).on("end", () => resolve()),
    );
    await client.connect();
    await fixture.close();
    await fixture.close();
    await ended;
    await expect(openRaw(fixture.gateway.port)).rejects.toThrow();
  });
});
