import { execFile } from "node:child_process";
import pg from "pg";
import { afterEach, describe, expect, test } from "vitest";
import { canaryToken, pemFile, wholeLeak } from "./hostile-test-fixture.js";
import { type HostileMode, type HostileServer, startHostileServer } from "./start-hostile-server.js";

const token = canaryToken();
const servers: HostileServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function hostile(mode: HostileMode): Promise<HostileServer> {
  const server = await startHostileServer({ engine: "postgresql", mode });
  servers.push(server);
  server.watch(token, "canary");
  return server;
}

/** Connects with node-postgres and returns the error (a hostile server never lets a login succeed). */
async function pgLogin(server: HostileServer, ssl: pg.ClientConfig["ssl"]): Promise<Error> {
  const client = new pg.Client({
    host: "localhost",
    port: server.port,
    user: "app@contoso",
    database: "app",
    password: token,
    ssl,
    connectionTimeoutMillis: 5_000,
  });
  client.on("error", () => {});
  try {
    await client.connect();
  } catch (error) {
    return error as Error;
  } finally {
    await client.end().catch(() => {});
  }
  throw new Error("login unexpectedly succeeded");
}

describe("node-postgres clients that would leak are recorded", () => {
  test("TLS without verification against an untrusted certificate sends the whole token", async () => {
    const server = await hostile("untrusted-certificate");
    const error = await pgLogin(server, { rejectUnauthorized: false });
    expect(error).toMatchObject({ code: "28P01" });
    expect(server.leaks()).toEqual([wholeLeak("canary")]);
  });

  test("no TLS against a server that refuses TLS sends the whole token", async () => {
    const server = await hostile("tls-stripped");
    await pgLogin(server, false);
    expect(server.leaks()).toEqual([wholeLeak("canary")]);
  });

  test("a client that checks the chain but not the host name leaks to the wrong-host certificate", async () => {
    const server = await hostile("wrong-host");
    await pgLogin(server, { ca: server.ca, checkServerIdentity: () => undefined });
    expect(server.leaks()).toEqual([wholeLeak("canary")]);
  });
});

describe("verifying node-postgres clients send nothing", () => {
  test.each<HostileMode>(["wrong-host", "untrusted-certificate"])("against %s TLS fails", async (mode) => {
    const server = await hostile(mode);
    const error = await pgLogin(server, { ca: server.ca });
    expect(error.message).toMatch(/altnames|self[- ]signed/);
    expect(server.connections).toBe(1);
    expect(server.leaks()).toEqual([]);
  });

  test("against tls-stripped the client refuses to continue without TLS", async () => {
    const server = await hostile("tls-stripped");
    const error = await pgLogin(server, { ca: server.ca });
    expect(error.message).toMatch(/does not support SSL/);
    expect(server.leaks()).toEqual([]);
  });

  test("against cleartext-first the client refuses an authentication request instead of 'S'", async () => {
    const server = await hostile("cleartext-first");
    await pgLogin(server, { rejectUnauthorized: false });
    expect(server.leaks()).toEqual([]);
    expect(server.bytesReceived).toBe(8); // the SSLRequest, nothing more
  });
});

test("the README example: a verifying config sends nothing in any mode", async () => {
  for (const mode of ["wrong-host", "untrusted-certificate", "tls-stripped", "cleartext-first"] as const) {
    await using server = await startHostileServer({ engine: "postgresql", mode, secrets: [token] });
    const client = new pg.Client({
      host: "localhost",
      port: server.port,
      user: "app",
      password: token,
      ssl: { ca: server.ca },
      connectionTimeoutMillis: 5_000,
    });
    await expect(client.connect()).rejects.toThrow();
    expect(server.connections).toBe(1);
    expect(server.leaks()).toEqual([]);
  }
});

/** Runs psql against the hostile server; resolves with its stderr (it always fails to log in). */
function psql(server: HostileServer, connection: string): Promise<string> {
  return new Promise((resolve) => {
    execFile(
      "psql",
      [
        "-w",
        "-X",
        "-c",
        "select 1",
        `host=localhost port=${server.port} user=app dbname=app connect_timeout=5 ${connection}`,
      ],
      { env: { ...process.env, PGPASSWORD: token, PGGSSENCMODE: "disable" }, timeout: 10_000 },
      (_error, _stdout, stderr) => resolve(stderr),
    );
  });
}

describe("the psql CLI", () => {
  test("sslmode=require sends the token to an untrusted certificate", async () => {
    const server = await hostile("untrusted-certificate");
    expect(await psql(server, "sslmode=require")).toMatch(/password authentication failed/);
    expect(server.leaks()).toEqual([wholeLeak("canary")]);
  });

  test.each<HostileMode>(["untrusted-certificate", "wrong-host"])(
    "sslmode=verify-full with the trusted CA sends nothing to %s",
    async (mode) => {
      const server = await hostile(mode);
      const ca = await pemFile(server.ca);
      try {
        expect(await psql(server, `sslmode=verify-full sslrootcert=${ca.path}`)).toMatch(
          /certificate|does not match host name/,
        );
      } finally {
        await ca.remove();
      }
      expect(server.leaks()).toEqual([]);
    },
  );
});
