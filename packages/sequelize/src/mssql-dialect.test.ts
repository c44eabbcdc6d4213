import { EventEmitter } from "node:events";
import { inspect } from "node:util";
import { getSharedTokenProvider, resetSharedTokenProviders } from "@org/entra-core";
import { CANARY_TOKEN as CANARY, createFakeTokenProvider } from "@org/entra-core/testing";
import { type Options, Sequelize } from "sequelize";
import * as tedious from "tedious";
import { afterEach, describe, expect, it } from "vitest";
import { withEntra } from "./with-entra.js";

const env = {};

type TediousConfig = {
  server: string;
  authentication: { type: string; options: { credential?: { getToken(scope: string): Promise<unknown> } } };
  options: Record<string, unknown>;
};

/**
 * A stand-in for the tedious module: `Connection` records the config Sequelize builds and answers
 * `connect()` with `loginError` (or success) without any network I/O. Everything else is tedious's.
 */
function fakeTedious(loginError?: Error) {
  const configs: TediousConfig[] = [];
  class Connection extends EventEmitter {
    readonly STATE = { INITIALIZED: { name: "Initialized" } };
    state: { name: string } = this.STATE.INITIALIZED;
    /** tedious keeps the normalised config here; watchEntraErrors reads the credential from it. */
    readonly config: TediousConfig;
    constructor(config: TediousConfig) {
      super();
      this.config = config;
      configs.push(config);
    }
    connect() {
      // As tedious does at FEDAUTHINFO: ask the credential for a token, then report the login.
      const credential = this.config.authentication.options.credential;
      void Promise.resolve(credential?.getToken("https://database.windows.net/.default")).then(() => {
        if (loginError) {
          this.state = { name: "Final" };
          this.emit("connect", loginError);
        } else {
          this.state = { name: "LoggedIn" };
          this.emit("connect");
        }
      });
    }
    close() {
      this.state = { name: "Final" };
      setImmediate(() => this.emit("end"));
    }
  }
  return { module: { ...tedious, Connection }, configs };
}

const instances: Sequelize[] = [];

function open(options: Options): Sequelize {
  // databaseVersion skips Sequelize's version-probe query.
  // `databaseVersion` is a Sequelize option its types do not list.
  const sequelize = new Sequelize({ ...options, databaseVersion: "16.0.0", logging: false } as Options);
  instances.push(sequelize);
  return sequelize;
}

afterEach(async () => {
  await Promise.all(instances.splice(0).map((sequelize) => sequelize.close()));
});

describe("withEntra (mssql dialect): the tedious config Sequelize builds", () => {
  it("token-credential authentication, encrypt strict, trustServerCertificate false (Sequelize defaults it to true)", async () => {
    const provider = createFakeTokenProvider();
    const fake = fakeTedious();
    const sequelize = open(
      withEntra(
        { dialect: "mssql", host: "db.database.windows.net", database: "orders", dialectModule: fake.module },
        { tokenProvider: provider, env },
      ),
    );
    const connection = await sequelize.connectionManager.getConnection({ type: "write" });
    sequelize.connectionManager.releaseConnection(connection);
    const config = fake.configs[0] as TediousConfig;
    expect(config.server).toBe("db.database.windows.net");
    expect(config.authentication.type).toBe("token-credential");
    expect(Object.keys(config.authentication.options)).toEqual(["credential"]);
    expect(config.options).toMatchObject({
      port: 1433,
      database: "orders",
      encrypt: "strict",
      trustServerCertificate: false,
    });
    // The real credential, not the lodash clone of Sequelize's config (which loses its private state).
    await expect(
      config.authentication.options.credential?.getToken("https://database.windows.net/.default"),
    ).resolves.toMatchObject({ token: CANARY });
    expect(provider.calls).toBe(2); // the fake login, and the call above
    // tedious itself accepts the config (constructor validation only, no connect).
    const real = new tedious.Connection(config as never) as unknown as { config: TediousConfig };
    expect(real.config.options.encrypt).toBe("strict");
    expect(real.config.authentication.type).toBe("token-credential");
  });

  it("keeps your tedious options (ca, instanceName), makes encrypt: true strict, and reads AZURE_SQL_* variables", async () => {
    const fake = fakeTedious();
    const sequelize = open(
      withEntra(
        {
          dialect: "mssql",
          dialectModule: fake.module,
          dialectOptions: {
            options: { encrypt: true, instanceName: "SQLEXPRESS", cryptoCredentialsDetails: { ca: "PEM" } },
          },
        },
        {
          tokenProvider: createFakeTokenProvider(),
          env: { AZURE_SQL_SERVER: "sc.database.windows.net", AZURE_SQL_DATABASE: "orders" },
        },
      ),
    );
    const connection = await sequelize.connectionManager.getConnection({ type: "write" });
    sequelize.connectionManager.releaseConnection(connection);
    const config = fake.configs[0] as TediousConfig;
    expect(config.server).toBe("sc.database.windows.net");
    expect(config.options).toMatchObject({
      database: "orders",
      encrypt: "strict",
      trustServerCertificate: false,
      instanceName: "SQLEXPRESS",
      cryptoCredentialsDetails: { ca: "PEM" },
    });
    expect(config.options.port).toBeUndefined();
  });

  it("a rejected login names the reason, and an expired token is dropped from the cache", async () => {
    const provider = createFakeTokenProvider();
    const loginError = Object.assign(
      new Error("Login failed for user '<token-identified principal>'. Token is expired."),
      { code: "ELOGIN" },
    );
    const fake = fakeTedious(loginError);
    const sequelize = open(
      withEntra(
        { dialect: "mssql", host: "db.database.windows.net", dialectModule: fake.module, pool: { max: 1 } },
        { tokenProvider: provider, env },
      ),
    );
    const error = await sequelize.connectionManager.getConnection({ type: "write" }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toMatchObject({ name: "SequelizeAccessDeniedError" });
    expect((error as Error).message).toMatch(/\[@org\/tedious-entra TOKEN_EXPIRED\]/);
    expect(provider.invalidations).toBeGreaterThanOrEqual(1);
  });

  it("the user's beforeConnect hooks still run, before the Entra one", async () => {
    const order: string[] = [];
    const fake = fakeTedious();
    const sequelize = open(
      withEntra(
        {
          dialect: "mssql",
          host: "db.database.windows.net",
          dialectModule: fake.module,
          hooks: {
            beforeConnect: async (config) => {
              order.push("theirs");
              (config as { database?: string }).database = "from-hook";
            },
          },
        },
        { tokenProvider: createFakeTokenProvider(), env },
      ),
    );
    const connection = await sequelize.connectionManager.getConnection({ type: "write" });
    sequelize.connectionManager.releaseConnection(connection);
    expect(order).toEqual(["theirs"]);
    expect(fake.configs[0]?.options.database).toBe("from-hook");
    expect(fake.configs[0]?.authentication.type).toBe("token-credential");
  });

  it("wrapping twice does not stack hooks or driver wrappers", async () => {
    const fake = fakeTedious();
    const once = withEntra(
      { dialect: "mssql", host: "db.database.windows.net", dialectModule: fake.module },
      { tokenProvider: createFakeTokenProvider(), env },
    );
    const twice = withEntra(once, { tokenProvider: createFakeTokenProvider(), env });
    const hooks = (twice.hooks as unknown as { beforeConnect: unknown[] }).beforeConnect;
    expect(hooks).toHaveLength(1);
    expect(Object.getPrototypeOf(twice.dialectModule)).toBe(fake.module);
  });

  it("no token in util.inspect of the options or the Sequelize instance's config", async () => {
    const fake = fakeTedious();
    const options = withEntra(
      { dialect: "mssql", host: "db.database.windows.net", dialectModule: fake.module },
      { tokenProvider: createFakeTokenProvider(), env },
    );
    const sequelize = open(options);
    const connection = await sequelize.connectionManager.getConnection({ type: "write" });
    sequelize.connectionManager.releaseConnection(connection);
    await fake.configs[0]?.authentication.options.credential?.getToken(
      "https://database.windows.net/.default",
    );
    expect(inspect(options, { depth: 8, showHidden: true })).not.toContain(CANARY);
    expect(inspect(sequelize.config, { depth: 8, showHidden: true })).not.toContain(CANARY);
  });
});

describe("withEntra (mssql dialect): refusals before any I/O", () => {
  it.each([
    ["encrypt: false", { options: { encrypt: false } }],
    ["trustServerCertificate: true", { options: { trustServerCertificate: true } }],
  ])("refuses %s with INSECURE_TRANSPORT", (_name, dialectOptions) => {
    const provider = createFakeTokenProvider();
    expect(() =>
      withEntra({ dialect: "mssql", host: "h", dialectOptions }, { tokenProvider: provider, env }),
    ).toThrowError(expect.objectContaining({ name: "EntraAuthError", code: "INSECURE_TRANSPORT" }));
    expect(provider.calls).toBe(0);
  });

  it("allowInsecure lets them through (local testing only)", () => {
    const options = withEntra(
      { dialect: "mssql", host: "localhost", dialectOptions: { options: { trustServerCertificate: true } } },
      { tokenProvider: createFakeTokenProvider(), env, allowInsecure: true },
    );
    expect(
      (options.dialectOptions as { options: Record<string, unknown> }).options.trustServerCertificate,
    ).toBe(true);
  });

  it.each([
    ["a password", { password: "hunter2" }],
    ["a username (SQL login)", { username: "sa" }],
    [
      "a default (SQL login) authentication",
      { dialectOptions: { authentication: { type: "default", options: { userName: "sa" } } } },
    ],
    [
      "a static access token",
      {
        dialectOptions: {
          authentication: { type: "azure-active-directory-access-token", options: { token: "eyJ" } },
        },
      },
    ],
    [
      "tedious's per-login DefaultAzureCredential",
      { dialectOptions: { authentication: { type: "azure-active-directory-default" } } },
    ],
  ])("refuses %s with INVALID_SETTING", (_name, extra) => {
    let error: unknown;
    try {
      withEntra({ dialect: "mssql", host: "h", ...extra } as Options, {
        tokenProvider: createFakeTokenProvider(),
        env,
      });
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ name: "EntraAuthError", code: "INVALID_SETTING" });
    expect((error as Error).message).not.toContain("hunter2");
  });

  it("no host anywhere is MISSING_SETTING", () => {
    expect(() =>
      withEntra({ dialect: "mssql" }, { tokenProvider: createFakeTokenProvider(), env }),
    ).toThrowError(expect.objectContaining({ code: "MISSING_SETTING" }));
  });
});

describe("withEntra (mssql dialect): connections hold the shared provider", () => {
  afterEach(() => resetSharedTokenProviders());

  const source = {
    async getToken() {
      return { token: CANARY, expiresOnTimestamp: Date.now() + 3_600_000 };
    },
  };
  const provider = () =>
    getSharedTokenProvider({ credential: source, scope: "https://database.windows.net/.default" });

  it("each logged-in connection holds it until it closes; sequelize.close() leaves no hold", async () => {
    const fake = fakeTedious();
    const sequelize = new Sequelize({
      ...withEntra(
        { dialect: "mssql", host: "db.database.windows.net", dialectModule: fake.module, pool: { max: 2 } },
        { credential: source, env, warmStart: false },
      ),
      databaseVersion: "16.0.0",
      logging: false,
    } as Options);
    const manager = sequelize.connectionManager;
    const connections = await Promise.all([
      manager.getConnection({ type: "write" }),
      manager.getConnection({ type: "write" }),
    ]);
    expect(provider().stats.holds).toBe(2);
    for (const connection of connections) manager.releaseConnection(connection);
    await sequelize.close();
    expect(provider().stats.holds).toBe(0);
  });

  it("a refused login holds nothing", async () => {
    const fake = fakeTedious(
      Object.assign(new Error("Login failed for user '<token-identified principal>'."), { code: "ELOGIN" }),
    );
    const sequelize = open(
      withEntra(
        { dialect: "mssql", host: "db.database.windows.net", dialectModule: fake.module, pool: { max: 1 } },
        { credential: source, env, warmStart: false },
      ),
    );
    await expect(sequelize.connectionManager.getConnection({ type: "write" })).rejects.toThrow();
    expect(provider().stats.holds).toBe(0);
  });
});

describe("withEntra (mssql dialect): sessions are retired before their token expires (Azure SQL 37396)", () => {
  async function reuse(expiresInMs: number, validate?: (connection: unknown) => boolean) {
    const fake = fakeTedious();
    const sequelize = open(
      withEntra(
        {
          dialect: "mssql",
          host: "db.database.windows.net",
          dialectModule: fake.module,
          pool: { max: 1, ...(validate ? { validate } : {}) },
        },
        { tokenProvider: createFakeTokenProvider({ expiresInMs }), env },
      ),
    );
    const first = await sequelize.connectionManager.getConnection({ type: "write" });
    sequelize.connectionManager.releaseConnection(first);
    const second = await sequelize.connectionManager.getConnection({ type: "write" });
    sequelize.connectionManager.releaseConnection(second);
    return { first, second, logins: fake.configs.length };
  }

  it("reuses a session whose token is valid, and replaces one whose token is at the end of its life", async () => {
    const fresh = await reuse(3_600_000);
    expect(fresh.second).toBe(fresh.first);
    expect(fresh.logins).toBe(1);
    const stale = await reuse(0);
    expect(stale.second).not.toBe(stale.first);
    expect(stale.logins).toBe(2);
  });

  it("your pool.validate still decides for sessions whose token is valid", async () => {
    const seen: unknown[] = [];
    const refused = await reuse(3_600_000, (connection) => {
      seen.push(connection);
      return false;
    });
    expect(seen).toContain(refused.first);
    expect(refused.second).not.toBe(refused.first);
  });

  it("a session Azure SQL ended with 37396 is not handed out again", async () => {
    const fake = fakeTedious();
    const sequelize = open(
      withEntra(
        { dialect: "mssql", host: "db.database.windows.net", dialectModule: fake.module, pool: { max: 1 } },
        { tokenProvider: createFakeTokenProvider(), env },
      ),
    );
    const first = (await sequelize.connectionManager.getConnection({ type: "write" })) as EventEmitter;
    const token = { number: 37396, message: "Query cannot be executed, access token is expired." };
    first.emit("errorMessage", token);
    expect(token.message).toContain("[@org/tedious-entra TOKEN_EXPIRED]");
    sequelize.connectionManager.releaseConnection(first as never);
    const second = await sequelize.connectionManager.getConnection({ type: "write" });
    expect(second).not.toBe(first);
    sequelize.connectionManager.releaseConnection(second);
  });
});
