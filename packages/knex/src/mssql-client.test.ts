import { inspect } from "node:util";
import { getSharedTokenProvider, resetSharedTokenProviders } from "@org/entra-core";
import { CANARY_TOKEN as CANARY, createFakeTokenProvider } from "@org/entra-core/testing";
import knex, { type Knex } from "knex";
import { Connection } from "tedious";
import { afterEach, describe, expect, it } from "vitest";
import { withEntra } from "./with-entra.js";

/** No Service Connector variables from the machine running the tests. */
const env = {};

type TediousConfig = {
  server: string;
  authentication: { type: string; options: Record<string, unknown> };
  options: Record<string, unknown>;
};

/** knex types an mssql connection as a SQL login with a database; these tests pass other shapes. */
type KnexConnection = Knex.Config["connection"];

const instances: Knex[] = [];

/** The tedious config knex's mssql dialect builds for each new connection (no I/O). */
function generated(config: Knex.Config): TediousConfig {
  const db = knex(config);
  instances.push(db);
  return (db.client as unknown as { _generateConnection(): TediousConfig })._generateConnection();
}

afterEach(async () => {
  await Promise.all(instances.splice(0).map((db) => db.destroy()));
});

describe("withEntra (knex, mssql client): what knex hands tedious", () => {
  it("token-credential authentication, encrypt strict and trustServerCertificate false (knex defaults encrypt to false)", async () => {
    const provider = createFakeTokenProvider();
    const cfg = generated(
      withEntra(
        { client: "mssql", connection: { server: "db.database.windows.net", database: "orders" } },
        { tokenProvider: provider, env },
      ),
    );
    expect(cfg.server).toBe("db.database.windows.net");
    expect(cfg.authentication.type).toBe("token-credential");
    expect(cfg.options).toMatchObject({
      database: "orders",
      encrypt: "strict",
      trustServerCertificate: false,
      port: 1433,
    });
    const credential = cfg.authentication.options.credential as {
      getToken(scope: string): Promise<{ token: string } | null>;
    };
    await expect(credential.getToken("https://database.windows.net/.default")).resolves.toMatchObject({
      token: CANARY,
    });
    expect(provider.calls).toBe(1);
    // Nothing static rides along: knex leaves these undefined.
    for (const key of ["userName", "password", "token", "clientSecret"]) {
      expect(cfg.authentication.options[key]).toBeUndefined();
    }
  });

  it("tedious accepts the generated config as it is (constructor validation, no connect)", () => {
    const cfg = generated(
      withEntra(
        { client: "mssql", connection: { host: "db.database.windows.net" } },
        { tokenProvider: createFakeTokenProvider(), env },
      ),
    );
    const connection = new Connection(cfg as never) as unknown as {
      config: { authentication: { type: string }; options: Record<string, unknown> };
    };
    expect(connection.config.authentication.type).toBe("token-credential");
    expect(connection.config.options.encrypt).toBe("strict");
    expect(connection.config.options.trustServerCertificate).toBe(false);
  });

  it("turns encrypt: true into TDS 8 strict and keeps the other tedious options you set; knex's own fields pass through", () => {
    const cfg = generated(
      withEntra(
        {
          client: "mssql",
          connection: {
            server: "proxy.example.com",
            port: 14330,
            requestTimeout: 30_000,
            options: { encrypt: true, appName: "orders-api", cryptoCredentialsDetails: { ca: "PEM" } },
          },
        },
        { tokenProvider: createFakeTokenProvider(), env },
      ),
    );
    expect(cfg.options).toMatchObject({
      encrypt: "strict",
      trustServerCertificate: false,
      appName: "orders-api",
      port: 14330,
      requestTimeout: 30_000,
      cryptoCredentialsDetails: { ca: "PEM" },
    });
  });

  it("reads the Service Connector variables (AZURE_SQL_*) when there is no connection", () => {
    const cfg = generated(
      withEntra(
        { client: "mssql" },
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
    expect(cfg.server).toBe("sc.database.windows.net");
    expect(cfg.options).toMatchObject({ database: "orders", port: 1433, encrypt: "strict" });
  });

  it("parses an ADO.NET connection string into the fields knex reads", () => {
    const cfg = generated(
      withEntra(
        {
          client: "mssql",
          connection:
            "Server=tcp:db.database.windows.net,1433;Database=orders;Authentication=Active Directory Default",
        } as Knex.Config,
        { tokenProvider: createFakeTokenProvider(), env },
      ),
    );
    expect(cfg.server).toBe("db.database.windows.net");
    expect(cfg.authentication.type).toBe("token-credential");
    expect(cfg.options).toMatchObject({
      database: "orders",
      encrypt: "strict",
      trustServerCertificate: false,
    });
  });

  it("adopts your own TokenCredential (with or without type: token-credential)", async () => {
    const credential = {
      getToken: async () => ({ token: CANARY, expiresOnTimestamp: Date.now() + 3_600_000 }),
    };
    for (const connection of [
      { server: "s", credential },
      { server: "s", type: "token-credential", credential },
    ]) {
      const cfg = generated(
        withEntra({ client: "mssql", connection: connection as KnexConnection }, { env }),
      );
      expect(cfg.authentication.type).toBe("token-credential");
      // Wrapped in the caching Entra credential, not passed as is.
      expect(cfg.authentication.options.credential).not.toBe(credential);
      expect(typeof (cfg.authentication.options.credential as { getToken?: unknown }).getToken).toBe(
        "function",
      );
    }
  });

  it("a connection provider's configs go through @org/mssql-entra too", async () => {
    const config = withEntra(
      {
        client: "mssql",
        connection: (async () => ({
          server: "from-vault.database.windows.net",
        })) as unknown as KnexConnection,
      },
      { tokenProvider: createFakeTokenProvider(), env },
    );
    const provided = await (config.connection as () => Promise<Record<string, unknown>>)();
    expect(provided).toMatchObject({
      server: "from-vault.database.windows.net",
      type: "token-credential",
      encrypt: "strict",
      options: { encrypt: "strict", trustServerCertificate: false },
    });
  });

  it("util.inspect of the config and of knex's settings shows no token", async () => {
    const config = withEntra(
      { client: "mssql", connection: { server: "s" } as KnexConnection },
      { tokenProvider: createFakeTokenProvider(), env },
    );
    const db = knex(config);
    instances.push(db);
    await (
      (db.client as unknown as { _generateConnection(): TediousConfig })._generateConnection().authentication
        .options.credential as { getToken(scope: string): Promise<unknown> }
    ).getToken("https://database.windows.net/.default");
    expect(inspect(config, { depth: 10 })).not.toContain(CANARY);
    expect(inspect(db.client.connectionSettings, { depth: 10 })).not.toContain(CANARY);
  });
});

describe("withEntra (knex, mssql client): refusals before any I/O", () => {
  it.each([
    ["encrypt: false", { server: "s", encrypt: false }],
    ["options.encrypt: false", { server: "s", options: { encrypt: false } }],
    ["options.trustServerCertificate: true", { server: "s", options: { trustServerCertificate: true } }],
  ])("refuses %s with INSECURE_TRANSPORT", (_name, connection) => {
    const provider = createFakeTokenProvider();
    expect(() =>
      withEntra(
        { client: "mssql", connection: connection as KnexConnection },
        { tokenProvider: provider, env },
      ),
    ).toThrowError(expect.objectContaining({ name: "EntraAuthError", code: "INSECURE_TRANSPORT" }));
    expect(provider.calls).toBe(0);
  });

  it("allowInsecure lets encrypt: false through (local testing only)", () => {
    const cfg = generated(
      withEntra(
        {
          client: "mssql",
          connection: { server: "localhost", options: { encrypt: false } } as KnexConnection,
        },
        { tokenProvider: createFakeTokenProvider(), env, allowInsecure: true },
      ),
    );
    expect(cfg.options.encrypt).toBe(false);
  });

  it.each([
    ["a SQL login", { server: "s", user: "sa", password: "hunter2" }],
    ["a SQL login user name", { server: "s", userName: "sa" }],
    ["a static access token", { server: "s", type: "azure-active-directory-access-token", token: "eyJ..." }],
    ["NTLM", { server: "s", type: "ntlm", domain: "CORP" }],
    [
      "a client secret",
      { server: "s", type: "azure-active-directory-service-principal-secret", clientSecret: "x" },
    ],
    ["tedious's per-login DefaultAzureCredential", { server: "s", type: "azure-active-directory-default" }],
    ["tedious's per-login managed identity", { server: "s", type: "azure-active-directory-msi-app-service" }],
  ])("refuses %s with INVALID_SETTING", (_name, connection) => {
    let error: unknown;
    try {
      withEntra(
        { client: "mssql", connection: connection as KnexConnection },
        { tokenProvider: createFakeTokenProvider(), env },
      );
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ name: "EntraAuthError", code: "INVALID_SETTING" });
    expect((error as Error).message).not.toContain("hunter2");
  });

  it("no server anywhere is MISSING_SETTING", () => {
    expect(() =>
      withEntra({ client: "mssql" }, { tokenProvider: createFakeTokenProvider(), env }),
    ).toThrowError(expect.objectContaining({ code: "MISSING_SETTING" }));
  });
});

describe("knex versions whose mssql dialect drops the credential", () => {
  it.each(["3.0.1", "3.1.0", "3.2.10", "2.5.1"])(
    "knex %s with client mssql is refused with the version to upgrade to",
    async (version) => {
      const { assertKnexPassesCredential } = await import("./mssql-connection.js");
      const error = (() => {
        try {
          assertKnexPassesCredential(version);
        } catch (caught) {
          return caught as { code?: string; message: string; hint?: string };
        }
      })();
      expect(error?.code).toBe("INVALID_SETTING");
      expect(error?.message).toContain(`knex ${version}`);
      expect(error?.message).toContain("knex 3.3.0");
    },
  );

  it.each(["3.3.0", "3.3.1", "3.10.0", "4.0.0", undefined])(
    "knex %s passes (undefined: knex not resolvable)",
    async (version) => {
      const { assertKnexPassesCredential } = await import("./mssql-connection.js");
      expect(() => assertKnexPassesCredential(version)).not.toThrow();
    },
  );

  it("the installed knex (the lockfile's 3.3.0) passes through withEntra", () => {
    const connection = { server: "srv.database.windows.net" } as KnexConnection;
    expect(() => withEntra({ client: "mssql", connection }, { env })).not.toThrow();
  });
});

describe("withEntra (knex, mssql client): connections hold the shared provider", () => {
  afterEach(() => resetSharedTokenProviders());

  /** A logged-in tedious connection as knex hands it to `pool.afterCreate`. */
  async function loggedIn(config: Knex.Config) {
    const cfg = generated(config);
    const credential = cfg.authentication.options.credential as { getToken(scope: string): Promise<unknown> };
    await credential.getToken("https://database.windows.net/.default"); // the login
    const connection = new Connection(cfg as never) as Connection & {
      state: unknown;
      STATE: { LOGGED_IN: unknown };
    };
    connection.state = connection.STATE.LOGGED_IN;
    return connection;
  }

  const source = {
    async getToken() {
      return { token: CANARY, expiresOnTimestamp: Date.now() + 3_600_000 };
    },
  };
  const options = { credential: source, env, warmStart: false };
  const provider = () =>
    getSharedTokenProvider({ credential: source, scope: "https://database.windows.net/.default" });

  type AfterCreate = (connection: unknown, done: (error: Error | null, connection?: unknown) => void) => void;

  function runAfterCreate(config: Knex.Config, connection: unknown): Promise<void> {
    const afterCreate = config.pool?.afterCreate as AfterCreate;
    return new Promise((resolve, reject) => afterCreate(connection, (e) => (e ? reject(e) : resolve())));
  }

  it("pool.afterCreate holds the provider until the connection ends, and runs your afterCreate once", async () => {
    const seen: unknown[] = [];
    const afterCreate: AfterCreate = (connection, done) => {
      seen.push(connection);
      done(null, connection);
    };
    const once = withEntra(
      {
        client: "mssql",
        connection: { server: "db.database.windows.net" } as KnexConnection,
        pool: { min: 0, max: 2, afterCreate },
      },
      options,
    );
    const twice = withEntra(once, options); // wrapping again does not chain a second hook
    expect(twice.pool).toMatchObject({ min: 0, max: 2 });
    const connection = await loggedIn(twice);
    await runAfterCreate(twice, connection);
    expect(seen).toEqual([connection]);
    expect(provider().stats.holds).toBe(1);
    connection.emit("end");
    expect(provider().stats.holds).toBe(0);
  });

  it("without your afterCreate, each new connection is held; clients pg and mysql2 get no afterCreate", async () => {
    const config = withEntra(
      { client: "mssql", connection: { server: "db.database.windows.net" } as KnexConnection },
      options,
    );
    const connections = [await loggedIn(config), await loggedIn(config)];
    for (const connection of connections) await runAfterCreate(config, connection);
    expect(provider().stats.holds).toBe(2);
    for (const connection of connections) connection.emit("end");
    expect(provider().stats.holds).toBe(0);
    const pg = withEntra({ client: "pg", connection: { host: "h", user: "u" } } as Knex.Config, {
      tokenProvider: createFakeTokenProvider(),
      env,
    });
    expect(pg.pool).toBeUndefined();
  });

  it("pool.validate retires a session whose token expires soon, then runs your validate", async () => {
    const mine: unknown[] = [];
    const knexConfig = (expiresInMs: number) =>
      withEntra(
        {
          client: "mssql",
          connection: { server: "db.database.windows.net" } as KnexConnection,
          pool: {
            validate: (connection: unknown) => {
              mine.push(connection);
              return true;
            },
          },
        },
        { tokenProvider: createFakeTokenProvider({ expiresInMs }), env },
      );
    const config = knexConfig(3_600_000);
    expect(withEntra(config, options).pool?.validate).toBeTypeOf("function");
    const fresh = await loggedIn(config);
    await runAfterCreate(config, fresh);
    const validate = (knex: Knex.Config) => knex.pool?.validate as (connection: unknown) => boolean;
    expect(validate(config)(fresh)).toBe(true);
    expect(mine).toEqual([fresh]);

    // A login whose token was at the end of its life.
    const staleConfig = knexConfig(0);
    const stale = await loggedIn(staleConfig);
    await runAfterCreate(staleConfig, stale);
    expect(validate(staleConfig)(stale)).toBe(false);
    expect(mine).toEqual([fresh]);
  });
});
