import { createRequire } from "node:module";
import { connect, type Socket } from "node:net";
import { buildPackets, TdsMessageReader, TdsPacketType } from "@org/entra-wire";
import { afterEach, describe, expect, it } from "vitest";
import {
  closeTedious,
  connectTedious,
  queryTedious,
  startTdsFixture,
  type TdsFixture,
} from "./tds-test-fixture.js";

/** tedious's own PRELOGIN builder and parser: what the endpoint must accept and answer. */
const PreloginPayload: typeof import("tedious/lib/prelogin-payload.js").default = createRequire(
  import.meta.url,
)("tedious/lib/prelogin-payload.js");

let fixture: TdsFixture | undefined;

afterEach(async () => {
  await fixture?.close();
  fixture = undefined;
});

interface RawClient {
  readonly socket: Socket;
  readonly received: () => Buffer;
  readonly closed: Promise<void>;
}

async function rawClient(port: number): Promise<RawClient> {
  const socket = connect({ host: "127.0.0.1", port });
  const chunks: Buffer[] = [];
  socket.on("data", (chunk) => chunks.push(chunk));
  socket.on("error", () => {});
  const closed = new Promise<void>((resolve) => socket.on("close", () => resolve()));
  await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
  return { socket, received: () => Buffer.concat(chunks), closed };
}

const prelogin = (encrypt: boolean) =>
  buildPackets(
    TdsPacketType.prelogin,
    new PreloginPayload({ encrypt, version: { major: 1, minor: 0, build: 0, subbuild: 0 } }).data,
  );

describe("Azure SQL endpoint robustness", () => {
  const malformed: Array<[string, (client: RawClient) => void]> = [
    ["a first byte that is neither PRELOGIN nor TLS", ({ socket }) => socket.write("GET / HTTP/1.1\r\n\r\n")],
    [
      "a PRELOGIN with an option outside the payload",
      ({ socket }) =>
        socket.write(buildPackets(TdsPacketType.prelogin, Buffer.from([0x00, 0x01, 0x00, 0x00, 0x06, 0xff]))),
    ],
    [
      "a packet length above the TDS maximum",
      ({ socket }) => socket.write(Buffer.from([0x12, 0x01, 0xff, 0xff, 0, 0, 1, 0])),
    ],
    [
      "LOGIN7 garbage after an accepted plaintext PRELOGIN",
      ({ socket }) => {
        socket.write(prelogin(false));
        socket.write(buildPackets(TdsPacketType.login7, Buffer.alloc(30, 0xff)));
      },
    ],
    [
      "garbage where the TLS handshake should be",
      ({ socket }) => {
        socket.write(prelogin(true));
        socket.write(buildPackets(TdsPacketType.prelogin, Buffer.alloc(64, 0x42)));
      },
    ],
    [
      "a message that never ends",
      ({ socket }) => {
        socket.write(prelogin(false));
        const chunk = buildPackets(TdsPacketType.login7, Buffer.alloc(4000), { packetSize: 4096 });
        chunk.writeUInt8(0, 1); // clear END OF MESSAGE
        for (let index = 0; index < 80; index += 1) socket.write(chunk);
      },
    ],
  ];

  for (const [name, send] of malformed) {
    it(`closes only the connection that sent ${name}`, async () => {
      fixture = await startTdsFixture({ requireTls: !name.includes("plaintext") });
      const healthy = await connectTedious(fixture.config());
      const client = await rawClient(fixture.endpoint.port);
      send(client);
      await client.closed;
      expect((await queryTedious(healthy, "SELECT 1 AS still")).rows).toEqual([[1]]);
      await closeTedious(healthy);
    });
  }

  it("answers ENCRYPT_REQ to a plaintext client and refuses its LOGIN7 with a clear error", async () => {
    fixture = await startTdsFixture();
    const client = await rawClient(fixture.endpoint.port);
    client.socket.write(prelogin(false));
    await expect.poll(() => client.received().length).toBeGreaterThan(8);
    const reader = new TdsMessageReader(1 << 16);
    reader.push(client.received());
    const response = new PreloginPayload(reader.readMessage()?.payload as Buffer);
    expect(response.encryptionString).toBe("REQ");
    client.socket.write(buildPackets(TdsPacketType.login7, Buffer.alloc(100)));
    await client.closed;
    const text = client.received().toString("utf16le") + client.received().subarray(1).toString("utf16le");
    expect(text).toContain("The server requires encryption");
    expect(fixture.logins).toEqual([{ accepted: false, reason: "tls-required", user: "" }]);
  });

  it("closes a connection that does not log in within the startup timeout", async () => {
    fixture = await startTdsFixture({}, { startupTimeoutInMs: 150 });
    const client = await rawClient(fixture.endpoint.port);
    const started = Date.now();
    await client.closed;
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it("counts a throwing authorize as invalid", async () => {
    fixture = await startTdsFixture();
    await expect(connectTedious(fixture.config("throw"))).rejects.toThrow(
      "Login failed for user '<token-identified principal>'. Incorrect or invalid token.",
    );
    expect(fixture.logins).toEqual([{ accepted: false, reason: "invalid", user: "" }]);
  });

  it("close() is idempotent and drops open sessions", async () => {
    const local = await startTdsFixture();
    const connection = await connectTedious(local.config());
    const ended = new Promise<void>((resolve) => connection.once("end", () => resolve()));
    const first = local.close();
    expect(local.close()).toBe(first);
    await first;
    await ended;
  });
});
