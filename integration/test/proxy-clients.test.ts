import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { createTlsAuthority } from "@org/entra-emulator";
import mysql from "mysql2/promise";
import pg from "pg";
import { Connection, Request } from "tedious";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ProxyProcess, startProxyProcess } from "../src/start-proxy-process.js";
import { useHarness } from "../src/use-harness.js";

/**
 * `entra-db proxy` as users run it (the built bin, the real DefaultAzureCredential against the
 * emulator's identity endpoint, the emulator's CA trusted through NODE_EXTRA_CA_CERTS), with the
 * clients that cannot take a token: psql, mariadb and mysql with no password, and pg, mysql2 and
 * tedious with a dummy one.
 */

const execFileAsync = promisify(execFile);
const harness = useHarness({ engines: ["postgresql", "mysql", "sqlserver"] });

function requireBinary(file: string, debianPackage: string): string {
  if (!existsSync(file)) throw new Error(`${file} does not exist: apt-get install ${debianPackage}`);
  return file;
}

async function runClient(file: string, args: string[]): Promise<string> {
  const { stdout } = await execFileAsync(file, args, {
    env: { PATH: process.env.PATH, HOME: process.env.HOME },
    timeout: 15_000,
  });
  return stdout.trim();
}

const proxies: Partial<Record<"postgresql" | "mysql" | "sqlserver", ProxyProcess>> = {};
const identity = () => harness.emulator.identities[0]?.name as string;

beforeAll(async () => {
  const env = harness.emulator.env;
  for (const engine of ["postgresql", "mysql", "sqlserver"] as const) {
    proxies[engine] = await startProxyProcess(["--engine", engine], env);
  }
});

afterAll(async () => {
  for (const proxy of Object.values(proxies)) expect(await proxy?.stop("SIGINT")).toBe(0);
});

describe("PostgreSQL through entra-db proxy", () => {
  it("psql with no password signs in as the identity", async () => {
    const psql = requireBinary("/usr/bin/psql", "postgresql-client");
    const port = proxies.postgresql?.port;
    const out = await runClient(psql, [
      `host=127.0.0.1 port=${port} user=me dbname=${harness.emulator.postgres?.database} sslmode=disable`,
      "-Atc",
      "select current_user, current_setting('application_name')",
    ]);
    expect(out).toBe(`${identity()}|psql`);
  });

  it("psql with sslmode=verify-full to a proxy started with --tls-cert and --tls-key", async () => {
    const psql = requireBinary("/usr/bin/psql", "postgresql-client");
    const local = await createTlsAuthority();
    const dir = await mkdtemp(path.join(os.tmpdir(), "entra-proxy-tls-"));
    try {
      await writeFile(path.join(dir, "cert.pem"), local.cert);
      await writeFile(path.join(dir, "key.pem"), local.key, { mode: 0o600 });
      await writeFile(path.join(dir, "ca.pem"), local.ca);
      const proxy = await startProxyProcess(
        [
          "--engine",
          "postgresql",
          "--tls-cert",
          path.join(dir, "cert.pem"),
          "--tls-key",
          path.join(dir, "key.pem"),
        ],
        harness.emulator.env,
      );
      try {
        const out = await runClient(psql, [
          `host=localhost port=${proxy.port} user=me dbname=${harness.emulator.postgres?.database} sslmode=verify-full sslrootcert=${path.join(dir, "ca.pem")}`,
          "-Atc",
          "select current_user",
        ]);
        expect(out).toBe(identity());
      } finally {
        expect(await proxy.stop()).toBe(0);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("pg with a dummy password", async () => {
    const client = new pg.Client({
      host: "127.0.0.1",
      port: proxies.postgresql?.port,
      user: "me",
      password: "dummy",
      database: harness.emulator.postgres?.database,
    });
    await client.connect();
    try {
      expect((await client.query("select current_user as who")).rows[0].who).toBe(identity());
    } finally {
      await client.end();
    }
  });
});

describe("MySQL through entra-db proxy", () => {
  it.each([
    ["mariadb", "/usr/bin/mariadb"],
    ["mysql", "/usr/bin/mysql"],
  ])("the %s client with no password signs in as the identity", async (_name, file) => {
    const client = requireBinary(file, "mariadb-client");
    const out = await runClient(client, [
      "--host=127.0.0.1",
      `--port=${proxies.mysql?.port}`,
      "--user=me",
      "--skip-ssl",
      "--batch",
      "--skip-column-names",
      "-e",
      "select current_user()",
    ]);
    expect(out.split("@")[0]).toBe(identity());
  });

  it("mysql2 with a dummy password", async () => {
    const connection = await mysql.createConnection({
      host: "127.0.0.1",
      port: proxies.mysql?.port,
      user: "me",
      password: "dummy",
      database: harness.emulator.mysql?.database,
    });
    try {
      const [rows] = await connection.query("select current_user() as who");
      expect(String((rows as Array<{ who: string }>)[0]?.who).split("@")[0]).toBe(identity());
    } finally {
      await connection.end();
    }
  });
});

describe("Azure SQL through entra-db proxy", () => {
  it("tedious with a dummy password and no TLS to the proxy", async () => {
    const connection = new Connection({
      server: "127.0.0.1",
      options: {
        port: proxies.sqlserver?.port,
        encrypt: false,
        database: harness.emulator.sqlserver?.database,
      },
      authentication: { type: "default", options: { userName: "me", password: "dummy" } },
    });
    await new Promise<void>((resolve, reject) =>
      connection.connect((error) => (error ? reject(error) : resolve())),
    );
    try {
      const rows: unknown[] = [];
      await new Promise<void>((resolve, reject) => {
        const request = new Request("SELECT 1 AS one", (error) => (error ? reject(error) : resolve()));
        request.on("row", (columns: Array<{ value: unknown }>) => rows.push(columns[0]?.value));
        connection.execSql(request);
      });
      expect(rows).toEqual([1]);
    } finally {
      connection.close();
    }
  });
});

describe("the proxy's lifecycle", () => {
  it("rotating tokens: clients connecting and leaving across many short token lifetimes all sign in", async () => {
    const lifetimeInSeconds = 3;
    const runForInMs = Number(process.env.ENTRA_IT_CHURN_MS ?? 9_000);
    harness.emulator.tokenLifetimeInSeconds = lifetimeInSeconds;
    const proxy = await startProxyProcess(["--engine", "postgresql"], harness.emulator.env);
    harness.emulator.resetCounters();
    const errors: string[] = [];
    let connections = 0;
    try {
      const deadline = Date.now() + runForInMs;
      const worker = async () => {
        while (Date.now() < deadline) {
          const client = new pg.Client({
            host: "127.0.0.1",
            port: proxy.port,
            user: "churn",
            database: harness.emulator.postgres?.database,
          });
          try {
            await client.connect();
            await client.query("select 1");
            connections += 1;
          } catch (error) {
            errors.push(String(error));
          } finally {
            await client.end().catch(() => {});
          }
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      };
      await Promise.all([worker(), worker(), worker()]);
    } finally {
      harness.emulator.tokenLifetimeInSeconds = 3600;
      expect(await proxy.stop()).toBe(0);
    }
    const { counters } = harness.emulator;
    const lifetimes = runForInMs / 1000 / lifetimeInSeconds;
    console.info(
      `entra-db proxy churn: ${connections} connections over ${lifetimes} token lifetimes, ` +
        `${counters.tokenRequests} token requests, ${counters.loginsRejected} rejected logins, ${errors.length} client errors`,
    );
    expect(errors).toEqual([]);
    expect(counters.loginsRejected).toBe(0);
    expect(counters.loginsAccepted).toBe(connections);
    expect(connections).toBeGreaterThan(lifetimes * 10);
    expect(counters.tokenRequests).toBeGreaterThanOrEqual(lifetimes - 1);
    expect(counters.tokenRequests).toBeLessThanOrEqual(lifetimes * 2 + 2);
  });

  it("SIGTERM stops accepting, lets an open session finish, then exits 0", async () => {
    const proxy = await startProxyProcess(["--engine", "postgresql", "--drain", "5"], harness.emulator.env);
    const config = {
      host: "127.0.0.1",
      port: proxy.port,
      user: "me",
      database: harness.emulator.postgres?.database,
    };
    const open = new pg.Client(config);
    open.on("error", () => {});
    await open.connect();
    proxy.child.kill("SIGTERM");
    await new Promise((resolve) => setTimeout(resolve, 200));
    const late = new pg.Client(config);
    late.on("error", () => {});
    await expect(late.connect()).rejects.toThrow();
    expect((await open.query("select 2 as two")).rows[0].two).toBe(2);
    const exited = proxy.stop();
    await open.end();
    expect(await exited).toBe(0);
    expect(proxy.stderr()).toContain("stopping");
  });

  it("with a local password, a client without it gets the proxy's error in its own protocol", async () => {
    const proxy = await startProxyProcess(["--engine", "postgresql"], {
      ...harness.emulator.env,
      ENTRA_DB_PROXY_PASSWORD: "local-secret",
    });
    try {
      const config = {
        host: "127.0.0.1",
        port: proxy.port,
        user: "me",
        database: harness.emulator.postgres?.database,
      };
      const wrong = new pg.Client({ ...config, password: "nope" });
      await expect(wrong.connect()).rejects.toMatchObject({
        code: "28P01",
        message: expect.stringContaining("[LOCAL_PASSWORD]"),
      });
      const right = new pg.Client({ ...config, password: "local-secret" });
      await right.connect();
      await right.end();
    } finally {
      expect(await proxy.stop()).toBe(0);
    }
  });

  it("an upstream the proxy cannot verify (emulator CA not trusted) gets no token", async () => {
    const proxy = await startProxyProcess(["--engine", "postgresql", "--timeout", "20"], {
      ...harness.emulator.env,
      NODE_EXTRA_CA_CERTS: undefined,
    });
    harness.emulator.resetCounters();
    try {
      const client = new pg.Client({
        host: "127.0.0.1",
        port: proxy.port,
        user: "me",
        database: harness.emulator.postgres?.database,
      });
      const error = await client.connect().catch((e: Error) => e);
      expect(String(error)).toContain("[INSECURE_TRANSPORT]");
      expect(harness.emulator.counters.loginsAccepted + harness.emulator.counters.loginsRejected).toBe(0);
    } finally {
      expect(await proxy.stop()).toBe(0);
    }
  });
});
