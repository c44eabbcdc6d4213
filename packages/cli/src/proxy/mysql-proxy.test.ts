import { spawn } from "node:child_process";
import { createServer, type Server, type Socket } from "node:net";
import { createSecureContext, TLSSocket } from "node:tls";
import { createTlsAuthority, type TlsAuthority } from "@org/entra-emulator";
import {
  buildAuthSwitchRequest,
  buildHandshake,
  buildPacket,
  MysqlCapability,
  type MysqlHandshakeResponse,
  MysqlPacketReader,
  parseClientFirstPacket,
} from "@org/entra-wire";
import mysql from "mysql2/promise";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { LOCAL_BACKENDS, type ProxyFixture, startProxyFixture } from "./proxy-test-fixture.js";
import { type EntraProxy, startProxy } from "./start-proxy.js";

let fixture: ProxyFixture;
let tls: TlsAuthority;

beforeAll(async () => {
  tls = await createTlsAuthority();
  fixture = await startProxyFixture({ postgres: false, mysql: { backend: LOCAL_BACKENDS.mysql }, tls });
});
afterAll(() => fixture.close());

function startMysqlProxy(options: Partial<Parameters<typeof startProxy>[0]> = {}): Promise<EntraProxy> {
  const gateway = fixture.emulator.mysql;
  if (!gateway) throw new Error("no MySQL gateway");
  return startProxy({
    engine: "mysql",
    host: gateway.host,
    port: gateway.port,
    database: gateway.database,
    ca: fixture.emulator.ca,
    credential: fixture.credential,
    env: {},
    ...options,
  });
}

function clientConfig(proxy: EntraProxy, overrides: mysql.ConnectionOptions = {}): mysql.ConnectionOptions {
  return {
    host: "127.0.0.1",
    port: proxy.port,
    user: "whoever",
    password: "not-a-token",
    database: "test",
    ...overrides,
  };
}

async function query<T>(config: mysql.ConnectionOptions, sql: string): Promise<T> {
  const connection = await mysql.createConnection(config);
  connection.on("error", () => {});
  try {
    const [rows] = await connection.query(sql);
    return (rows as T[])[0] as T;
  } finally {
    await connection.end().catch(() => connection.destroy());
  }
}

async function loginError(
  config: mysql.ConnectionOptions,
): Promise<Error & { errno?: number; sqlState?: string }> {
  const error = await query(config, "select 1").then(
    () => undefined,
    (e: Error) => e,
  );
  if (!error) throw new Error("login unexpectedly succeeded");
  return error;
}

/** Logins the emulator's MySQL gateway accepted or refused so far. */
function mysqlLogins(): number {
  const { loginsAccepted, loginsRejected } = fixture.emulator.counters.byEngine.mysql;
  return loginsAccepted + loginsRejected;
}

/** What a scripted upstream server received: every byte (decrypted after TLS) and the HandshakeResponse. */
interface FakeUpstream {
  readonly port: number;
  readonly received: Buffer[];
  response: MysqlHandshakeResponse | undefined;
  close(): Promise<void>;
}

/**
 * A scripted MySQL server on `localhost` with the test CA's certificate: it greets (with or
 * without `CLIENT_SSL`), takes SSLRequest to TLS, reads the HandshakeResponse and asks for
 * `caching_sha2_password`, a plugin the token must never be hashed or encrypted for.
 */
async function startFakeUpstream(offerSsl: boolean): Promise<FakeUpstream> {
  const sockets = new Set<Socket>();
  const upstream: FakeUpstream = { port: 0, received: [], response: undefined, close: async () => {} };
  const server: Server = createServer((raw) => {
    sockets.add(raw);
    raw.on("error", () => {});
    const reader = new MysqlPacketReader();
    const capabilities =
      MysqlCapability.longPassword |
      MysqlCapability.protocol41 |
      MysqlCapability.secureConnection |
      MysqlCapability.pluginAuth |
      MysqlCapability.transactions |
      MysqlCapability.connectWithDb |
      (offerSsl ? MysqlCapability.ssl : 0);
    raw.write(
      buildPacket(
        0,
        buildHandshake({
          protocolVersion: 10,
          serverVersion: "8.0.42",
          connectionId: 7,
          authPluginData: Buffer.alloc(20, 0x61),
          capabilities,
          extendedCapabilities: 0,
          characterSet: 255,
          statusFlags: 2,
          authPluginName: "caching_sha2_password",
        }),
      ),
    );
    let socket: Socket = raw;
    const onData = (chunk: Buffer) => {
      upstream.received.push(chunk);
      reader.push(chunk);
      for (let packet = reader.readPacket(1 << 20); packet; packet = reader.readPacket(1 << 20)) {
        const first = parseClientFirstPacket(packet.payload);
        if (first.kind === "ssl-request") {
          raw.pause();
          raw.off("data", onData);
          const pending = reader.takeRemainder();
          if (pending.length > 0) raw.unshift(pending);
          socket = new TLSSocket(raw, {
            isServer: true,
            secureContext: createSecureContext({ key: tls.key, cert: tls.cert }),
          });
          socket.on("error", () => {});
          socket.on("data", onData);
          return;
        }
        upstream.response = first;
        socket.write(
          buildPacket(
            packet.sequenceId + 1,
            buildAuthSwitchRequest("caching_sha2_password", Buffer.alloc(21, 0x62)),
          ),
        );
      }
    };
    raw.on("data", onData);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  return Object.assign(upstream, {
    port: typeof address === "object" && address ? address.port : 0,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  });
}

describe("the MySQL proxy", () => {
  test("mysql2 without TLS or token signs in as the identity, with its database", async () => {
    await using proxy = await startMysqlProxy();
    const row = await query<{ one: number; who: string; db: string }>(
      clientConfig(proxy),
      "select 1 as one, current_user() as who, database() as db",
    );
    expect(row).toEqual({ one: 1, who: `${fixture.emulator.identities[0]?.name}@%`, db: "test" });
    expect(proxy.stats).toMatchObject({ accepted: 1, refused: 0 });
  });

  test("with a local password, a wrong one is refused with 1045 and the right one works in cleartext", async () => {
    await using proxy = await startMysqlProxy({ localPassword: "local-secret" });
    const error = await loginError(clientConfig(proxy, { password: "wrong", enableCleartextPlugin: true }));
    expect(error).toMatchObject({
      errno: 1045,
      sqlState: "28000",
      message: expect.stringContaining("[LOCAL_PASSWORD]"),
    });
    const row = await query<{ one: number }>(
      clientConfig(proxy, { password: "local-secret", enableCleartextPlugin: true }),
      "select 1 as one",
    );
    expect(row).toEqual({ one: 1 });
    expect(proxy.stats).toMatchObject({ accepted: 1, refused: 1 });
  });

  test("with a local certificate, a client asking for TLS gets it (and sends the local password inside)", async () => {
    await using proxy = await startMysqlProxy({
      localTls: { key: tls.key, cert: tls.cert },
      localPassword: "pw",
    });
    const row = await query<{ two: number }>(
      clientConfig(proxy, {
        host: "localhost",
        password: "pw",
        ssl: { ca: tls.ca },
        authPlugins: { mysql_clear_password: () => () => Buffer.from("pw\0") },
      }),
      "select 2 as two",
    );
    expect(row).toEqual({ two: 2 });
  });

  test("an upstream certificate that is not trusted gets no token: the client reads INSECURE_TRANSPORT", async () => {
    const before = mysqlLogins();
    await using proxy = await startMysqlProxy({ ca: undefined });
    const error = await loginError(clientConfig(proxy));
    expect(error).toMatchObject({ errno: 1045, message: expect.stringContaining("[INSECURE_TRANSPORT]") });
    expect(mysqlLogins()).toBe(before);
  });

  test("an unreachable upstream answers the client with an ERR instead of a greeting", async () => {
    await using proxy = await startMysqlProxy({ port: 1 });
    const error = await loginError(clientConfig(proxy));
    expect(error.message).toContain("[UPSTREAM_UNREACHABLE]");
  });

  test("a token the server refuses as expired is dropped: the client reads TOKEN_EXPIRED, the next login gets a new token", async () => {
    await using proxy = await startMysqlProxy();
    await query(clientConfig(proxy), "select 1");
    const before = fixture.credential.calls;
    fixture.emulator.faults.mysql.rejectNextLogins(1, "expired");
    const error = await loginError(clientConfig(proxy));
    expect(error).toMatchObject({ errno: 1045, message: expect.stringContaining("[TOKEN_EXPIRED]") });
    expect(error.message).not.toMatch(/eyJ[\w-]{20,}/);
    await expect(query(clientConfig(proxy), "select 1 as one")).resolves.toEqual({ one: 1 });
    expect(fixture.credential.calls).toBe(before + 1);
  });

  test("the greeting carries the upstream thread id, so KILL QUERY through the proxy interrupts a query", async () => {
    await using proxy = await startMysqlProxy();
    const sleeper = await mysql.createConnection(clientConfig(proxy));
    sleeper.on("error", () => {});
    try {
      const [[ids]] = (await sleeper.query("select connection_id() as id")) as unknown as [[{ id: number }]];
      expect(ids.id).toBe(sleeper.threadId);
      const started = Date.now();
      const sleeping = sleeper.query("select sleep(30) as slept").then(
        ([rows]) => rows as Array<{ slept: number }>,
        (error: Error & { errno?: number }) => error,
      );
      await new Promise((resolve) => setTimeout(resolve, 300));
      await query(clientConfig(proxy), `KILL QUERY ${sleeper.threadId}`);
      const outcome = await sleeping;
      expect(Date.now() - started).toBeLessThan(10_000);
      // MariaDB returns 1 from an interrupted SLEEP; MySQL raises 1317.
      if (outcome instanceof Error) expect(outcome.errno).toBe(1317);
      else expect(outcome).toEqual([{ slept: 1 }]);
    } finally {
      sleeper.destroy();
    }
  });

  test("the mariadb command-line client without a password runs a query", async () => {
    await using proxy = await startMysqlProxy();
    const args = [
      "--host",
      "127.0.0.1",
      "--port",
      String(proxy.port),
      "--user",
      "x",
      "--skip-ssl",
      "-N",
      "-B",
    ];
    const result = await new Promise<{ code: number | null; out: string; err: string }>((resolve, reject) => {
      const child = spawn("/usr/bin/mariadb", [...args, "-e", "select 40 + 2"], {
        stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "";
      let err = "";
      child.stdout.on("data", (chunk: Buffer) => {
        out += chunk.toString();
      });
      child.stderr.on("data", (chunk: Buffer) => {
        err += chunk.toString();
      });
      child.on("error", reject);
      child.on("close", (code) => resolve({ code, out, err }));
    });
    expect(result).toEqual({ code: 0, out: "42\n", err: "" });
  });

  test("an upstream that offers no TLS gets nothing: the client reads INSECURE_TRANSPORT instead of a greeting", async () => {
    const upstream = await startFakeUpstream(false);
    try {
      await using proxy = await startMysqlProxy({ host: "localhost", port: upstream.port, ca: tls.ca });
      const error = await loginError(clientConfig(proxy));
      expect(error.message).toContain("[INSECURE_TRANSPORT]");
      expect(error.message).toContain("offers no TLS");
      expect(Buffer.concat(upstream.received)).toHaveLength(0);
    } finally {
      await upstream.close();
    }
  });

  test("a verified upstream that asks for another plugin than mysql_clear_password gets no form of the token", async () => {
    const upstream = await startFakeUpstream(true);
    try {
      await using proxy = await startMysqlProxy({ host: "localhost", port: upstream.port, ca: tls.ca });
      const error = await loginError(clientConfig(proxy));
      expect(error).toMatchObject({ errno: 1251, message: expect.stringContaining("[UPSTREAM_REFUSED]") });
      expect(upstream.response).toMatchObject({
        user: fixture.emulator.identities[0]?.name,
        database: "test",
        authResponse: Buffer.alloc(0),
      });
      expect((upstream.response?.capabilities ?? 0) & MysqlCapability.ssl).toBeTruthy();
      expect(Buffer.concat(upstream.received).toString("latin1")).not.toMatch(/eyJ[\w-]{20,}/);
    } finally {
      await upstream.close();
    }
  });
});
