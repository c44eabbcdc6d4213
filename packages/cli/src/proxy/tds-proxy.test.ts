import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { createServer, type TLSSocket } from "node:tls";
import { createTlsAuthority, type TlsAuthority } from "@org/entra-emulator";
import {
  buildDone,
  buildLoginAck,
  buildPackets,
  buildPreloginResponse,
  Encryption,
  parseLogin7,
  TDS_VERSION_7_4,
  TdsMessageReader,
  TdsPacketType,
  TokenType,
} from "@org/entra-wire";
import { Connection, type ConnectionConfiguration, Request } from "tedious";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type ProxyFixture, startProxyFixture } from "./proxy-test-fixture.js";
import { type EntraProxy, startProxy } from "./start-proxy.js";

let fixture: ProxyFixture;
let authority: TlsAuthority;

beforeAll(async () => {
  authority = await createTlsAuthority();
  fixture = await startProxyFixture({ postgres: false, sqlserver: {}, tls: authority }, "sql");
});
afterAll(() => fixture.close());

function endpoint(): { host: string; port: number; database: string } {
  const sqlserver = fixture.emulator.sqlserver;
  if (!sqlserver) throw new Error("no Azure SQL endpoint");
  return sqlserver;
}

function startTdsProxy(options: Partial<Parameters<typeof startProxy>[0]> = {}): Promise<EntraProxy> {
  return startProxy({
    engine: "sqlserver",
    host: endpoint().host,
    port: endpoint().port,
    ca: fixture.emulator.ca,
    credential: fixture.credential,
    env: {},
    ...options,
  });
}

/** tedious with SQL authentication and no TLS, as a local client of the proxy connects. */
function localConfig(
  proxy: EntraProxy,
  options: { password?: string; database?: string; encrypt?: boolean | "strict" } = {},
): ConnectionConfiguration {
  return {
    server: options.encrypt === "strict" ? "localhost" : "127.0.0.1",
    authentication: { type: "default", options: { userName: "x", password: options.password ?? "dummy" } },
    options: {
      port: proxy.port,
      encrypt: options.encrypt ?? false,
      database: options.database ?? endpoint().database,
      cryptoCredentialsDetails: { ca: authority.ca },
      connectTimeout: 5_000,
      requestTimeout: 5_000,
      // tedious retries transient login errors (4060, 10928, ...) this often, 500 ms apart by default.
      connectionRetryInterval: 20,
    },
  };
}

function connect(config: ConnectionConfiguration): Promise<Connection> {
  return new Promise((resolve, reject) => {
    const connection = new Connection(config);
    connection.on("error", () => {});
    connection.connect((error) => {
      if (error) {
        connection.close();
        reject(error);
      } else resolve(connection);
    });
  });
}

function query(connection: Connection, sql: string): Promise<unknown[][]> {
  return new Promise((resolve, reject) => {
    const rows: unknown[][] = [];
    const request = new Request(sql, (error) => (error ? reject(error) : resolve(rows)));
    request.on("row", (row) => rows.push(row.map((cell: { value: unknown }) => cell.value)));
    connection.execSqlBatch(request);
  });
}

function close(connection: Connection): Promise<void> {
  if (connection.closed) return Promise.resolve();
  const ended = once(connection, "end").then(() => {});
  connection.close();
  return ended;
}

/** Connects, runs `sql` and closes; resolves with the rows or rejects with tedious's error. */
async function run(config: ConnectionConfiguration, sql: string): Promise<unknown[][]> {
  const connection = await connect(config);
  try {
    return await query(connection, sql);
  } finally {
    await close(connection);
  }
}

function sqlLogins(): number {
  const { loginsAccepted, loginsRejected } = fixture.emulator.counters.byEngine.sqlserver;
  return loginsAccepted + loginsRejected;
}

describe("the Azure SQL proxy", () => {
  test("tedious with SQL authentication and no TLS signs in as the identity, in its database", async () => {
    await using proxy = await startTdsProxy();
    const accepted = fixture.emulator.counters.byEngine.sqlserver.loginsAccepted;
    const connection = await connect(localConfig(proxy));
    try {
      expect(await query(connection, "SELECT 1")).toEqual([[1]]);
      expect(await query(connection, "SELECT SUSER_SNAME(), DB_NAME()")).toEqual([
        [fixture.emulator.identities[0]?.name, endpoint().database],
      ]);
      // ATTENTION travels through the relay and the upstream session stays usable.
      const waiting = query(connection, "WAITFOR DELAY '00:00:05'");
      setTimeout(() => connection.cancel(), 100);
      await expect(waiting).rejects.toMatchObject({ code: "ECANCEL" });
      expect(await query(connection, "SELECT 2")).toEqual([[2]]);
    } finally {
      await close(connection);
    }
    expect(fixture.emulator.counters.byEngine.sqlserver.loginsAccepted).toBe(accepted + 1);
    expect(proxy.stats).toMatchObject({ accepted: 1, refused: 0 });
  });

  test("three connections cost one token request; a client naming no database gets the configured one", async () => {
    const before = fixture.credential.calls;
    await using proxy = await startTdsProxy({ database: endpoint().database });
    const results = await Promise.all(
      [1, 2, 3].map(() => run(localConfig(proxy, { database: "" }), "SELECT DB_NAME()")),
    );
    expect(results).toEqual([1, 2, 3].map(() => [[endpoint().database]]));
    expect(fixture.credential.calls - before).toBeLessThanOrEqual(1);
  });

  test("with a local password, a wrong one is refused in a TDS login error and the right one works", async () => {
    await using proxy = await startTdsProxy({ localPassword: "local-secret" });
    const logins = sqlLogins();
    await expect(run(localConfig(proxy, { password: "wrong" }), "SELECT 1")).rejects.toMatchObject({
      code: "ELOGIN",
      message: expect.stringContaining("[LOCAL_PASSWORD]"),
    });
    expect(sqlLogins()).toBe(logins);
    await expect(run(localConfig(proxy, { password: "local-secret" }), "SELECT 1")).resolves.toEqual([[1]]);
    expect(proxy.stats).toMatchObject({ accepted: 1, refused: 1 });
  });

  test("an upstream certificate that is not trusted gets no token: the client reads INSECURE_TRANSPORT", async () => {
    await using proxy = await startTdsProxy({ ca: undefined });
    const logins = sqlLogins();
    const error = await run(localConfig(proxy), "SELECT 1").catch((e: Error) => e);
    expect(error).toMatchObject({ code: "ELOGIN", message: expect.stringContaining("[INSECURE_TRANSPORT]") });
    expect(sqlLogins()).toBe(logins);
  });

  test("a token the server refuses as expired is dropped: the client reads TOKEN_EXPIRED, the next login gets a new token", async () => {
    await using proxy = await startTdsProxy();
    await run(localConfig(proxy), "SELECT 1");
    const before = fixture.credential.calls;
    fixture.emulator.faults.sqlserver.rejectNextLogins(1, "expired");
    const error = await run(localConfig(proxy), "SELECT 1").catch((e: Error) => e);
    expect(error).toMatchObject({ code: "ELOGIN", message: expect.stringContaining("[TOKEN_EXPIRED]") });
    expect(String(error)).toContain("Token is expired.");
    expect(String(error)).not.toMatch(/eyJ[\w-]{20,}/);
    await expect(run(localConfig(proxy), "SELECT 1")).resolves.toEqual([[1]]);
    expect(fixture.credential.calls).toBe(before + 1);

    fixture.emulator.faults.sqlserver.rejectNextLogins(1, "invalid");
    await expect(run(localConfig(proxy), "SELECT 1")).rejects.toMatchObject({
      message: expect.stringContaining("[TOKEN_INVALID]"),
    });
  });

  test("the server's other refusals reach the client with their message and number (4060, which tedious retries)", async () => {
    await using proxy = await startTdsProxy();
    await expect(run(localConfig(proxy, { database: "elsewhere" }), "SELECT 1")).rejects.toMatchObject({
      code: "ELOGIN",
      message: expect.stringMatching(
        /refused the login: Cannot open database "elsewhere".* \[UPSTREAM_REFUSED\]/,
      ),
    });
  });

  test("a TDS 8 (strict) client gets TLS when the proxy has a certificate, and is dropped when it has none", async () => {
    await using secured = await startTdsProxy({ localTls: { key: authority.key, cert: authority.cert } });
    await expect(run(localConfig(secured, { encrypt: "strict" }), "SELECT SUSER_SNAME()")).resolves.toEqual([
      [fixture.emulator.identities[0]?.name],
    ]);
    await using plain = await startTdsProxy();
    await expect(run(localConfig(plain, { encrypt: "strict" }), "SELECT 1")).rejects.toThrow();
  });

  test("follows Azure SQL's redirect to the worker it names, verified as that name", async () => {
    const tokens: string[] = [];
    const gateway = createServer(
      { key: authority.key, cert: authority.cert, ALPNProtocols: ["tds/8.0"] },
      (socket) => redirectTo(socket, endpoint().port, tokens),
    );
    gateway.listen(0, "127.0.0.1");
    await once(gateway, "listening");
    try {
      await using proxy = await startTdsProxy({ port: (gateway.address() as AddressInfo).port });
      await expect(run(localConfig(proxy), "SELECT SUSER_SNAME()")).resolves.toEqual([
        [fixture.emulator.identities[0]?.name],
      ]);
      expect(tokens).toHaveLength(1);
      expect(tokens[0]).toMatch(/^eyJ/);
    } finally {
      gateway.close();
    }
  });
});

describe("redirects", () => {
  test("a redirect out of the server's DNS zone is refused: the worker it names gets no token", async () => {
    const tokens: string[] = [];
    const gateway = createServer(
      { key: authority.key, cert: authority.cert, ALPNProtocols: ["tds/8.0"] },
      (socket) => redirectTo(socket, endpoint().port, tokens, "worker.attacker.example"),
    );
    gateway.listen(0, "127.0.0.1");
    await once(gateway, "listening");
    try {
      await using proxy = await startTdsProxy({ port: (gateway.address() as AddressInfo).port });
      const counters = fixture.emulator.counters;
      await expect(run(localConfig(proxy), "SELECT 1")).rejects.toThrow(
        /redirected the login to worker\.attacker\.example.*\[INSECURE_TRANSPORT\]/,
      );
      expect(fixture.emulator.counters.loginsAccepted).toBe(counters.loginsAccepted);
    } finally {
      gateway.close();
    }
  });
});

/** A gateway that answers PRELOGIN, records LOGIN7's token and routes the client to `port`. */
function redirectTo(socket: TLSSocket, port: number, tokens: string[], server = "localhost"): void {
  const reader = new TdsMessageReader(1 << 20);
  socket.on("error", () => socket.destroy());
  socket.on("data", (chunk: Buffer) => {
    reader.push(chunk);
    for (let message = reader.readMessage(); message; message = reader.readMessage()) {
      if (message.type === TdsPacketType.prelogin) {
        const response = buildPreloginResponse({
          version: [12, 0, 2000, 0],
          encryption: Encryption.notSupported,
          fedAuthRequired: true,
        });
        socket.write(buildPackets(TdsPacketType.tabularResult, response));
        continue;
      }
      const login = parseLogin7(message.payload);
      if (login.fedAuth?.library === "securitytoken") tokens.push(login.fedAuth.token);
      const value = Buffer.alloc(7 + server.length * 2);
      value.writeUInt16LE(value.length - 2, 0);
      value.writeUInt16LE(port, 3);
      value.writeUInt16LE(server.length, 5);
      value.write(server, 7, "utf16le");
      const body = Buffer.concat([Buffer.from([20]), value, Buffer.from([0, 0])]);
      const head = Buffer.from([TokenType.envChange, 0, 0]);
      head.writeUInt16LE(body.length, 1);
      const ack = buildLoginAck({
        tdsVersion: TDS_VERSION_7_4,
        progName: "Microsoft SQL Server",
        version: [12, 0, 2000, 0],
      });
      socket.end(buildPackets(TdsPacketType.tabularResult, Buffer.concat([ack, head, body, buildDone()])));
    }
  });
}
