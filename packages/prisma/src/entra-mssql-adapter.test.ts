import { EventEmitter } from "node:events";
import { createRequire } from "node:module";
import { inspect } from "node:util";
import { getSharedTokenProvider, resetSharedTokenProviders } from "@org/entra-core";
import { createFakeTokenProvider } from "@org/entra-core/testing";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createEntraAdapter, EntraMssqlAdapterFactory } from "./index.js";

const TOKEN = `eyJhbGciOiJSUzI1NiJ9.${Buffer.from(JSON.stringify({ aud: "https://database.windows.net/", oid: "o" })).toString("base64url")}.c3Fs`;

const env = {};

/** The parts of mssql used here (this package has no @types/mssql): the module adapter-mssql loads too. */
interface MssqlModule {
  ConnectionPool: { prototype: { connect(): Promise<unknown> } };
  ConnectionError: new (error: Error) => Error;
}
const sql = createRequire(import.meta.url)("mssql") as MssqlModule;

type PoolConfig = Record<string, unknown> & {
  options: Record<string, unknown>;
  authentication: {
    type: string;
    options: { credential: { getToken(scope: string): Promise<{ token: string }> } };
  };
};

/**
 * adapter-mssql creates `new sql.ConnectionPool(config)` from the same mssql package; stop its
 * `connect()` with `outcome` and record the config the pool was given (no network I/O).
 */
function stopPoolConnect(outcome: () => Promise<never>) {
  const configs: PoolConfig[] = [];
  vi.spyOn(sql.ConnectionPool.prototype, "connect").mockImplementation(function (this: {
    config: PoolConfig;
  }) {
    configs.push(this.config);
    return outcome();
  } as never);
  return configs;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('createEntraAdapter({ provider: "sqlserver" })', () => {
  it("hands adapter-mssql an mssql config with token-credential authentication and TDS 8 TLS", async () => {
    const provider = createFakeTokenProvider({ token: TOKEN });
    const stop = new Error("stop: captured");
    const configs = stopPoolConnect(async () => {
      throw stop;
    });
    const factory = createEntraAdapter(
      { provider: "sqlserver", server: "db.database.windows.net", database: "orders" },
      { tokenProvider: provider, env },
    );
    expect(factory).toBeInstanceOf(EntraMssqlAdapterFactory);
    expect(factory.provider).toBe("sqlserver");
    expect(factory.adapterName).toContain("mssql");
    await expect(factory.connect()).rejects.toBe(stop);
    const config = configs[0] as PoolConfig;
    expect(config).toMatchObject({ server: "db.database.windows.net", database: "orders" });
    expect(config.options).toMatchObject({ encrypt: "strict", trustServerCertificate: false });
    expect(config.authentication.type).toBe("token-credential");
    expect(typeof config.beforeConnect).toBe("function");
    expect(config.password).toBeUndefined();
    await expect(
      config.authentication.options.credential.getToken("https://database.windows.net/.default"),
    ).resolves.toMatchObject({ token: TOKEN });
    expect(provider.calls).toBe(1);
  });

  it("reads AZURE_SQL_* and passes adapterOptions to adapter-mssql", async () => {
    const configs = stopPoolConnect(async () => {
      throw new Error("stop");
    });
    const factory = createEntraAdapter(
      { provider: "sqlserver", adapterOptions: { schema: "sales" } },
      {
        tokenProvider: createFakeTokenProvider({ token: TOKEN }),
        env: {
          AZURE_SQL_SERVER: "sc.database.windows.net",
          AZURE_SQL_DATABASE: "orders",
          AZURE_SQL_PORT: "1433",
        },
      },
    );
    await expect(factory.connect()).rejects.toThrow("stop");
    expect(configs[0]).toMatchObject({ server: "sc.database.windows.net", database: "orders", port: 1433 });
  });

  it("a refused login becomes an EntraAuthError with the server's message and what to change", async () => {
    stopPoolConnect(async () => {
      const tedious = Object.assign(new Error("Login failed for user '<token-identified principal>'."), {
        code: "ELOGIN",
      });
      throw Object.assign(new sql.ConnectionError(tedious), { originalError: tedious });
    });
    const factory = createEntraAdapter(
      { provider: "sqlserver", server: "db.database.windows.net" },
      { tokenProvider: createFakeTokenProvider({ token: TOKEN }), env },
    );
    const error = await factory.connect().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ name: "EntraAuthError", code: "PRINCIPAL_UNKNOWN" });
    expect((error as Error).message).toContain("Login failed for user '<token-identified principal>'.");
    expect((error as Error).message).toMatch(/FROM EXTERNAL PROVIDER/);
  });

  it("other connection errors are passed through unchanged", async () => {
    const refused = Object.assign(new Error("Failed to connect to db:1433 - ECONNREFUSED"), {
      code: "ESOCKET",
    });
    stopPoolConnect(async () => {
      throw refused;
    });
    const factory = createEntraAdapter(
      { provider: "sqlserver", server: "db.database.windows.net" },
      { tokenProvider: createFakeTokenProvider({ token: TOKEN }), env },
    );
    await expect(factory.connect()).rejects.toBe(refused);
  });

  it.each([
    ["encrypt: false", { options: { encrypt: false } }],
    ["trustServerCertificate: true", { options: { trustServerCertificate: true } }],
  ])("refuses %s with INSECURE_TRANSPORT before any I/O", (_name, extra) => {
    const provider = createFakeTokenProvider({ token: TOKEN });
    expect(() =>
      createEntraAdapter({ provider: "sqlserver", server: "s", ...extra }, { tokenProvider: provider, env }),
    ).toThrowError(expect.objectContaining({ name: "EntraAuthError", code: "INSECURE_TRANSPORT" }));
    expect(provider.calls).toBe(0);
  });

  it.each([
    ["a SQL login", { user: "sa", password: "hunter2" }],
    ["a static access token", { token: "eyJ" }],
    [
      "tedious's per-login DefaultAzureCredential",
      { authentication: { type: "azure-active-directory-default" } },
    ],
  ])("refuses %s with INVALID_SETTING", (_name, extra) => {
    let error: unknown;
    try {
      createEntraAdapter({ provider: "sqlserver", server: "s", ...extra } as never, {
        tokenProvider: createFakeTokenProvider({ token: TOKEN }),
        env,
      });
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ name: "EntraAuthError", code: "INVALID_SETTING" });
    expect((error as Error).message).not.toContain("hunter2");
  });

  it("no server anywhere is MISSING_SETTING; no token in util.inspect of the factory", () => {
    expect(() =>
      createEntraAdapter(
        { provider: "sqlserver" },
        { tokenProvider: createFakeTokenProvider({ token: TOKEN }), env },
      ),
    ).toThrowError(expect.objectContaining({ code: "MISSING_SETTING" }));
    const factory = createEntraAdapter(
      { provider: "sqlserver", server: "s" },
      { tokenProvider: createFakeTokenProvider({ token: TOKEN }), env },
    );
    expect(inspect(factory, { depth: 8, showHidden: true })).not.toContain(TOKEN);
  });
});

describe('createEntraAdapter({ provider: "sqlserver" }): pooled connections hold the shared provider', () => {
  afterEach(() => resetSharedTokenProviders());

  it("the pool's beforeConnect holds each connection from its login until it closes", async () => {
    const credential = {
      async getToken() {
        return { token: TOKEN, expiresOnTimestamp: Date.now() + 3_600_000 };
      },
    };
    const stop = new Error("stop: captured");
    const configs = stopPoolConnect(async () => {
      throw stop;
    });
    const factory = createEntraAdapter(
      { provider: "sqlserver", server: "db.database.windows.net" },
      { credential, env, warmStart: false },
    );
    await expect(factory.connect()).rejects.toBe(stop);
    const config = configs[0] as PoolConfig & { beforeConnect: (connection: unknown) => void };
    await config.authentication.options.credential.getToken("https://database.windows.net/.default");
    const provider = getSharedTokenProvider({ credential, scope: "https://database.windows.net/.default" });
    // What mssql does for each pooled tedious connection; `$disconnect` closes them (pool.close()).
    const connection = Object.assign(new EventEmitter(), {
      config: { authentication: config.authentication },
    });
    config.beforeConnect(connection);
    connection.emit("connect");
    expect(provider.stats.holds).toBe(1);
    connection.emit("end");
    expect(provider.stats.holds).toBe(0);
  });
});
