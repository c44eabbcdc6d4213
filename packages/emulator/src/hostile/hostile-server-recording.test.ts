import { connect as tlsConnect } from "node:tls";
import { inspect } from "node:util";
import { buildPasswordMessage, buildRequestPacket, buildStartupMessage } from "@org/entra-wire";
import { afterEach, describe, expect, test } from "vitest";
import { openRaw } from "../raw-test-connection.js";
import { createCertificateAuthority } from "../tls-authority.js";
import { canaryToken, wholeLeak } from "./hostile-test-fixture.js";
import { type HostileServer, startHostileServer } from "./start-hostile-server.js";

const servers: HostileServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function track(server: Promise<HostileServer>): Promise<HostileServer> {
  servers.push(await server);
  return server;
}

/** Logs in to a hostile PostgreSQL server without TLS with `password`, in `pieces` writes. */
async function sendPassword(server: HostileServer, password: string, pieces = 1): Promise<Buffer> {
  const raw = await openRaw(server.port);
  raw.socket.write(buildStartupMessage([["user", "app"]]));
  await raw.received(9); // AuthenticationCleartextPassword
  const message = buildPasswordMessage(password);
  const size = Math.ceil(message.length / pieces);
  for (let offset = 0; offset < message.length; offset += size) {
    raw.socket.write(message.subarray(offset, offset + size));
    await new Promise((resolve) => setImmediate(resolve));
  }
  return raw.closed;
}

describe("what a hostile server records", () => {
  test("secrets given at start are labelled secret-1, secret-2, then watch() continues the count", async () => {
    const [first, second, third] = [canaryToken(), canaryToken(), canaryToken()];
    const server = await track(
      startHostileServer({ engine: "postgresql", mode: "tls-stripped", secrets: [first, second] }),
    );
    server.watch(third);
    await sendPassword(server, `${second} ${third}`);
    expect(server.leaks()).toEqual([wholeLeak("secret-2"), wholeLeak("secret-3")]);
  });

  test("a token split over several TCP segments is still found", async () => {
    const token = canaryToken();
    const server = await track(
      startHostileServer({ engine: "postgresql", mode: "tls-stripped", secrets: [token] }),
    );
    await sendPassword(server, token, 7);
    expect(server.leaks()).toEqual([wholeLeak("secret-1")]);
  });

  test("counts connections and bytes, and reset() forgets them but keeps the watched secrets", async () => {
    const token = canaryToken();
    const server = await track(startHostileServer({ engine: "postgresql", mode: "tls-stripped" }));
    server.watch(token, "canary");
    await sendPassword(server, token);
    await sendPassword(server, "not-it");
    expect(server.connections).toBe(2);
    expect(server.bytesReceived).toBeGreaterThan(token.length);
    expect(server.leaks()).toEqual([wholeLeak("canary")]);
    server.reset();
    expect([server.connections, server.bytesReceived, server.leaks()]).toEqual([0, 0, []]);
    await sendPassword(server, "not-it");
    await sendPassword(server, token);
    expect(server.leaks()).toEqual([wholeLeak("canary", 2)]);
  });

  test("neither util.inspect nor JSON of the server show a watched secret, even after a leak", async () => {
    const token = canaryToken();
    const server = await track(
      startHostileServer({ engine: "postgresql", mode: "tls-stripped", secrets: [token] }),
    );
    await sendPassword(server, token);
    const [, payload] = token.split(".");
    for (const text of [
      inspect(server, { depth: 10, showHidden: true, getters: true }),
      JSON.stringify(server),
      JSON.stringify(server.leaks()),
    ]) {
      expect(text).not.toContain(payload);
    }
    expect(() => server.watch("")).toThrow(TypeError);
  });

  test("a client that stays quiet gets the authentication failure after the idle timeout", async () => {
    const server = await track(
      startHostileServer({ engine: "postgresql", mode: "untrusted-certificate", idleTimeoutInMs: 100 }),
    );
    const raw = await openRaw(server.port);
    raw.socket.write(buildStartupMessage([["user", "app"]]));
    const received = await raw.closed;
    expect(received.subarray(9, 10).toString()).toBe("E");
    expect(received.toString("latin1")).toContain("28P01");
  });
});

describe("certificates", () => {
  test("wrong-host presents a certificate from the given authority for the impostor name only", async () => {
    const authority = await createCertificateAuthority();
    const server = await track(
      startHostileServer({
        engine: "postgresql",
        mode: "wrong-host",
        authority,
        impostorName: "db.impostor.test",
      }),
    );
    expect(server.ca).toBe(authority.ca);
    const raw = await openRaw(server.port);
    raw.socket.write(buildRequestPacket({ kind: "ssl-request" }));
    expect((await raw.received(1)).toString()).toBe("S");
    const secure = tlsConnect({ socket: raw.socket, ca: server.ca, servername: "db.impostor.test" });
    await new Promise((resolve, reject) => secure.once("secureConnect", resolve).once("error", reject));
    expect(secure.authorized).toBe(true);
    secure.destroy();
  });

  test("without an authority a fresh CA is made and readable from ca", async () => {
    const server = await track(startHostileServer({ engine: "mysql", mode: "tls-stripped" }));
    expect(server.ca).toMatch(/^-----BEGIN CERTIFICATE-----/);
    expect(server).toMatchObject({
      engine: "mysql",
      mode: "tls-stripped",
      persona: "mysql8",
      host: "127.0.0.1",
    });
  });
});

describe("lifecycle and options", () => {
  test("close() is idempotent and await using closes the server", async () => {
    let port = 0;
    {
      await using server = await startHostileServer({ engine: "sqlserver", mode: "tls-stripped" });
      port = server.port;
      await server.close();
    }
    await expect(openRaw(port)).rejects.toThrow(/ECONNREFUSED/);
  });

  test("close() destroys open connections", async () => {
    const server = await startHostileServer({ engine: "mysql", mode: "untrusted-certificate" });
    const raw = await openRaw(server.port);
    await raw.received(4);
    await server.close();
    await raw.closed;
  });

  test("a persona on an engine other than mysql, or an unknown mode, is refused", async () => {
    await expect(
      startHostileServer({ engine: "postgresql", mode: "wrong-host", persona: "mariadb" }),
    ).rejects.toThrow(TypeError);
    await expect(startHostileServer({ engine: "mysql", mode: "downgrade" as never })).rejects.toThrow(
      TypeError,
    );
  });
});
