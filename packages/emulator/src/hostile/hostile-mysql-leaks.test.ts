import { execFile } from "node:child_process";
import { MysqlCapability, parseHandshake } from "@org/entra-wire";
import mysql from "mysql2/promise";
import { afterEach, describe, expect, test } from "vitest";
import { openRaw } from "../raw-test-connection.js";
import { canaryToken, pemFile, wholeLeak } from "./hostile-test-fixture.js";
import {
  type HostileMode,
  type HostilePersona,
  type HostileServer,
  startHostileServer,
} from "./start-hostile-server.js";

const token = canaryToken();
const servers: HostileServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function hostile(mode: HostileMode, persona?: HostilePersona): Promise<HostileServer> {
  const server = await startHostileServer({ engine: "mysql", mode, persona });
  servers.push(server);
  server.watch(token, "canary");
  return server;
}

/** Connects with mysql2 (the token from its cleartext plugin) and returns the login error. */
async function mysql2Login(
  server: HostileServer,
  config: mysql.ConnectionOptions,
): Promise<Error & { errno?: number; code?: string }> {
  try {
    const connection = await mysql.createConnection({
      host: "localhost",
      port: server.port,
      user: "app@contoso",
      database: "app",
      connectTimeout: 5_000,
      authPlugins: { mysql_clear_password: () => () => Buffer.from(`${token}\0`) },
      ...config,
    });
    connection.destroy();
  } catch (error) {
    return error as Error;
  }
  throw new Error("login unexpectedly succeeded");
}

async function greetingOf(server: HostileServer) {
  const raw = await openRaw(server.port);
  const head = await raw.received(4);
  const length = head.readUIntLE(0, 3);
  const greeting = parseHandshake((await raw.received(4 + length)).subarray(4, 4 + length));
  raw.socket.destroy();
  return greeting;
}

describe("the greeting", () => {
  test("mysql8 (the default) claims MySQL 8.0.42 with caching_sha2_password", async () => {
    const server = await hostile("untrusted-certificate");
    expect(server.persona).toBe("mysql8");
    const greeting = await greetingOf(server);
    expect(greeting).toMatchObject({
      serverVersion: "8.0.42",
      extendedCapabilities: 0,
      authPluginName: "caching_sha2_password",
    });
    for (const bit of ["longPassword", "ssl", "protocol41", "pluginAuth", "deprecateEof"] as const) {
      expect(greeting.capabilities & MysqlCapability[bit]).toBe(MysqlCapability[bit]);
    }
  });

  test("mariadb claims MariaDB 11.4.5 with extended capabilities and mysql_native_password", async () => {
    const greeting = await greetingOf(await hostile("wrong-host", "mariadb"));
    expect(greeting).toMatchObject({
      serverVersion: "11.4.5-MariaDB",
      extendedCapabilities: 0x1d,
      authPluginName: "mysql_native_password",
    });
    expect(greeting.capabilities & MysqlCapability.longPassword).toBe(0);
    expect(greeting.capabilities & MysqlCapability.ssl).toBe(MysqlCapability.ssl);
  });

  test.each<HostileMode>(["tls-stripped", "cleartext-first"])("%s does not offer TLS", async (mode) => {
    const greeting = await greetingOf(await hostile(mode));
    expect(greeting.capabilities & MysqlCapability.ssl).toBe(0);
    expect(greeting.authPluginName).toBe(
      mode === "cleartext-first" ? "mysql_clear_password" : "caching_sha2_password",
    );
  });
});

describe("mysql2 clients that would leak are recorded", () => {
  test.each<HostilePersona>(["mysql8", "mariadb"])(
    "TLS without verification against an untrusted certificate (%s) sends the whole token",
    async (persona) => {
      const server = await hostile("untrusted-certificate", persona);
      const error = await mysql2Login(server, { ssl: { rejectUnauthorized: false } });
      expect(error).toMatchObject({ errno: 1045, sqlState: "28000" });
      expect(server.leaks()).toEqual([wholeLeak("canary")]);
    },
  );

  test("no TLS against tls-stripped sends the token after the switch to mysql_clear_password", async () => {
    const server = await hostile("tls-stripped");
    await mysql2Login(server, {});
    expect(server.leaks()).toEqual([wholeLeak("canary")]);
  });

  test("mysql2 with enableCleartextPlugin and no TLS sends the password to cleartext-first", async () => {
    const server = await hostile("cleartext-first");
    await mysql2Login(server, { authPlugins: undefined, password: token, enableCleartextPlugin: true });
    expect(server.leaks()).toEqual([wholeLeak("canary")]);
  });
});

describe("verifying mysql2 clients send nothing", () => {
  test.each<[HostileMode, HostilePersona]>([
    ["wrong-host", "mysql8"],
    ["wrong-host", "mariadb"],
    ["untrusted-certificate", "mysql8"],
  ])("against %s (%s) TLS fails", async (mode, persona) => {
    const server = await hostile(mode, persona);
    const error = await mysql2Login(server, { ssl: { ca: server.ca, verifyIdentity: true } });
    expect(error.code).toBe("HANDSHAKE_SSL_ERROR");
    expect(server.leaks()).toEqual([]);
  });

  test("against tls-stripped the client refuses a server without TLS", async () => {
    const server = await hostile("tls-stripped");
    const error = await mysql2Login(server, { ssl: { ca: server.ca, verifyIdentity: true } });
    expect(error.code).toBe("HANDSHAKE_NO_SSL_SUPPORT");
    expect(server.leaks()).toEqual([]);
  });
});

/** Runs the mariadb CLI against the hostile server; resolves with its stderr (it always fails to log in). */
function mariadbCli(server: HostileServer, options: readonly string[]): Promise<string> {
  return new Promise((resolve) => {
    execFile(
      "mariadb",
      [
        "-h",
        "localhost",
        "-P",
        String(server.port),
        "-u",
        "app",
        `-p${token}`,
        "--connect-timeout=5",
        ...options,
        "-e",
        "select 1",
      ],
      { timeout: 10_000 },
      (_error, _stdout, stderr) => resolve(stderr),
    );
  });
}

describe("the mariadb CLI", () => {
  test("with its defaults sends the password to cleartext-first", async () => {
    const server = await hostile("cleartext-first");
    expect(await mariadbCli(server, [])).toMatch(/ERROR 1045/);
    expect(server.leaks()).toEqual([wholeLeak("canary")]);
  });

  test("--ssl-verify-server-cert with the trusted CA sends nothing to wrong-host", async () => {
    const server = await hostile("wrong-host");
    const ca = await pemFile(server.ca);
    try {
      expect(await mariadbCli(server, ["--ssl", "--ssl-verify-server-cert", `--ssl-ca=${ca.path}`])).toMatch(
        /ERROR 2026/,
      );
    } finally {
      await ca.remove();
    }
    expect(server.leaks()).toEqual([]);
  });
});
