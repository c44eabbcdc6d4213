import { once } from "node:events";
import { createServer, type Server, type Socket } from "node:net";
import { createTokenProvider, type EntraTokenProvider } from "@org/entra-core";
import { fakeJwt } from "@org/entra-core/testing";
import { afterEach, describe, expect, it } from "vitest";
import { createEntraAdapter } from "./index.js";

const TOKEN = fakeJwt({ upn: "dev@contoso.com" });

/** A real provider that refreshes only while held, as the shared providers do. */
function heldProvider(): EntraTokenProvider {
  return createTokenProvider({
    credential: {
      async getToken() {
        return { token: TOKEN, expiresOnTimestamp: Date.now() + 3_600_000 };
      },
    },
    scope: "https://ossrdbms-aad.database.windows.net/.default",
    backgroundRefresh: "while-held",
  });
}

// LONG_PASSWORD, LONG_FLAG, CONNECT_WITH_DB, PROTOCOL_41, TRANSACTIONS, SECURE_CONNECTION,
// PLUGIN_AUTH, PLUGIN_AUTH_LENENC_CLIENT_DATA. No SSL: plaintext only.
const CAPABILITIES = 0x1 | 0x4 | 0x8 | 0x200 | 0x2000 | 0x8000 | 0x80000 | 0x200000;

function packet(sequenceId: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(4);
  header.writeUIntLE(payload.length, 0, 3);
  header[3] = sequenceId;
  return Buffer.concat([header, payload]);
}

function handshakeV10(connectionId: number): Buffer {
  const fixed = Buffer.alloc(4 + 8 + 1 + 2 + 1 + 2 + 2 + 1 + 10);
  let at = fixed.writeUInt32LE(connectionId, 0);
  at += Buffer.from("scramble").copy(fixed, at);
  at = fixed.writeUInt8(0, at);
  at = fixed.writeUInt16LE(CAPABILITIES & 0xffff, at);
  at = fixed.writeUInt8(255, at);
  at = fixed.writeUInt16LE(0x0002, at);
  at = fixed.writeUInt16LE(CAPABILITIES >>> 16, at);
  fixed.writeUInt8(21, at);
  return Buffer.concat([
    Buffer.from([10]),
    Buffer.from("8.0.36-fake\0"),
    fixed,
    Buffer.from("-second-part\0"),
    Buffer.from("mysql_native_password\0"),
  ]);
}

const AUTH_SWITCH = Buffer.concat([
  Buffer.from([0xfe]),
  Buffer.from("mysql_clear_password\0"),
  Buffer.alloc(21),
]);
const OK = Buffer.from([0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00]);
const QUERY_REFUSED = Buffer.concat([
  Buffer.from([0xff, 0x28, 0x04]),
  Buffer.from("#42000not supported here"),
]);

interface FakeMysqlServer {
  port: number;
  logins: number;
  readonly open: number;
  /** Closes every connection from the server's side (as a server restart or idle timeout does). */
  drop(): void;
  close(): Promise<void>;
}

/**
 * A tiny MySQL server, as Azure behaves for an Entra user: HandshakeV10, an AuthSwitchRequest to
 * `mysql_clear_password`, OK. Every query is refused (Prisma's version probe tolerates that);
 * COM_QUIT closes the connection.
 */
async function startFakeMysqlServer(): Promise<FakeMysqlServer> {
  const sockets = new Set<Socket>();
  let connectionId = 0;
  const state = { logins: 0 };
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    let pending = Buffer.alloc(0);
    let step = 0;
    socket.on("data", (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 4) {
        const length = pending.readUIntLE(0, 3);
        if (pending.length < 4 + length) return;
        const sequenceId = pending[3] as number;
        const payload = pending.subarray(4, 4 + length);
        pending = pending.subarray(4 + length);
        if (step === 0) socket.write(packet(sequenceId + 1, AUTH_SWITCH));
        else if (step === 1) {
          state.logins++;
          socket.write(packet(sequenceId + 1, OK));
        } else if (payload[0] === 0x01) socket.end();
        else socket.write(packet(sequenceId + 1, QUERY_REFUSED));
        step++;
      }
    });
    socket.write(packet(0, handshakeV10(++connectionId)));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no TCP address");
  return {
    port: address.port,
    get logins() {
      return state.logins;
    },
    get open() {
      return sockets.size;
    },
    drop() {
      for (const socket of sockets) socket.destroy();
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, "close");
    },
  };
}

describe("Prisma mysql adapter: connections hold the shared provider", () => {
  let server: FakeMysqlServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it("holds once per open connection of its inner pools, and dispose() leaves no hold", async () => {
    server = await startFakeMysqlServer();
    const tokenProvider = heldProvider();
    const factory = createEntraAdapter(
      {
        provider: "mysql",
        host: "127.0.0.1",
        port: server.port,
        user: "app",
        ssl: false,
        connectionLimit: 2,
        minimumIdle: 2,
      },
      { tokenProvider, env: {}, allowInsecure: true },
    );
    const adapter = await factory.connect();
    // minimumIdle: the pool tops itself up to two connections in the background.
    await expect.poll(() => tokenProvider.stats.holds, { timeout: 5_000, interval: 10 }).toBe(2);
    expect(server.logins).toBe(2);
    await adapter.dispose();
    expect(tokenProvider.stats.holds).toBe(0);
    await expect.poll(() => server?.open, { timeout: 5_000, interval: 10 }).toBe(0);
    expect(tokenProvider.stats.holds).toBe(0);
  });

  it("a connection the server closes releases its hold; the pool's replacement holds again", async () => {
    server = await startFakeMysqlServer();
    const tokenProvider = heldProvider();
    const adapter = await createEntraAdapter(
      {
        provider: "mysql",
        host: "127.0.0.1",
        port: server.port,
        user: "app",
        ssl: false,
        connectionLimit: 2,
        minimumIdle: 2,
      },
      { tokenProvider, env: {}, allowInsecure: true },
    ).connect();
    try {
      await expect.poll(() => tokenProvider.stats.holds, { timeout: 5_000, interval: 10 }).toBe(2);
      server.drop();
      await expect.poll(() => server?.logins, { timeout: 5_000, interval: 10 }).toBe(4);
      await expect.poll(() => tokenProvider.stats.holds, { timeout: 5_000, interval: 10 }).toBe(2);
    } finally {
      await adapter.dispose();
    }
    expect(tokenProvider.stats.holds).toBe(0);
  });
});
