import "reflect-metadata";
import { EventEmitter } from "node:events";
import { inspect } from "node:util";
import { getSharedTokenProvider, resetSharedTokenProviders } from "@org/entra-core";
import { CANARY_TOKEN as CANARY, createFakeTokenProvider } from "@org/entra-core/testing";
import { DataSource as DataSource03 } from "typeorm";
import { DataSource as DataSource1 } from "typeorm1";
import { afterEach, describe, expect, it } from "vitest";
import { withEntra } from "./with-entra.js";

const env = {};

type MssqlConfig = Record<string, unknown> & {
  authentication: {
    type: string;
    options: { credential: { getToken(scope: string): Promise<{ token: string }> } };
  };
  options: Record<string, unknown>;
  beforeConnect?: unknown;
};

/**
 * A fake mssql module (TypeORM's `driver` option): `ConnectionPool` records the config TypeORM
 * builds, then refuses to connect so `initialize()` stops there (no network I/O).
 */
function capturingMssql() {
  const captured: MssqlConfig[] = [];
  const stop = new Error("stop: captured");
  class ConnectionPool {
    constructor(config: MssqlConfig) {
      captured.push(config);
    }
    on() {}
    connect(callback: (error: Error) => void) {
      callback(stop);
    }
    close() {}
  }
  return { driver: { ConnectionPool, ISOLATION_LEVEL: {} }, captured, stop };
}

const majors = [
  ["0.3", DataSource03],
  ["1", DataSource1],
] as const;

describe.each(majors)("TypeORM %s type mssql: the config TypeORM hands mssql", (_major, DataSource) => {
  it("token-credential authentication, encrypt strict, trustServerCertificate false, the Entra beforeConnect", async () => {
    const provider = createFakeTokenProvider();
    const { driver, captured, stop } = capturingMssql();
    const dataSource = new DataSource(
      withEntra(
        { type: "mssql", host: "db.database.windows.net", database: "orders", driver },
        { tokenProvider: provider, env },
      ),
    );
    await expect(dataSource.initialize()).rejects.toBe(stop);
    const config = captured[0] as MssqlConfig;
    expect(config).toMatchObject({ server: "db.database.windows.net", database: "orders" });
    expect(config.user).toBeUndefined();
    expect(config.password).toBeUndefined();
    expect(config.authentication.type).toBe("token-credential");
    expect(config.options).toMatchObject({ encrypt: "strict", trustServerCertificate: false });
    expect(typeof config.beforeConnect).toBe("function");
    await expect(
      config.authentication.options.credential.getToken("https://database.windows.net/.default"),
    ).resolves.toMatchObject({ token: CANARY });
    expect(provider.calls).toBe(1);
  });

  it("a url becomes fields; your tedious options and other extra fields are kept", async () => {
    const { driver, captured, stop } = capturingMssql();
    const dataSource = new DataSource(
      withEntra(
        {
          type: "mssql",
          url: "mssql://proxy.example.com:14330/orders",
          options: { encrypt: true, appName: "orders-api" },
          extra: { pool: { max: 3 }, connectionTimeout: 5_000 },
          driver,
        },
        { tokenProvider: createFakeTokenProvider(), env },
      ),
    );
    await expect(dataSource.initialize()).rejects.toBe(stop);
    const config = captured[0] as MssqlConfig;
    expect(config).toMatchObject({
      server: "proxy.example.com",
      port: 14330,
      database: "orders",
      pool: { max: 3 },
      connectionTimeout: 5_000,
    });
    expect(config.options).toMatchObject({
      encrypt: "strict", // Encrypt=True becomes TDS 8 strict
      trustServerCertificate: false,
      appName: "orders-api",
    });
  });

  it("extra.options (which replaces TypeORM's options) is secured where it is", async () => {
    const { driver, captured, stop } = capturingMssql();
    const dataSource = new DataSource(
      withEntra(
        { type: "mssql", host: "h.database.windows.net", extra: { options: { appName: "x" } }, driver },
        { tokenProvider: createFakeTokenProvider(), env },
      ),
    );
    await expect(dataSource.initialize()).rejects.toBe(stop);
    expect((captured[0] as MssqlConfig).options).toMatchObject({
      appName: "x",
      encrypt: "strict",
      trustServerCertificate: false,
    });
  });

  it("reads the Service Connector variables (AZURE_SQL_*)", async () => {
    const { driver, captured, stop } = capturingMssql();
    const dataSource = new DataSource(
      withEntra(
        { type: "mssql", driver },
        {
          tokenProvider: createFakeTokenProvider(),
          env: {
            AZURE_SQL_SERVER: "sc.database.windows.net",
            AZURE_SQL_PORT: "1433",
            AZURE_SQL_DATABASE: "orders",
          },
        },
      ),
    );
    await expect(dataSource.initialize()).rejects.toBe(stop);
    expect(captured[0]).toMatchObject({ server: "sc.database.windows.net", port: 1433, database: "orders" });
  });
});

describe("withEntra (TypeORM type mssql)", () => {
  it("adopts a token-credential given in extra.authentication, cached by the shared provider", async () => {
    const credential = {
      getToken: async () => ({ token: CANARY, expiresOnTimestamp: Date.now() + 3_600_000 }),
    };
    const result = withEntra(
      {
        type: "mssql",
        host: "h.database.windows.net",
        extra: { authentication: { type: "token-credential", options: { credential } } },
      },
      { env },
    ) as unknown as { extra: MssqlConfig; authentication?: unknown };
    expect(result.extra.authentication.type).toBe("token-credential");
    expect(result.extra.authentication.options.credential).not.toBe(credential);
    expect(result.authentication).toBeUndefined();
  });

  it("wires every replication node and shares the authentication through extra", () => {
    const result = withEntra(
      {
        type: "mssql",
        replication: {
          master: { host: "primary.database.windows.net", database: "orders" },
          slaves: [{ url: "mssql://secondary.database.windows.net/orders" }],
        },
      },
      { tokenProvider: createFakeTokenProvider(), env },
    ) as unknown as {
      replication: { master: Record<string, unknown>; slaves: Record<string, unknown>[] };
      extra: MssqlConfig;
      options: Record<string, unknown>;
    };
    expect(result.replication.master).toMatchObject({
      host: "primary.database.windows.net",
      database: "orders",
    });
    expect(result.replication.slaves[0]).toMatchObject({
      host: "secondary.database.windows.net",
      database: "orders",
    });
    expect(result.replication.slaves[0]?.url).toBeUndefined();
    expect(result.extra.authentication.type).toBe("token-credential");
    expect(result.options).toMatchObject({ encrypt: "strict", trustServerCertificate: false });
  });

  it.each([
    ["options.encrypt: false", { options: { encrypt: false } }],
    ["options.trustServerCertificate: true", { options: { trustServerCertificate: true } }],
    ["extra.options.encrypt: false", { extra: { options: { encrypt: false } } }],
    ["extra.trustServerCertificate: true", { extra: { trustServerCertificate: true } }],
  ])("refuses %s with INSECURE_TRANSPORT before any I/O", (_name, extra) => {
    const provider = createFakeTokenProvider();
    expect(() =>
      withEntra({ type: "mssql", host: "h", ...extra }, { tokenProvider: provider, env }),
    ).toThrowError(expect.objectContaining({ name: "EntraAuthError", code: "INSECURE_TRANSPORT" }));
    expect(provider.calls).toBe(0);
  });

  it("allowInsecure lets encrypt: false through (local testing only)", () => {
    const result = withEntra(
      { type: "mssql", host: "localhost", options: { encrypt: false } },
      { tokenProvider: createFakeTokenProvider(), env, allowInsecure: true },
    ) as unknown as { options: Record<string, unknown> };
    expect(result.options.encrypt).toBe(false);
  });

  it.each([
    ["a SQL login", { username: "sa", password: "hunter2" }],
    ["a SQL login user name", { username: "sa" }],
    ["a password in the url", { url: "mssql://sa:hunter2@h/orders" }],
    ["NTLM (domain)", { domain: "CORP", username: "u" }],
    [
      "a static access token",
      { authentication: { type: "azure-active-directory-access-token", options: { token: "eyJ" } } },
    ],
    [
      "tedious's per-login DefaultAzureCredential",
      { authentication: { type: "azure-active-directory-default", options: {} } },
    ],
    [
      "tedious's per-login managed identity",
      { authentication: { type: "azure-active-directory-msi-app-service", options: {} } },
    ],
    [
      "a client secret",
      {
        authentication: {
          type: "azure-active-directory-service-principal-secret",
          options: { clientId: "c", clientSecret: "hunter2", tenantId: "t" },
        },
      },
    ],
    ["a password in extra", { extra: { password: "hunter2" } }],
  ])("refuses %s with INVALID_SETTING", (_name, extra) => {
    let error: unknown;
    try {
      withEntra({ type: "mssql", host: "h", ...extra }, { tokenProvider: createFakeTokenProvider(), env });
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ name: "EntraAuthError", code: "INVALID_SETTING" });
    expect((error as Error).message).not.toContain("hunter2");
  });

  it("no host anywhere is MISSING_SETTING", () => {
    expect(() =>
      withEntra({ type: "mssql" }, { tokenProvider: createFakeTokenProvider(), env }),
    ).toThrowError(expect.objectContaining({ code: "MISSING_SETTING" }));
  });

  it("no token in util.inspect of the result", async () => {
    const result = withEntra(
      { type: "mssql", host: "h.database.windows.net" },
      { tokenProvider: createFakeTokenProvider(), env },
    ) as unknown as { extra: MssqlConfig };
    await result.extra.authentication.options.credential.getToken("https://database.windows.net/.default");
    expect(inspect(result, { depth: 8, showHidden: true })).not.toContain(CANARY);
  });
});

describe.each(majors)(
  "TypeORM %s type mssql: pooled connections hold the shared provider",
  (_major, DataSource) => {
    afterEach(() => resetSharedTokenProviders());

    it("the beforeConnect TypeORM hands mssql holds each connection from its login until it closes", async () => {
      const source = {
        async getToken() {
          return { token: CANARY, expiresOnTimestamp: Date.now() + 3_600_000 };
        },
      };
      const { driver, captured, stop } = capturingMssql();
      const dataSource = new DataSource(
        withEntra(
          { type: "mssql", host: "db.database.windows.net", driver },
          { credential: source, env, warmStart: false },
        ),
      );
      await expect(dataSource.initialize()).rejects.toBe(stop);
      const config = captured[0] as MssqlConfig;
      await config.authentication.options.credential.getToken("https://database.windows.net/.default");
      const provider = getSharedTokenProvider({
        credential: source,
        scope: "https://database.windows.net/.default",
      });
      // What mssql's _poolCreate does for each pooled connection: a tedious Connection (its
      // normalised config carries the credential), then beforeConnect; then tedious logs in.
      const connections = [1, 2].map(() => {
        const connection = Object.assign(new EventEmitter(), {
          config: { authentication: config.authentication },
        });
        (config.beforeConnect as (c: unknown) => void)(connection);
        connection.emit("connect");
        return connection;
      });
      expect(provider.stats.holds).toBe(2);
      for (const connection of connections) connection.emit("end"); // what close() leads to
      expect(provider.stats.holds).toBe(0);
    });
  },
);
