import { EventEmitter, once } from "node:events";
import { createServer, type Server, type Socket } from "node:net";
import { createTokenProvider, type EntraTokenProvider, type TokenProviderOptions } from "@org/entra-core";
import { CANARY_TOKEN, fakeTlsSocket } from "@org/entra-core/testing";
import pg from "pg";
import { afterEach, describe, expect, it, vi } from "vitest";
import { withEntra } from "./with-entra.js";

const SCOPE = "https://ossrdbms-aad.database.windows.net/.default";

/** A credential that answers at once (or when `gate` resolves) with an hour-long token. */
function credential(gate?: Promise<void>): TokenProviderOptions["credential"] {
  return {
    async getToken() {
      await gate;
      return { token: CANARY_TOKEN, expiresOnTimestamp: Date.now() + 3_600_000 };
    },
  };
}

/** A real provider that refreshes only while held, as the shared providers do. */
function heldProvider(gate?: Promise<void>): EntraTokenProvider {
  return createTokenProvider({ credential: credential(gate), scope: SCOPE, backgroundRefresh: "while-held" });
}

/** A pg `Client` as the password hook sees it (`this`): its `Connection` is an EventEmitter over TLS. */
function fakeClient() {
  const connection = Object.assign(new EventEmitter(), { stream: fakeTlsSocket({ names: ["h"] }) });
  return { user: "app", host: "h", connection };
}

function passwordOf(provider: EntraTokenProvider): (this: unknown) => Promise<string> {
  const config = withEntra({ host: "h", user: "app" }, { tokenProvider: provider, env: {} });
  return config.password as (this: unknown) => Promise<string>;
}

interface FakePgServer {
  port: number;
  close(): Promise<void>;
}

function message(type: string, body: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.write(type, 0, "latin1");
  header.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}

const int32 = (value: number) => {
  const buffer = Buffer.alloc(4);
  buffer.writeInt32BE(value);
  return buffer;
};
const READY = message("Z", Buffer.from("I"));
const AUTH_OK = message("R", int32(0));
const CLEARTEXT = message("R", int32(3));
const REJECTED = message(
  "E",
  Buffer.from('SFATAL\0C28P01\0Mpassword authentication failed for user "app"\0\0'),
);

/**
 * A minimal PostgreSQL server (plaintext): asks for a cleartext password, then accepts it (or
 * answers with a FATAL error and closes, as a server refusing a token does), answers every simple
 * query with an empty result, and closes on Terminate.
 */
async function startFakePgServer(accept: boolean): Promise<FakePgServer> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    let pending = Buffer.alloc(0);
    let started = false;
    socket.on("data", (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      for (;;) {
        if (!started) {
          if (pending.length < 4 || pending.length < pending.readInt32BE(0)) return;
          pending = pending.subarray(pending.readInt32BE(0));
          started = true;
          socket.write(CLEARTEXT);
          continue;
        }
        if (pending.length < 5 || pending.length < 1 + pending.readInt32BE(1)) return;
        const type = String.fromCharCode(pending[0] as number);
        pending = pending.subarray(1 + pending.readInt32BE(1));
        if (type === "p") {
          if (accept) socket.write(Buffer.concat([AUTH_OK, READY]));
          else socket.end(REJECTED);
        } else if (type === "Q") {
          socket.write(Buffer.concat([message("I", Buffer.alloc(0)), READY]));
        } else if (type === "X") {
          socket.end();
        }
      }
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no TCP address");
  return {
    port: address.port,
    async close() {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, "close");
    },
  };
}

describe("pg connections hold the shared provider while they are open", () => {
  let server: FakePgServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it("holds once per connection from its token on, and releases at the connection's end", async () => {
    const provider = heldProvider();
    const password = passwordOf(provider);
    const [first, second] = [fakeClient(), fakeClient()];
    await expect(password.call(first)).resolves.toBe(CANARY_TOKEN);
    expect(provider.stats.holds).toBe(1);
    await password.call(first); // a second password request on the same connection adds none
    await password.call(second);
    expect(provider.stats.holds).toBe(2);
    first.connection.emit("end");
    expect(provider.stats.holds).toBe(1);
    first.connection.emit("end");
    expect(provider.stats.holds).toBe(1);
    second.connection.emit("end");
    expect(provider.stats.holds).toBe(0);
    expect(first.connection.listenerCount("end") + second.connection.listenerCount("end")).toBe(0);
  });

  it("releases after a refused login: pg's connection ends after the server's error", async () => {
    const provider = heldProvider();
    const client = fakeClient();
    await passwordOf(provider).call(client);
    client.connection.emit("errorMessage", new Error('password authentication failed for user "app"'));
    client.connection.emit("end");
    expect(provider.stats.holds).toBe(0);
    expect(client.connection.listenerCount("errorMessage")).toBe(0);
  });

  it("does not hold for a connection that ended while it waited for the token", async () => {
    let open = () => {};
    const provider = heldProvider(new Promise<void>((resolve) => (open = resolve)));
    const client = fakeClient();
    const pending = passwordOf(provider).call(client);
    client.connection.emit("end");
    open();
    await pending;
    expect(provider.stats.holds).toBe(0);
  });

  it("holds nothing without a connecting client (a direct call)", async () => {
    const provider = heldProvider();
    await passwordOf(provider).call(undefined);
    expect(provider.stats.holds).toBe(0);
  });

  it("a pg.Pool holds once per open connection, and pool.end() leaves no hold", async () => {
    server = await startFakePgServer(true);
    const provider = heldProvider();
    const pool = new pg.Pool(
      withEntra(
        { host: "127.0.0.1", port: server.port, user: "app", ssl: false, max: 3 },
        { tokenProvider: provider, env: {}, allowInsecure: true },
      ),
    );
    const clients = await Promise.all([pool.connect(), pool.connect()]);
    expect(provider.stats.holds).toBe(2);
    clients[0]?.release(true); // destroyed: the connection ends
    await once(clients[0] as pg.PoolClient, "end");
    expect(provider.stats.holds).toBe(1);
    clients[1]?.release();
    await pool.query("select 1");
    await pool.end();
    // pg-pool resolves end() once it has asked every client to end; each connection's socket
    // closes a moment later, and with it the connection's hold.
    await vi.waitFor(() => expect(provider.stats.holds).toBe(0), { timeout: 2_000, interval: 5 });
  });

  it("a login the server refuses leaves no hold", async () => {
    server = await startFakePgServer(false);
    const provider = heldProvider();
    const client = new pg.Client(
      withEntra(
        { host: "127.0.0.1", port: server.port, user: "app", ssl: false },
        { tokenProvider: provider, env: {}, allowInsecure: true },
      ),
    );
    const ended = once(client, "end");
    await expect(client.connect()).rejects.toThrow(/password authentication failed/);
    await ended;
    expect(provider.stats.holds).toBe(0);
  });
});
