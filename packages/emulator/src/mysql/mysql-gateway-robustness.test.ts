import { connect as tlsConnect } from "node:tls";
import {
  buildHandshakeResponse,
  buildPacket,
  buildSslRequest,
  MysqlCapability,
  MysqlPacketReader,
  parseAuthPacket,
  parseErrorPacket,
  parseHandshake,
} from "@org/entra-wire";
import mysql from "mysql2/promise";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  ensureMysqlBackendUser,
  type MysqlGatewayFixture,
  openRawMysql,
  startMysqlGatewayFixture,
  withMysqlClient,
} from "./mysql-test-fixture.js";

const CLIENT =
  MysqlCapability.longPassword |
  MysqlCapability.protocol41 |
  MysqlCapability.secureConnection |
  MysqlCapability.pluginAuth |
  MysqlCapability.pluginAuthLenencClientData |
  MysqlCapability.connectWithDb;
const HELLO = { capabilities: CLIENT, extendedCapabilities: 0, maxPacketSize: 1 << 24, characterSet: 45 };

function handshakeResponse(user = "app@contoso"): Buffer {
  return buildHandshakeResponse({
    ...HELLO,
    user,
    authResponse: Buffer.alloc(0),
    database: "test",
    authPluginName: "mysql_native_password",
    connectAttributes: [],
  });
}

/** Reads every complete packet from `bytes`. */
function packetsOf(bytes: Buffer) {
  const reader = new MysqlPacketReader();
  reader.push(bytes);
  const packets = [];
  for (let packet = reader.readPacket(1 << 20); packet; packet = reader.readPacket(1 << 20))
    packets.push(packet);
  return packets;
}

/** Resolves with the first packet (the greeting) once it is complete. */
async function greetingOf(raw: { received(count: number): Promise<Buffer> }) {
  const head = await raw.received(4);
  const length = head.readUIntLE(0, 3);
  const bytes = await raw.received(4 + length);
  return parseHandshake(bytes.subarray(4, 4 + length));
}

describe("malformed or hostile input closes only that connection", () => {
  let fixture: MysqlGatewayFixture;
  beforeAll(async () => {
    await ensureMysqlBackendUser();
    fixture = await startMysqlGatewayFixture({ requireTls: false }, { startupTimeoutInMs: 500 });
  });
  afterAll(() => fixture.close());

  test.each([
    ["an oversized packet header", Buffer.from([0xff, 0xff, 0xff, 0x01])],
    ["a pre-4.1 handshake response", buildPacket(1, Buffer.alloc(40))],
    ["a handshake response cut inside the user name", buildPacket(1, handshakeResponse().subarray(0, 40))],
    ["a packet with the wrong sequence id", buildPacket(7, handshakeResponse())],
    ["an SSLRequest without CLIENT_SSL", buildPacket(1, buildSslRequest(HELLO).fill(0, 1, 2))],
  ])("%s", async (_name, bytes) => {
    await withMysqlClient(fixture.clientConfig("good", { ssl: undefined }), async (client) => {
      const raw = await openRawMysql(fixture.gateway.port);
      await greetingOf(raw);
      raw.socket.write(bytes);
      const received = await raw.closed;
      expect(packetsOf(received)).toHaveLength(1); // the greeting, and nothing else
      const [rows] = await client.query("select 1 as one");
      expect(rows).toEqual([{ one: 1 }]);
    });
  });

  test("a token packet over 64 KiB", async () => {
    const raw = await openRawMysql(fixture.gateway.port);
    await greetingOf(raw);
    raw.socket.write(buildPacket(1, handshakeResponse()));
    const head = Buffer.alloc(4);
    head.writeUIntLE(70_000, 0, 3);
    head[3] = 3;
    raw.socket.write(head);
    await raw.closed;
  });

  test("a silent client is closed after the startup timeout", async () => {
    const raw = await openRawMysql(fixture.gateway.port);
    const started = Date.now();
    await raw.closed;
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  test("a client that never sends its token is closed after the startup timeout", async () => {
    const raw = await openRawMysql(fixture.gateway.port);
    await greetingOf(raw);
    raw.socket.write(buildPacket(1, handshakeResponse()));
    const received = await raw.closed;
    const packets = packetsOf(received);
    expect(packets).toHaveLength(2);
    expect(parseAuthPacket(packets[1]?.payload ?? Buffer.alloc(0))).toMatchObject({
      kind: "auth-switch",
      pluginName: "mysql_clear_password",
    });
  });
});

describe("the handshake", () => {
  let fixture: MysqlGatewayFixture;
  beforeAll(async () => {
    await ensureMysqlBackendUser();
    fixture = await startMysqlGatewayFixture();
  });
  afterAll(() => fixture.close());

  test("the greeting offers TLS, no compression, and the backend's thread id", async () => {
    const raw = await openRawMysql(fixture.gateway.port);
    const greeting = await greetingOf(raw);
    expect(greeting.capabilities & MysqlCapability.ssl).toBe(MysqlCapability.ssl);
    expect(greeting.capabilities & MysqlCapability.compress).toBe(0);
    expect(greeting.serverVersion).toBe("8.0.42");
    expect(greeting.connectionId).toBeGreaterThan(0);
    raw.socket.destroy();
  });

  test("a TLS ClientHello sent in the same segment as the SSLRequest is replayed into TLS", async () => {
    const raw = await openRawMysql(fixture.gateway.port);
    const greeting = await greetingOf(raw);
    raw.socket.cork();
    raw.socket.write(buildPacket(1, buildSslRequest(HELLO)));
    const secure = tlsConnect({ socket: raw.socket, ca: fixture.certificate.ca, servername: "localhost" });
    process.nextTick(() => raw.socket.uncork());
    const upgraded = await openRawMysql(0, secure);
    await new Promise((resolve) => secure.once("secureConnect", resolve));
    secure.write(buildPacket(2, handshakeResponse()));
    const switchBytes = await upgraded.received(4);
    const switchPacket = packetsOf(await upgraded.received(4 + switchBytes.readUIntLE(0, 3)))[0];
    expect(switchPacket?.sequenceId).toBe(3);
    expect(switchPacket?.payload).toEqual(Buffer.from("\xfemysql_clear_password\0\0", "latin1"));
    secure.write(buildPacket(4, Buffer.from("principal\0")));
    const [, error] = packetsOf(await upgraded.closed);
    expect(error?.sequenceId).toBe(5);
    expect(parseErrorPacket(error?.payload ?? Buffer.alloc(0))).toMatchObject({
      code: 1045,
      sqlState: "28000",
    });
    expect(greeting.connectionId).toBeGreaterThan(0);
  });
});

describe("closing the gateway", () => {
  test("destroys live sessions, stops listening and can be called twice", async () => {
    await ensureMysqlBackendUser();
    const fixture = await startMysqlGatewayFixture();
    const connection = await mysql.createConnection(fixture.clientConfig());
    const ended = new Promise<void>((resolve) =>
      connection.on("error", () => resolve()).on("end", () => resolve()),
    );
    await fixture.close();
    await fixture.close();
    await ended;
    await expect(openRawMysql(fixture.gateway.port)).rejects.toThrow();
  });
});
