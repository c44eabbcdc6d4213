import { EventEmitter, once } from "node:events";
import { createServer, type Server, type Socket } from "node:net";
import { inspect } from "node:util";
import { createTokenProvider, type EntraTokenProvider } from "@org/entra-core";
import {
  CANARY_TOKEN as CANARY,
  createFakeTokenProvider,
  fakeJwt,
  fakeTlsSocket,
} from "@org/entra-core/testing";
import mysqlCallbacks from "mysql2";
import mysql from "mysql2/promise";
import { afterEach, describe, expect, it, vi } from "vitest";
import { withEntra } from "./with-entra.js";

/** The server's final answer after it received the clear-password response. */
type Verdict = { ok: true } | { errno: number; sqlState: string; message: string };

interface Login {
  /** The user name from the client's HandshakeResponse41. */
  user: string;
  /** The bytes of the client's AuthSwitchResponse. */
  authResponse: Buffer;
}

interface FakeMysqlServer {
  port: number;
  logins: Login[];
  close(): Promise<void>;
}

// Capability flags: LONG_PASSWORD, LONG_FLAG, CONNECT_WITH_DB, PROTOCOL_41, TRANSACTIONS,
// SECURE_CONNECTION, PLUGIN_AUTH, PLUGIN_AUTH_LENENC_CLIENT_DATA. No SSL: plaintext only.
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
  at = fixed.writeUInt8(255, at); // utf8mb4_0900_ai_ci
  at = fixed.writeUInt16LE(0x0002, at); // SERVER_STATUS_AUTOCOMMIT
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

function authSwitchToClearPassword(): Buffer {
  return Buffer.concat([Buffer.from([0xfe]), Buffer.from("mysql_clear_password\0"), Buffer.alloc(21)]);
}

function errPacket(errno: number, sqlState: string, message: string): Buffer {
  const head = Buffer.alloc(3);
  head[0] = 0xff;
  head.writeUInt16LE(errno, 1);
  return Buffer.concat([head, Buffer.from(`#${sqlState}${message}`)]);
}

const OK = Buffer.from([0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00]);

/** Reads the user name from a HandshakeResponse41 payload. */
function userOf(handshakeResponse: Buffer): string {
  const start = 4 + 4 + 1 + 23;
  return handshakeResponse.subarray(start, handshakeResponse.indexOf(0, start)).toString();
}

/**
 * A tiny MySQL server that does what Azure does for an Entra user: HandshakeV10, then an
 * AuthSwitchRequest to `mysql_clear_password`, then OK or ERR. Records what each client sent.
 */
async function startFakeMysqlServer(verdict: Verdict): Promise<FakeMysqlServer> {
  const logins: Login[] = [];
  const sockets = new Set<Socket>();
  let connectionId = 0;
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    const login: Partial<Login> = {};
    let pending = Buffer.alloc(0);
    let step = 0;
    socket.on("data", (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 4) {
        const length = pending.readUIntLE(0, 3);
        if (pending.length < 4 + length) return;
        const payload = pending.subarray(4, 4 + length);
        pending = pending.subarray(4 + length);
        if (step === 0) {
          login.user = userOf(payload);
          socket.write(packet(2, authSwitchToClearPassword()));
        } else if (step === 1) {
          login.authResponse = Buffer.from(payload);
          logins.push(login as Login);
          if ("ok" in verdict) socket.write(packet(4, OK));
          else socket.end(packet(4, errPacket(verdict.errno, verdict.sqlState, verdict.message)));
        } else if (payload[0] === 0x01) {
          socket.end(); // COM_QUIT
        }
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
    logins,
    async close() {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, "close");
    },
  };
}

describe("mysql2 clear-password handshake over a real socket", () => {
  let server: FakeMysqlServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  function config(port: number, user?: string) {
    // Plaintext only because this fake server has no TLS; real servers get verified TLS.
    return { host: "127.0.0.1", port, ssl: false, ...(user === undefined ? {} : { user }) } as const;
  }

  it("sends the token and a NUL byte when the server switches to mysql_clear_password", async () => {
    server = await startFakeMysqlServer({ ok: true });
    const provider = createFakeTokenProvider();
    const connection = await mysql.createConnection(
      withEntra(config(server.port, "app") as never, {
        tokenProvider: provider,
        env: {},
        allowInsecure: true,
      }),
    );
    connection.destroy();
    expect(server.logins).toHaveLength(1);
    expect(server.logins[0]?.user).toBe("app");
    expect(server.logins[0]?.authResponse.toString()).toBe(`${CANARY}\0`);
  });

  it("learns the user name from the token before the handshake when none is configured", async () => {
    server = await startFakeMysqlServer({ ok: true });
    const provider = createFakeTokenProvider();
    const pool = mysql.createPool(
      withEntra(config(server.port) as never, { tokenProvider: provider, env: {}, allowInsecure: true }),
    );
    const connections = await Promise.all([pool.getConnection(), pool.getConnection()]);
    for (const connection of connections) connection.release();
    expect(server.logins.map((login) => login.user)).toEqual(["canary-app", "canary-app"]);
    expect(inspect(pool, { depth: 8, showHidden: true })).not.toContain(CANARY);
    await pool.end();
  });

  it("works for a PoolCluster node of the callback API", async () => {
    server = await startFakeMysqlServer({ ok: true });
    const cluster = mysqlCallbacks.createPoolCluster();
    cluster.add(
      "primary",
      withEntra(config(server.port, "app") as never, {
        tokenProvider: createFakeTokenProvider(),
        env: {},
        allowInsecure: true,
      }),
    );
    await new Promise<void>((resolve, reject) =>
      cluster.getConnection("primary", (error, connection) => {
        if (error) return reject(error);
        connection.release();
        resolve();
      }),
    );
    expect(server.logins[0]?.authResponse.toString()).toBe(`${CANARY}\0`);
    await new Promise<void>((resolve) => cluster.end(() => resolve()));
  });

  it("fails the connection with USERNAME_UNRESOLVED when neither the config nor the token names a user", async () => {
    server = await startFakeMysqlServer({ ok: true });
    const provider = createFakeTokenProvider({
      token: fakeJwt({ oid: "00000000-0000-0000-0000-000000000001" }),
    });
    const error = await mysql
      .createConnection(
        withEntra(config(server.port) as never, { tokenProvider: provider, env: {}, allowInsecure: true }),
      )
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toMatchObject({ name: "EntraAuthError", code: "USERNAME_UNRESOLVED" });
    expect(server.logins).toHaveLength(0);
  });

  it("adds the reason to an expired-token error (9119) and drops the cached token", async () => {
    server = await startFakeMysqlServer({
      errno: 9119,
      sqlState: "HY000",
      message: "The access token has expired. Please acquire a new token and retry.",
    });
    const provider = createFakeTokenProvider();
    const error = (await mysql
      .createConnection(
        withEntra(config(server.port, "app") as never, {
          tokenProvider: provider,
          env: {},
          allowInsecure: true,
        }),
      )
      .then(
        () => undefined,
        (e: unknown) => e,
      )) as Error & { errno?: number; entraCode?: string };
    expect(server.logins[0]?.authResponse.toString()).toBe(`${CANARY}\0`);
    expect(error.errno).toBe(9119);
    expect(error.message).toContain("The access token has expired.");
    expect(error.message).toContain("[@org/mysql2-entra TOKEN_EXPIRED]");
    expect(error.entraCode).toBe("TOKEN_EXPIRED");
    expect(Object.keys(error)).not.toContain("entraCode");
    expect(provider.invalidations).toBe(1);
    expect(`${error.message} ${error.stack} ${inspect(error, { showHidden: true })}`).not.toContain(CANARY);
  });

  it("names the token's principal when the server does not know the user (1045)", async () => {
    server = await startFakeMysqlServer({
      errno: 1045,
      sqlState: "28000",
      message: "Access denied for user 'wrong'@'10.0.0.1' (using password: YES)",
    });
    const provider = createFakeTokenProvider();
    const error = (await mysql
      .createConnection(
        withEntra(config(server.port, "wrong") as never, {
          tokenProvider: provider,
          env: {},
          allowInsecure: true,
        }),
      )
      .then(
        () => undefined,
        (e: unknown) => e,
      )) as Error & { entraCode?: string };
    expect(error.entraCode).toBe("PRINCIPAL_UNKNOWN");
    expect(error.message).toContain("CREATE AADUSER 'wrong'");
    expect(error.message).toContain('The token belongs to "canary-app"');
    expect(provider.invalidations).toBe(0);
  });
});

/** A real provider that refreshes only while held, as the shared providers do. */
function heldProvider(gate?: Promise<void>): EntraTokenProvider {
  return createTokenProvider({
    credential: {
      async getToken() {
        await gate;
        return { token: CANARY, expiresOnTimestamp: Date.now() + 3_600_000 };
      },
    },
    scope: "https://ossrdbms-aad.database.windows.net/.default",
    backgroundRefresh: "while-held",
  });
}

type PluginFactory = (context: unknown) => (data: Buffer) => Promise<Buffer>;

/** The clear-password plugin of a config wired to `provider`. */
function pluginOf(provider: EntraTokenProvider): PluginFactory {
  const config = withEntra({ host: "localhost", user: "app" }, { tokenProvider: provider, env: {} });
  return config.authPlugins?.mysql_clear_password as unknown as PluginFactory;
}

/** A connecting mysql2 connection as the plugin sees it: an EventEmitter whose TLS socket can close. */
function fakeConnection() {
  const stream = Object.assign(new EventEmitter(), fakeTlsSocket(), { closed: false });
  return Object.assign(new EventEmitter(), { config: { user: "app", host: "localhost" }, stream });
}

describe("mysql2 connections hold the shared provider while they are open", () => {
  let server: FakeMysqlServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  function config(port: number) {
    // Plaintext only because this fake server has no TLS; real servers get verified TLS.
    return { host: "127.0.0.1", port, ssl: false, user: "app" } as never;
  }

  it("holds once per connection from its token on, and releases when its socket closes", async () => {
    const provider = heldProvider();
    const plugin = pluginOf(provider);
    const [first, second] = [fakeConnection(), fakeConnection()];
    await plugin({ connection: first })(Buffer.alloc(20));
    await plugin({ connection: first })(Buffer.alloc(20)); // change-user: no second hold
    await plugin({ connection: second })(Buffer.alloc(20));
    expect(provider.stats.holds).toBe(2);
    first.stream.emit("close");
    expect(provider.stats.holds).toBe(1);
    second.emit("end"); // mysql2's own end event (plaintext sockets) releases too
    second.stream.emit("close");
    expect(provider.stats.holds).toBe(0);
  });

  it("does not hold for a connection that closed while it waited for the token", async () => {
    let open = () => {};
    const provider = heldProvider(new Promise<void>((resolve) => (open = resolve)));
    const connection = fakeConnection();
    const pending = pluginOf(provider)({ connection })(Buffer.alloc(20));
    connection.stream.emit("close");
    open();
    await pending;
    expect(provider.stats.holds).toBe(0);
  });

  it("a pool holds once per open connection, and pool.end() leaves no hold", async () => {
    server = await startFakeMysqlServer({ ok: true });
    const provider = heldProvider();
    const pool = mysql.createPool(
      withEntra(config(server.port), { tokenProvider: provider, env: {}, allowInsecure: true }),
    );
    const connections = await Promise.all([pool.getConnection(), pool.getConnection()]);
    expect(provider.stats.holds).toBe(2);
    connections[0]?.destroy();
    await vi.waitFor(() => expect(provider.stats.holds).toBe(1), { timeout: 2_000, interval: 5 });
    connections[1]?.release();
    await pool.end();
    // mysql2 calls back once COM_QUIT is written; the server then closes each socket.
    await vi.waitFor(() => expect(provider.stats.holds).toBe(0), { timeout: 2_000, interval: 5 });
  });

  it("a login the server refuses leaves no hold", async () => {
    server = await startFakeMysqlServer({
      errno: 9119,
      sqlState: "HY000",
      message: "The access token has expired. Please acquire a new token and retry.",
    });
    const provider = heldProvider();
    await expect(
      mysql.createConnection(
        withEntra(config(server.port), { tokenProvider: provider, env: {}, allowInsecure: true }),
      ),
    ).rejects.toThrow(/expired/);
    await vi.waitFor(() => expect(provider.stats.holds).toBe(0), { timeout: 2_000, interval: 5 });
    expect(server.logins).toHaveLength(1);
  });
});
