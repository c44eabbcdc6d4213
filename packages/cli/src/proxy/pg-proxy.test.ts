import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createTlsAuthority } from "@org/entra-emulator";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { LOCAL_BACKENDS, type ProxyFixture, startProxyFixture } from "./proxy-test-fixture.js";
import { type EntraProxy, startProxy } from "./start-proxy.js";

let fixture: ProxyFixture;

beforeAll(async () => {
  fixture = await startProxyFixture({ postgres: { backend: LOCAL_BACKENDS.postgres } });
});
afterAll(() => fixture.close());

function startPgProxy(options: Partial<Parameters<typeof startProxy>[0]> = {}): Promise<EntraProxy> {
  const gateway = fixture.emulator.postgres;
  if (!gateway) throw new Error("no PostgreSQL gateway");
  return startProxy({
    engine: "postgresql",
    host: gateway.host,
    port: gateway.port,
    database: gateway.database,
    ca: fixture.emulator.ca,
    credential: fixture.credential,
    env: {},
    ...options,
  });
}

async function query<T>(config: pg.ClientConfig, sql: string): Promise<T> {
  const client = new pg.Client(config);
  client.on("error", () => {});
  await client.connect();
  try {
    return (await client.query(sql)).rows[0] as T;
  } finally {
    await client.end();
  }
}

describe("the PostgreSQL proxy", () => {
  test("a client without TLS or token signs in as the identity, with its database and application_name", async () => {
    await using proxy = await startPgProxy();
    const row = await query<{ who: string; db: string; app: string; ssl: boolean }>(
      {
        host: "127.0.0.1",
        port: proxy.port,
        user: "whoever",
        password: "not-a-token",
        database: "test",
        application_name: "proxy-test",
      },
      "select current_user as who, current_database() as db, current_setting('application_name') as app",
    );
    expect(row).toEqual({ who: fixture.emulator.identities[0]?.name, db: "test", app: "proxy-test" });
    expect(proxy.stats).toMatchObject({ accepted: 1, refused: 0 });
  });

  test("three connections cost one token request; cancel requests reach the upstream session", async () => {
    const before = fixture.credential.calls;
    await using proxy = await startPgProxy();
    const config = { host: "127.0.0.1", port: proxy.port, user: "x", database: "test" };
    await Promise.all([1, 2, 3].map(() => query(config, "select 1")));
    expect(fixture.credential.calls - before).toBeLessThanOrEqual(1);
    const client = new pg.Client(config);
    await client.connect();
    try {
      const running = new pg.Query("select pg_sleep(30)");
      const ended = new Promise((resolve, reject) => running.on("end", resolve).on("error", reject));
      client.query(running);
      await new Promise((resolve) => setTimeout(resolve, 200));
      const canceller = new pg.Client(config);
      canceller.on("error", () => {});
      (canceller as unknown as { cancel(target: pg.Client, q: pg.Query): void }).cancel(client, running);
      await expect(ended).rejects.toMatchObject({ code: "57014" });
      expect((await client.query("select 1 as one")).rows[0].one).toBe(1);
    } finally {
      await client.end();
    }
  });

  test("with a local password, a wrong one is refused in PostgreSQL's own error and the right one works", async () => {
    await using proxy = await startPgProxy({ localPassword: "local-secret" });
    const config = { host: "127.0.0.1", port: proxy.port, user: "x", database: "test" };
    await expect(query({ ...config, password: "wrong" }, "select 1")).rejects.toMatchObject({
      code: "28P01",
      message: expect.stringContaining("[LOCAL_PASSWORD]"),
    });
    await expect(query({ ...config, password: "local-secret" }, "select 1 as one")).resolves.toEqual({
      one: 1,
    });
  });

  test("an upstream certificate that is not trusted gets no token: the client reads INSECURE_TRANSPORT", async () => {
    const counters = fixture.emulator.counters;
    await using proxy = await startPgProxy({ ca: undefined });
    const error = await query(
      { host: "127.0.0.1", port: proxy.port, user: "x", database: "test" },
      "select 1",
    ).catch((e: Error) => e);
    expect(String(error)).toContain("[INSECURE_TRANSPORT]");
    const after = fixture.emulator.counters;
    expect(after.loginsAccepted + after.loginsRejected).toBe(
      counters.loginsAccepted + counters.loginsRejected,
    );
  });

  test("a token the server refuses as expired is dropped: the client reads TOKEN_EXPIRED, the next login gets a new token", async () => {
    await using proxy = await startPgProxy();
    const config = { host: "127.0.0.1", port: proxy.port, user: "x", database: "test" };
    await query(config, "select 1");
    const before = fixture.credential.calls;
    fixture.emulator.faults.postgres.rejectNextLogins(1, "expired");
    const error = await query(config, "select 1").catch((e: Error) => e);
    expect(String(error)).toContain("[TOKEN_EXPIRED]");
    expect(String(error)).not.toMatch(/eyJ[\w-]{20,}/);
    await expect(query<{ one: number }>(config, "select 1 as one")).resolves.toEqual({ one: 1 });
    expect(fixture.credential.calls).toBe(before + 1);
  });

  test("more clients than maxConnections are refused with 53300 TOO_MANY_CONNECTIONS; a silent one is cut after idleTimeoutInMs", async () => {
    await using proxy = await startPgProxy({ maxConnections: 1, idleTimeoutInMs: 300 });
    const config = { host: "127.0.0.1", port: proxy.port, user: "x", database: "test" };
    const first = new pg.Client(config);
    const ended = new Promise<void>((resolve) => first.on("end", () => resolve()));
    first.on("error", () => {});
    await first.connect();
    await expect(query(config, "select 1")).rejects.toMatchObject({
      code: "53300",
      message: expect.stringContaining("[TOO_MANY_CONNECTIONS]"),
    });
    await ended; // idle for 300 ms: the proxy closed it
    expect(proxy.stats.connections).toBe(0);
    await expect(query<{ one: number }>(config, "select 1 as one")).resolves.toEqual({ one: 1 });
  });

  test("listens on a Unix socket where libpq looks for one", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "entra-proxy-"));
    try {
      await using proxy = await startPgProxy({ listen: { path: path.join(dir, ".s.PGSQL.6432") } });
      expect(proxy.host).toBe(path.join(dir, ".s.PGSQL.6432"));
      const row = await query<{ one: number }>(
        { host: dir, port: 6432, user: "x", database: "test" },
        "select 1 as one",
      );
      expect(row).toEqual({ one: 1 });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("a client that asks for TLS gets it with localTls (sslmode=verify-full against the proxy's certificate)", async () => {
    const local = await createTlsAuthority();
    await using proxy = await startPgProxy({ localTls: { key: local.key, cert: local.cert } });
    const row = await query<{ who: string }>(
      {
        host: "localhost",
        port: proxy.port,
        user: "x",
        database: "test",
        ssl: { ca: local.ca, servername: "localhost" },
      },
      "select current_user as who",
    );
    expect(row.who).toBe(fixture.emulator.identities[0]?.name);
    // Without localTls, sslmode=require is refused by the client: the proxy answers N.
    await using plain = await startPgProxy();
    await expect(
      query(
        { host: "127.0.0.1", port: plain.port, user: "x", database: "test", ssl: { ca: local.ca } },
        "select 1",
      ),
    ).rejects.toThrow(/does not support SSL/);
  });

  test("refuses to listen beyond loopback without a local password", async () => {
    await expect(startPgProxy({ listen: { host: "0.0.0.0" } })).rejects.toMatchObject({
      code: "INVALID_SETTING",
      message: expect.stringContaining("local password"),
    });
  });

  test("close({ graceInMs }) stops accepting and lets an open session finish", async () => {
    const proxy = await startPgProxy();
    const client = new pg.Client({ host: "127.0.0.1", port: proxy.port, user: "x", database: "test" });
    client.on("error", () => {});
    await client.connect();
    const closed = proxy.close({ graceInMs: 5_000 });
    await expect(
      query({ host: "127.0.0.1", port: proxy.port, user: "x", database: "test" }, "select 1"),
    ).rejects.toThrow();
    expect((await client.query("select 2 as two")).rows[0].two).toBe(2);
    await client.end();
    await closed;
    expect(proxy.stats.connections).toBe(0);
  });
});
