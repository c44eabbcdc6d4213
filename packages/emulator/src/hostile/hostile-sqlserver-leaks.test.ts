import { connect as netConnect } from "node:net";
import { Duplex } from "node:stream";
import { type TLSSocket, connect as tlsConnect } from "node:tls";
import { buildPackets, Encryption, parsePrelogin, TdsMessageReader, TdsPacketType } from "@org/entra-wire";
import { Connection, type ConnectionConfiguration } from "tedious";
import { afterEach, describe, expect, test } from "vitest";
import { canaryToken, wholeLeak } from "./hostile-test-fixture.js";
import { type HostileMode, type HostileServer, startHostileServer } from "./start-hostile-server.js";

const token = canaryToken();
const servers: HostileServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function hostile(mode: HostileMode): Promise<HostileServer> {
  const server = await startHostileServer({ engine: "sqlserver", mode });
  servers.push(server);
  server.watch(token, "canary");
  return server;
}

/** tedious `token-credential` (the ADAL workflow: FEDAUTHINFO, then FEDAUTH_TOKEN). */
const tokenCredential: ConnectionConfiguration["authentication"] = {
  type: "token-credential",
  options: {
    credential: { getToken: async () => ({ token, expiresOnTimestamp: Date.now() + 3_600_000 }) },
  },
};

/** Connects with tedious and returns the login error (a hostile server never lets a login succeed). */
function tediousLogin(
  server: HostileServer,
  options: NonNullable<ConnectionConfiguration["options"]>,
  authentication: ConnectionConfiguration["authentication"] = tokenCredential,
): Promise<Error & { code?: string }> {
  return new Promise((resolve, reject) => {
    const connection = new Connection({
      server: "localhost",
      authentication,
      options: { port: server.port, database: "app", connectTimeout: 5_000, ...options },
    });
    connection.on("error", () => {});
    connection.connect((error) => {
      connection.close();
      if (error) resolve(error);
      else reject(new Error("login unexpectedly succeeded"));
    });
  });
}

describe("tedious clients that would leak are recorded", () => {
  test("encrypt: true with trustServerCertificate sends the token (UTF-16LE) to an untrusted certificate", async () => {
    const server = await hostile("untrusted-certificate");
    const error = await tediousLogin(server, { encrypt: true, trustServerCertificate: true });
    expect(error).toMatchObject({ code: "ELOGIN" });
    expect(error.message).toMatch(/Login failed for user '<token-identified principal>'/);
    expect(server.leaks()).toEqual([wholeLeak("canary")]);
  });

  test("a token inside LOGIN7 (azure-active-directory-access-token) is recorded as well", async () => {
    const server = await hostile("untrusted-certificate");
    await tediousLogin(
      server,
      { encrypt: true, trustServerCertificate: true },
      { type: "azure-active-directory-access-token", options: { token } },
    );
    expect(server.leaks()).toEqual([wholeLeak("canary")]);
  });

  test("encrypt: true (not strict) logs in without TLS when tls-stripped says ENCRYPT_NOT_SUP", async () => {
    const server = await hostile("tls-stripped");
    await tediousLogin(server, {
      encrypt: true,
      trustServerCertificate: false,
      cryptoCredentialsDetails: { ca: server.ca },
    });
    expect(server.leaks()).toEqual([wholeLeak("canary")]);
  });

  test("encrypt: true logs in without TLS when cleartext-first says ENCRYPT_OFF", async () => {
    const server = await hostile("cleartext-first");
    await tediousLogin(server, {
      encrypt: true,
      trustServerCertificate: false,
      cryptoCredentialsDetails: { ca: server.ca },
    });
    expect(server.leaks()).toEqual([wholeLeak("canary")]);
  });
});

describe("strict (TDS 8) tedious clients with the trusted CA send nothing", () => {
  test.each<HostileMode>(["wrong-host", "untrusted-certificate", "tls-stripped", "cleartext-first"])(
    "against %s",
    async (mode) => {
      const server = await hostile(mode);
      const error = await tediousLogin(server, {
        encrypt: "strict",
        trustServerCertificate: false,
        cryptoCredentialsDetails: { ca: server.ca },
      });
      expect(error).toMatchObject({ code: "ESOCKET" });
      expect(server.connections).toBe(1);
      expect(server.leaks()).toEqual([]);
    },
  );
});

describe("TLS inside PRELOGIN after ENCRYPT_OFF", () => {
  test("cleartext-first completes the handshake and records what arrives inside TLS", async () => {
    const server = await hostile("cleartext-first");
    const client = await preloginTlsClient(server.port);
    expect(client.serverEncryption).toBe(Encryption.off);
    // Not a valid LOGIN7: the bytes are recorded once decrypted, then the server gives up.
    client.secure.write(buildPackets(TdsPacketType.login7, Buffer.from(token, "utf16le")));
    await new Promise((resolve) => client.secure.once("close", resolve));
    expect(server.leaks()).toEqual([wholeLeak("canary")]);
  });
});

/**
 * A minimal TDS 7.x client side of TLS inside PRELOGIN: sends a PRELOGIN asking for encryption,
 * then runs a TLS 1.2 handshake wrapped in PRELOGIN packets, then TLS directly on TCP.
 */
async function preloginTlsClient(
  port: number,
): Promise<{ serverEncryption: number | undefined; secure: TLSSocket }> {
  const socket = netConnect({ host: "127.0.0.1", port });
  await new Promise((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  socket.write(
    buildPackets(TdsPacketType.prelogin, Buffer.from([0x01, 0x00, 0x06, 0x00, 0x01, 0xff, Encryption.on])),
  );
  const reader = new TdsMessageReader(1 << 20);
  const response = await new Promise<Buffer>((resolve) => {
    const onData = (chunk: Buffer) => {
      reader.push(chunk);
      const message = reader.readMessage();
      if (message) {
        socket.off("data", onData);
        resolve(message.payload);
      }
    };
    socket.on("data", onData);
  });
  let handshaking = true;
  const duplex = new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, callback) {
      socket.write(handshaking ? buildPackets(TdsPacketType.prelogin, chunk) : chunk, callback);
    },
  });
  socket.on("data", (chunk: Buffer) => {
    if (!handshaking) {
      duplex.push(chunk);
      return;
    }
    reader.push(chunk);
    for (let message = reader.readMessage(); message; message = reader.readMessage())
      duplex.push(message.payload);
  });
  socket.on("close", () => duplex.destroy());
  const secure = tlsConnect({ socket: duplex as never, rejectUnauthorized: false, maxVersion: "TLSv1.2" });
  secure.on("error", () => {});
  await new Promise((resolve) => secure.once("secureConnect", resolve));
  handshaking = false;
  return { serverEncryption: parsePrelogin(response).encryption, secure };
}
