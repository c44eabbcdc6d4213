import { inspect } from "node:util";
import {
  CANARY_TOKEN as CANARY,
  createFakeTokenProvider,
  fakeJwt,
  fakeTlsSocket,
} from "@org/entra-core/testing";
import knex, { type Knex } from "knex";
import { describe, expect, it } from "vitest";
import { withEntra } from "./with-entra.js";

/** No Service Connector variables from the machine running the tests. */
const env = {};

type Connection = Record<string, unknown>;
type PasswordFunction = (this: unknown) => Promise<string>;
type ClearPasswordPlugin = (context: object) => (data: Buffer) => Promise<Buffer>;

function connectionOf(config: Knex.Config): Connection {
  expect(typeof config.connection).toBe("object");
  return config.connection as Connection;
}

async function providedConnection(config: Knex.Config): Promise<Connection> {
  expect(typeof config.connection).toBe("function");
  return (config.connection as () => Promise<Connection>)();
}

async function clearPasswordAnswer(connection: Connection): Promise<string> {
  const plugins = connection.authPlugins as Record<string, ClearPasswordPlugin>;
  const plugin = plugins.mysql_clear_password as ClearPasswordPlugin;
  return (await plugin({ connection: { stream: fakeTlsSocket() } })(Buffer.alloc(0))).toString();
}

describe("withEntra (knex, PostgreSQL clients)", () => {
  it.each(["pg", "postgres", "postgresql"])(
    'client "%s": the connection gets pg-entra\'s password function and verified TLS',
    async (client) => {
      const provider = createFakeTokenProvider();
      const config = withEntra(
        { client, connection: { host: "db.postgres.database.azure.com", user: "app", database: "orders" } },
        { tokenProvider: provider, env },
      );
      const connection = connectionOf(config);
      expect(connection).toMatchObject({
        host: "db.postgres.database.azure.com",
        user: "app",
        database: "orders",
        ssl: { rejectUnauthorized: true },
      });
      await expect((connection.password as PasswordFunction).call(undefined)).resolves.toBe(CANARY);
      expect(provider.calls).toBe(1);
    },
  );

  it("parses a connection string into fields, so knex cannot drop the password function", async () => {
    const config = withEntra(
      {
        client: "pg",
        connection: "postgres://app@db.postgres.database.azure.com:6432/orders?sslmode=verify-full",
      },
      { tokenProvider: createFakeTokenProvider(), env },
    );
    const connection = connectionOf(config);
    expect(connection).toMatchObject({
      host: "db.postgres.database.azure.com",
      port: 6432,
      user: "app",
      database: "orders",
    });
    expect(connection.connectionString).toBeUndefined();
    expect(typeof connection.password).toBe("function");
  });

  it("parses `connectionString` inside a connection object too", () => {
    const config = withEntra(
      { client: "pg", connection: { connectionString: "postgresql://app@h/orders" } },
      { tokenProvider: createFakeTokenProvider(), env },
    );
    expect(connectionOf(config)).toMatchObject({
      host: "h",
      user: "app",
      database: "orders",
      ssl: { rejectUnauthorized: true },
    });
  });

  it("reads the Service Connector variables when there is no connection", () => {
    const config = withEntra(
      { client: "pg" },
      {
        tokenProvider: createFakeTokenProvider(),
        env: {
          AZURE_POSTGRESQL_HOST: "sc.postgres.database.azure.com",
          AZURE_POSTGRESQL_PORT: "5432",
          AZURE_POSTGRESQL_DATABASE: "orders",
          AZURE_POSTGRESQL_USER: "orders-identity",
          AZURE_POSTGRESQL_SSL: "true",
        },
      },
    );
    expect(connectionOf(config)).toMatchObject({
      host: "sc.postgres.database.azure.com",
      port: 5432,
      database: "orders",
      user: "orders-identity",
      ssl: { rejectUnauthorized: true },
    });
  });

  it("with no user name anywhere, reads it from the token before the first connection (pg sends it first)", async () => {
    const provider = createFakeTokenProvider();
    const config = withEntra({ client: "pg", connection: { host: "h" } }, { tokenProvider: provider, env });
    const connection = await providedConnection(config);
    expect(connection.user).toBe("canary-app");
    expect(connection.Client).toBeUndefined(); // knex ignores it; the provider does its job
    expect(typeof connection.password).toBe("function");
    // The resolved config holds no token, so knex may keep it for good.
    expect((connection.expirationChecker as () => boolean)()).toBe(false);
  });

  it("fails a connection with USERNAME_UNRESOLVED when the token has no name either", async () => {
    const config = withEntra(
      { client: "pg", connection: { host: "h" } },
      { tokenProvider: createFakeTokenProvider({ token: fakeJwt({ oid: "x" }) }), env },
    );
    await expect(providedConnection(config)).rejects.toMatchObject({
      name: "EntraAuthError",
      code: "USERNAME_UNRESOLVED",
    });
  });

  it.each([
    ["ssl: false", { host: "h", user: "u", ssl: false }],
    ["rejectUnauthorized: false", { host: "h", user: "u", ssl: { rejectUnauthorized: false } }],
    ["sslmode=disable", "postgres://u@h/db?sslmode=disable"],
    ["sslmode=no-verify", "postgres://u@h/db?sslmode=no-verify"],
  ])("refuses an insecure connection (%s) before any I/O", (_name, connection) => {
    const provider = createFakeTokenProvider();
    expect(() => withEntra({ client: "pg", connection }, { tokenProvider: provider, env })).toThrowError(
      expect.objectContaining({ name: "EntraAuthError", code: "INSECURE_TRANSPORT" }),
    );
    expect(provider.calls).toBe(0);
  });

  it("passes allowInsecure through to the driver adapter", () => {
    const config = withEntra(
      { client: "pg", connection: { host: "localhost", user: "u", ssl: false } },
      { tokenProvider: createFakeTokenProvider(), env, allowInsecure: true },
    );
    expect(connectionOf(config).ssl).toBe(false);
  });

  it.each([
    ["a static password", { host: "h", user: "u", password: "hunter2" }],
    ["a password in the URL", "postgres://u:hunter2@h/db"],
  ])("refuses %s", (_name, connection) => {
    expect(() =>
      withEntra({ client: "pg", connection }, { tokenProvider: createFakeTokenProvider(), env }),
    ).toThrowError(expect.objectContaining({ name: "EntraAuthError", code: "INVALID_SETTING" }));
  });
});

describe("withEntra (knex, mysql2 client)", () => {
  it("the connection gets mysql2-entra's clear-password plugin and verified TLS", async () => {
    const provider = createFakeTokenProvider();
    const config = withEntra(
      {
        client: "mysql2",
        connection: { host: "db.mysql.database.azure.com", user: "app", database: "orders" },
      },
      { tokenProvider: provider, env },
    );
    const connection = connectionOf(config);
    expect(connection).toMatchObject({
      host: "db.mysql.database.azure.com",
      user: "app",
      database: "orders",
      ssl: { verifyIdentity: true },
    });
    expect(connection.password).toBeUndefined();
    await expect(clearPasswordAnswer(connection)).resolves.toBe(`${CANARY}\0`);
    expect(provider.calls).toBe(1);
  });

  it("parses a connection string into fields", () => {
    const config = withEntra(
      { client: "mysql2", connection: "mysql://app@db.mysql.database.azure.com:3307/orders" },
      { tokenProvider: createFakeTokenProvider(), env },
    );
    const connection = connectionOf(config);
    expect(connection).toMatchObject({
      host: "db.mysql.database.azure.com",
      port: 3307,
      user: "app",
      database: "orders",
      ssl: { verifyIdentity: true },
    });
    expect(connection.uri).toBeUndefined();
  });

  it("reads the Service Connector variables and turns AZURE_MYSQL_SSL=true into a TLS object", () => {
    const config = withEntra(
      { client: "mysql2" },
      {
        tokenProvider: createFakeTokenProvider(),
        env: {
          AZURE_MYSQL_HOST: "sc.mysql.database.azure.com",
          AZURE_MYSQL_DATABASE: "orders",
          AZURE_MYSQL_USER: "orders-identity",
          AZURE_MYSQL_SSL: "true",
        },
      },
    );
    expect(connectionOf(config)).toMatchObject({
      host: "sc.mysql.database.azure.com",
      database: "orders",
      user: "orders-identity",
      ssl: { verifyIdentity: true },
    });
  });

  it.each([
    ["ssl: false", { host: "h", user: "u", ssl: false }],
    ["rejectUnauthorized: false", { host: "h", user: "u", ssl: { rejectUnauthorized: false } }],
    ["an SSL profile name", { host: "h", user: "u", ssl: "Amazon RDS" }],
  ])("refuses an insecure connection (%s) before any I/O", (_name, connection) => {
    const provider = createFakeTokenProvider();
    expect(() => withEntra({ client: "mysql2", connection }, { tokenProvider: provider, env })).toThrowError(
      expect.objectContaining({ name: "EntraAuthError", code: "INSECURE_TRANSPORT" }),
    );
    expect(provider.calls).toBe(0);
  });

  it("refuses a static password", () => {
    expect(() =>
      withEntra(
        { client: "mysql2", connection: { host: "h", user: "u", password: "hunter2" } },
        { tokenProvider: createFakeTokenProvider(), env },
      ),
    ).toThrowError(expect.objectContaining({ code: "INVALID_SETTING" }));
  });
});

describe("withEntra (knex clients it refuses)", () => {
  it.each([
    ["mysql", /use client: "mysql2"/i],
    ["mariadb", /use client: "mysql2"/i],
    ["pgnative", /pg-native.*password function.*client: "pg"/],
    ["sqlite3", /Supported clients: "pg"/],
    ["cockroachdb", /Supported clients/],
  ])('client "%s" is refused with INVALID_SETTING and says what to use', (client, advice) => {
    const provider = createFakeTokenProvider();
    let error: unknown;
    try {
      withEntra({ client, connection: { host: "h" } }, { tokenProvider: provider, env });
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ name: "EntraAuthError", code: "INVALID_SETTING" });
    expect((error as Error).message).toMatch(advice);
    expect(provider.calls).toBe(0);
  });

  it("a config without a client is refused with MISSING_SETTING", () => {
    expect(() => withEntra({ connection: { host: "h" } }, { env })).toThrowError(
      expect.objectContaining({ code: "MISSING_SETTING" }),
    );
  });

  it("a client class is refused: the hook depends on the driver's name", () => {
    expect(() => withEntra({ client: knex.Client, connection: { host: "h" } }, { env })).toThrowError(
      expect.objectContaining({ code: "INVALID_SETTING", message: expect.stringMatching(/by name/) }),
    );
  });

  it("the deprecated `dialect` option names the client too", () => {
    const config = withEntra(
      { dialect: "postgres", connection: { host: "h", user: "u" } },
      { tokenProvider: createFakeTokenProvider(), env },
    );
    expect(typeof connectionOf(config).password).toBe("function");
  });

  it("an external connectionPool is refused: knex uses that pool as it is", () => {
    const connectionPool = {
      connect: async () => ({}),
      end: async () => {},
      totalCount: 0,
      idleCount: 0,
      waitingCount: 0,
    };
    expect(() => withEntra({ client: "pg", connectionPool }, { env })).toThrowError(
      expect.objectContaining({ code: "INVALID_SETTING", message: expect.stringMatching(/@org\/pg-entra/) }),
    );
  });
});

describe("withEntra (knex connection provider functions)", () => {
  it("wraps a provider: each config it returns goes through the driver adapter, its expirationChecker kept", async () => {
    let calls = 0;
    const expirationChecker = () => false;
    const config = withEntra(
      {
        client: "pg",
        connection: async () => {
          calls++;
          return { host: "from-vault.postgres.database.azure.com", user: "app", expirationChecker };
        },
      },
      { tokenProvider: createFakeTokenProvider(), env },
    );
    expect(calls).toBe(0); // knex calls it when it opens the first connection
    const connection = await providedConnection(config);
    expect(calls).toBe(1);
    expect(connection).toMatchObject({
      host: "from-vault.postgres.database.azure.com",
      user: "app",
      ssl: { rejectUnauthorized: true },
    });
    expect(typeof connection.password).toBe("function");
    expect(connection.expirationChecker).toBe(expirationChecker);
  });

  it("wraps a synchronous provider returning a connection string (mysql2)", async () => {
    const config = withEntra(
      // knex's types do not list a string result, but knex hands it to the driver as it is.
      {
        client: "mysql2",
        connection: (() => "mysql://app@h/orders") as unknown as Knex.Config["connection"],
      },
      { tokenProvider: createFakeTokenProvider(), env },
    );
    const connection = await providedConnection(config);
    expect(connection).toMatchObject({ host: "h", user: "app", database: "orders" });
    await expect(clearPasswordAnswer(connection)).resolves.toBe(`${CANARY}\0`);
    expect(connection.expirationChecker).toBeUndefined();
  });

  it("a provider that returns an insecure config or a password fails that connection", async () => {
    const insecure = withEntra(
      { client: "pg", connection: async () => ({ host: "h", user: "u", ssl: false }) },
      { tokenProvider: createFakeTokenProvider(), env },
    );
    await expect(providedConnection(insecure)).rejects.toMatchObject({ code: "INSECURE_TRANSPORT" });
    const withPassword = withEntra(
      { client: "pg", connection: async () => ({ host: "h", user: "u", password: "old-token" }) },
      { tokenProvider: createFakeTokenProvider(), env },
    );
    await expect(providedConnection(withPassword)).rejects.toMatchObject({ code: "INVALID_SETTING" });
  });
});

describe("withEntra (the rest of the knex config)", () => {
  it("keeps every other field as it is and does not modify the input", () => {
    const pool = { min: 0, max: 7, afterCreate: () => {} };
    const migrations = { directory: "./migrations", tableName: "knex_migrations" };
    const seeds = { directory: "./seeds" };
    const postProcessResponse = (result: unknown) => result;
    const connection = { host: "h", user: "u", database: "d", application_name: "orders-api" };
    const input = {
      client: "pg",
      connection,
      pool,
      migrations,
      seeds,
      searchPath: ["app", "public"],
      useNullAsDefault: true,
      acquireConnectionTimeout: 5_000,
      postProcessResponse,
    };
    const snapshot = structuredClone({ ...input, pool: { min: 0, max: 7 }, postProcessResponse: undefined });
    const config = withEntra(input, { tokenProvider: createFakeTokenProvider(), env });
    expect(config.pool).toBe(pool);
    expect(config.migrations).toBe(migrations);
    expect(config.seeds).toBe(seeds);
    expect(config.postProcessResponse).toBe(postProcessResponse);
    expect(config).toMatchObject({
      client: "pg",
      searchPath: ["app", "public"],
      useNullAsDefault: true,
      acquireConnectionTimeout: 5_000,
    });
    expect(connectionOf(config).application_name).toBe("orders-api");
    expect(config.connection).not.toBe(connection);
    expect({ ...input, pool: { min: 0, max: 7 }, postProcessResponse: undefined }).toEqual(snapshot);
    expect(input.connection).toBe(connection);
    expect("password" in connection).toBe(false);
  });

  it("knex keeps the hooks through its own copy of the connection (pg and mysql2)", () => {
    const pg = knex(
      withEntra(
        { client: "pg", connection: { host: "h", user: "u" }, pool: { min: 0, max: 1 } },
        {
          tokenProvider: createFakeTokenProvider(),
          env,
        },
      ),
    );
    const mysql = knex(
      withEntra(
        { client: "mysql2", connection: { host: "h", user: "u" }, pool: { min: 0, max: 1 } },
        {
          tokenProvider: createFakeTokenProvider(),
          env,
        },
      ),
    );
    try {
      const pgSettings = pg.client.connectionSettings as Connection;
      expect(typeof pgSettings.password).toBe("function");
      expect(pgSettings.ssl).toEqual({ rejectUnauthorized: true });
      const mysqlSettings = mysql.client.connectionSettings as Connection;
      expect(typeof (mysqlSettings.authPlugins as Connection).mysql_clear_password).toBe("function");
      expect(mysqlSettings.ssl).toEqual({ verifyIdentity: true });
    } finally {
      void pg.destroy();
      void mysql.destroy();
    }
  });

  it("never shows the token when the config or the knex instance is inspected", async () => {
    const config = withEntra(
      { client: "pg", connection: { host: "h", user: "u" }, pool: { min: 0, max: 1 } },
      { tokenProvider: createFakeTokenProvider(), env },
    );
    await (connectionOf(config).password as PasswordFunction).call(undefined);
    const mysqlConfig = withEntra(
      { client: "mysql2", connection: { host: "h", user: "u" }, pool: { min: 0, max: 1 } },
      { tokenProvider: createFakeTokenProvider(), env },
    );
    await clearPasswordAnswer(connectionOf(mysqlConfig));
    const db = knex(config);
    try {
      const surfaces = [
        inspect(config, { depth: 10, showHidden: true }),
        inspect(mysqlConfig, { depth: 10, showHidden: true }),
        inspect(db, { depth: 6 }),
        JSON.stringify(config),
        JSON.stringify(mysqlConfig),
      ].join("\n");
      expect(surfaces).not.toContain(CANARY);
      expect(surfaces).not.toContain(CANARY.slice(-30));
    } finally {
      await db.destroy();
    }
  });
});
