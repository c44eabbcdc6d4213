import { once } from "node:events";
import { createServer, type Server, type Socket } from "node:net";
import { TLSSocket } from "node:tls";
import { inspect } from "node:util";
import { createTokenProvider, EntraAuthError, type EntraTokenProvider } from "@org/entra-core";
import { CANARY_TOKEN, createFakeTokenProvider } from "@org/entra-core/testing";
import postgres from "postgres";
import { afterEach, describe, expect, it } from "vitest";
import { withEntra } from "./with-entra.js";

// A self-signed certificate for DNS:localhost (valid until 2126), trusted through `ssl: { ca }`.
const CERTIFICATE = `-----BEGIN CERTIFICATE-----
MIIBlDCCATugAwIBAgIUYl5qRBcqqg+aor+hc4oK/mr5NaowCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTIwMTA0MjMzOFoYDzIxMjYxMTA3
MDQyMzM4WjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAASZllpL0Q13JVFk1bRiM0y77XFYBiX7y2tLulz8sHmo+YvWrwpe8YLM
XdGhi5pFogI4O8MoJMm9GELCh0HrhNTZo2kwZzAdBgNVHQ4EFgQUY7hidlfu03+T
2l+yZqLUA0VHy2wwHwYDVR0jBBgwFoAUY7hidlfu03+T2l+yZqLUA0VHy2wwFAYD
VR0RBA0wC4IJbG9jYWxob3N0MA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwID
RwAwRAIgZ8YJ3fptAoUQIuBxZRT8a6GxRyOqlSuJMNLBaRedziECICExIiqTOH7N
kGIVlo2ijVmh7psvzpx5ySUfdXJsEYzp
-----END CERTIFICATE-----
`;
const KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgx/P+q3BJh4X3WP3b
dm+qh5bAz9AgxK5TafYiGyI5ZtWhRANCAASZllpL0Q13JVFk1bRiM0y77XFYBiX7
y2tLulz8sHmo+YvWrwpe8YLMXdGhi5pFogI4O8MoJMm9GELCh0HrhNTZ
-----END PRIVATE KEY-----
`;

const SCOPE = "https://ossrdbms-aad.database.windows.net/.default";
const EXPIRED = "The access token has expired. Please acquire a new token and retry.";

/** How the fake server answers the SSLRequest, and whether it accepts the password. */
interface FakeServerOptions {
  readonly tls?: "S" | "N" | "S+data" | "R" | "silent";
  readonly reject?: string;
}

interface FakeServer {
  readonly port: number;
  /** TCP connections accepted. */
  connections: number;
  /** The startup parameters (user, database...) of each sign-in. */
  readonly startups: Record<string, string>[];
  /** The passwords received. */
  readonly passwords: string[];
  close(): Promise<void>;
}

function message(type: string, body: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.write(type, 0, "latin1");
  header.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}

const int32 = (value: number) =>
  Buffer.from([value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255]);
const READY = message("Z", Buffer.from("I"));
const SIGNED_IN = Buffer.concat([message("R", int32(0)), READY]);

/**
 * A PostgreSQL server reduced to what these tests need: the SSLRequest (answered as told, then TLS
 * with the certificate above), the startup message, a cleartext password request (accepted, or
 * refused with a FATAL error and a close, as Azure does), simple queries (an empty result) and
 * Terminate.
 */
async function startFakeServer(options: FakeServerOptions = {}): Promise<FakeServer> {
  const sockets = new Set<Socket>();
  const state = { connections: 0, startups: [] as Record<string, string>[], passwords: [] as string[] };
  const serve = (socket: Socket | TLSSocket, buffered: Buffer) => {
    let pending = buffered;
    let started = false;
    const onData = (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      for (;;) {
        if (!started) {
          if (pending.length < 4 || pending.length < pending.readInt32BE(0)) return;
          const fields = pending.subarray(8, pending.readInt32BE(0)).toString().split("\0");
          const startup: Record<string, string> = {};
          for (let i = 0; i + 1 < fields.length; i += 2)
            if (fields[i]) startup[fields[i] as string] = fields[i + 1] as string;
          state.startups.push(startup);
          pending = pending.subarray(pending.readInt32BE(0));
          started = true;
          socket.write(message("R", int32(3)));
          continue;
        }
        if (pending.length < 5 || pending.length < 1 + pending.readInt32BE(1)) return;
        const type = String.fromCharCode(pending[0] as number);
        const body = pending.subarray(5, 1 + pending.readInt32BE(1));
        pending = pending.subarray(1 + pending.readInt32BE(1));
        if (type === "p") {
          state.passwords.push(body.toString().replace(/\0$/, ""));
          if (options.reject) {
            socket.end(message("E", Buffer.from(`SFATAL\0C28000\0M${options.reject}\0\0`)));
          } else socket.write(SIGNED_IN);
        } else if (type === "Q") socket.write(Buffer.concat([message("I", Buffer.alloc(0)), READY]));
        else if (type === "X") socket.end();
      }
    };
    socket.on("data", onData);
    socket.on("error", () => {});
    onData(Buffer.alloc(0));
  };
  const server: Server = createServer((socket) => {
    state.connections++;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    socket.once("data", (first) => {
      if (first.length < 8 || first.readInt32BE(4) !== 80877103) return serve(socket, first);
      const answer = options.tls ?? "S";
      if (answer === "silent") return;
      if (answer === "N") {
        socket.write("N");
        return socket.once("data", (startup) => serve(socket, startup));
      }
      if (answer === "R") return socket.write(message("R", int32(3)));
      socket.write(answer === "S+data" ? Buffer.concat([Buffer.from("S"), message("R", int32(3))]) : "S");
      const secure = new TLSSocket(socket, { isServer: true, key: KEY, cert: CERTIFICATE });
      secure.on("error", () => {});
      serve(secure, Buffer.alloc(0));
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no TCP address");
  return {
    port: address.port,
    get connections() {
      return state.connections;
    },
    startups: state.startups,
    passwords: state.passwords,
    async close() {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, "close");
    },
  };
}

/** A real provider (refreshing only while held, as the shared ones do) over a credential that answers at once. */
function heldProvider(): EntraTokenProvider {
  return createTokenProvider({
    credential: {
      getToken: async () => ({ token: CANARY_TOKEN, expiresOnTimestamp: Date.now() + 3_600_000 }),
    },
    scope: SCOPE,
    backgroundRefresh: "while-held",
  });
}

const TRUSTED = { ca: CERTIFICATE };

describe("postgres.js connections through withEntra", () => {
  let server: FakeServer | undefined;
  let sql: postgres.Sql | undefined;
  const start = async (options?: FakeServerOptions) => {
    server = await startFakeServer(options);
    return server;
  };
  const connect = (
    config: Exclude<Parameters<typeof withEntra>[0], string | undefined>,
    options: Parameters<typeof withEntra>[1],
  ) => {
    sql = postgres({ ...withEntra(config, { env: {}, ...options }), fetch_types: false, onnotice: () => {} });
    return sql;
  };
  afterEach(async () => {
    await sql?.end({ timeout: 0 });
    await server?.close();
    sql = server = undefined;
  });

  it("signs in over verified TLS with the token, holds the provider per open connection, and sql.end() releases it", async () => {
    const { port, startups, passwords } = await start();
    const provider = heldProvider();
    const db = connect(
      { host: "localhost", port, user: "app", database: "orders", ssl: TRUSTED },
      { tokenProvider: provider },
    );
    // Two queries at once: postgres.js opens a second connection for the second one.
    await Promise.all([db.unsafe("select 1"), db.unsafe("select 1")]);
    expect(provider.stats.holds).toBe(2);
    expect(passwords).toEqual([CANARY_TOKEN, CANARY_TOKEN]);
    expect(startups[0]).toMatchObject({ user: "app", database: "orders" });
    expect(inspect(db, { depth: 8, showHidden: true })).not.toContain(CANARY_TOKEN.slice(-30));
    await db.end();
    expect(provider.stats.holds).toBe(0);
    provider.close();
  });

  it("reads the user name from the token before the startup message, and takes it as the database", async () => {
    const { port, startups } = await start();
    const db = connect(
      { host: "localhost", port, ssl: TRUSTED },
      { tokenProvider: createFakeTokenProvider() },
    );
    await db.unsafe("select 1");
    expect(startups[0]).toMatchObject({ user: "canary-app", database: "canary-app" });
  });

  it.each([
    ["answers N", "N", /refused TLS/],
    ["sends data after S", "S+data", /sent data after agreeing to TLS/],
    ["asks for the password instead of answering S", "R", /instead of S or N/],
  ] as const)("refuses a server that %s, without a token", async (_name, tls, problem) => {
    const { port, passwords } = await start({ tls });
    const provider = createFakeTokenProvider();
    const db = connect({ host: "localhost", port, user: "app", ssl: TRUSTED }, { tokenProvider: provider });
    await expect(db.unsafe("select 1")).rejects.toMatchObject({
      name: "EntraAuthError",
      code: "INSECURE_TRANSPORT",
      message: expect.stringMatching(problem),
    });
    expect(provider.calls).toBe(0);
    expect(passwords).toEqual([]);
  });

  it.each([
    ['ssl: "require" (verified here, unlike libpq)', { host: "localhost", ssl: "require" as const }],
    ["a certificate for another name", { host: "127.0.0.1", ssl: TRUSTED }],
  ])("fails TLS verification with %s, without a token", async (_name, config) => {
    const { port, passwords } = await start();
    const provider = createFakeTokenProvider();
    const db = connect({ ...config, port, user: "app" }, { tokenProvider: provider });
    await expect(db.unsafe("select 1")).rejects.toThrow(/self-signed|does not match|altnames/i);
    expect(provider.calls).toBe(0);
    expect(passwords).toEqual([]);
  });

  it("explains a refused token and drops it, so the next connection fetches a new one", async () => {
    const { port } = await start({ reject: EXPIRED });
    const provider = createFakeTokenProvider();
    const db = connect({ host: "localhost", port, user: "app", ssl: TRUSTED }, { tokenProvider: provider });
    const error = await db.unsafe("select 1").catch((caught: Error) => caught);
    expect(error).toBeInstanceOf(postgres.PostgresError);
    expect(error).toMatchObject({ code: "28000", message: expect.stringContaining(EXPIRED) });
    expect((error as Error).message).toMatch(/\[@org\/postgres-entra TOKEN_EXPIRED\]/);
    expect((error as Error).message).not.toContain(CANARY_TOKEN);
    expect(provider.invalidations).toBe(1);
  });

  it("fails the query with the EntraAuthError when no token can be had, and sends no password", async () => {
    const { port, passwords } = await start();
    const failure = new EntraAuthError("CREDENTIAL_FAILED", "No managed identity endpoint answered.");
    const db = connect(
      { host: "localhost", port, user: "app", ssl: TRUSTED },
      { tokenProvider: createFakeTokenProvider({ error: failure }) },
    );
    await expect(db.unsafe("select 1")).rejects.toBe(failure);
    expect(passwords).toEqual([]);
  });

  it("refuses options whose ssl was set after withEntra, before connecting", async () => {
    const server = await start();
    sql = postgres({
      ...withEntra(
        { host: "localhost", port: server.port, user: "app" },
        { tokenProvider: createFakeTokenProvider(), env: {} },
      ),
      ssl: "require",
    });
    await expect(sql.unsafe("select 1")).rejects.toMatchObject({ code: "INVALID_SETTING" });
    expect(server.connections).toBe(0);
  });

  it("gives up connecting after connect_timeout when the server does not answer", async () => {
    const { port } = await start({ tls: "silent" });
    const db = connect(
      { host: "localhost", port, user: "app", ssl: TRUSTED, connect_timeout: 0.05 },
      { tokenProvider: createFakeTokenProvider() },
    );
    await expect(db.unsafe("select 1")).rejects.toMatchObject({ code: "CONNECT_TIMEOUT" });
  });

  it("hands no token to a password request from a connection it did not open", async () => {
    const provider = createFakeTokenProvider();
    const { password } = withEntra({ host: "localhost", user: "app" }, { tokenProvider: provider, env: {} });
    await expect((password as () => Promise<string>)()).rejects.toMatchObject({ code: "INSECURE_TRANSPORT" });
    expect(provider.calls).toBe(0);
  });

  it("signs in over plaintext only with allowInsecure", async () => {
    const { port, passwords } = await start();
    const db = connect(
      { host: "localhost", port, user: "app", ssl: false },
      { tokenProvider: createFakeTokenProvider(), allowInsecure: true },
    );
    await db.unsafe("select 1");
    expect(passwords).toEqual([CANARY_TOKEN]);
  });
});
