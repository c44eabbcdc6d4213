import { EventEmitter } from "node:events";
import { inspect } from "node:util";
import { getSharedTokenProvider, resetSharedTokenProviders } from "@org/entra-core";
import { CANARY_TOKEN as CANARY, createFakeTokenProvider, fakeTlsSocket } from "@org/entra-core/testing";
import { type Options, Sequelize } from "sequelize";
import { afterEach, describe, expect, it } from "vitest";
import { withEntra } from "./with-entra.js";

const env = {};
type Hook = (config: Record<string, unknown>) => Promise<void> | void;

function beforeConnectHooks(options: Options): Hook[] {
  const hooks = (options.hooks as { beforeConnect?: Hook | Hook[] } | undefined)?.beforeConnect;
  return hooks === undefined ? [] : Array.isArray(hooks) ? hooks : [hooks];
}

async function runBeforeConnect(options: Options, config: Record<string, unknown>): Promise<void> {
  for (const hook of beforeConnectHooks(options)) await hook(config);
}

const insecure = [
  ["ssl: false", { ssl: false }],
  ["rejectUnauthorized: false", { ssl: { rejectUnauthorized: false } }],
  ["the common Azure snippet", { ssl: { require: true, rejectUnauthorized: false } }],
] as const;

describe("withEntra (postgres dialect)", () => {
  it("passes pg-entra's password function, which pg calls for each connection", async () => {
    const provider = createFakeTokenProvider();
    const options = withEntra(
      { dialect: "postgres", host: "db.postgres.database.azure.com", username: "app" },
      { tokenProvider: provider, env },
    );
    expect(typeof options.password).toBe("function");
    await expect((options.password as unknown as () => Promise<string>).call(undefined)).resolves.toBe(
      CANARY,
    );
    expect(provider.calls).toBe(1);
    expect(options.username).toBe("app");
  });

  it("turns verified TLS on in dialectOptions.ssl and keeps a private CA", () => {
    const provider = createFakeTokenProvider();
    expect(
      withEntra({ dialect: "postgres", username: "u" }, { tokenProvider: provider, env }).dialectOptions,
    ).toEqual({ ssl: { rejectUnauthorized: true } });
    const withCa = withEntra(
      { dialect: "postgres", username: "u", dialectOptions: { ssl: { ca: "PEM" }, application_name: "app" } },
      { tokenProvider: provider, env },
    );
    expect(withCa.dialectOptions).toEqual({
      ssl: { ca: "PEM", rejectUnauthorized: true },
      application_name: "app",
    });
  });

  it("reads the Service Connector AZURE_POSTGRESQL_* variables", () => {
    const options = withEntra(
      { dialect: "postgres" },
      {
        tokenProvider: createFakeTokenProvider(),
        env: {
          AZURE_POSTGRESQL_HOST: "srv.postgres.database.azure.com",
          AZURE_POSTGRESQL_PORT: "6432",
          AZURE_POSTGRESQL_DATABASE: "appdb",
          AZURE_POSTGRESQL_USER: "my-identity",
        },
      },
    );
    expect(options).toMatchObject({
      host: "srv.postgres.database.azure.com",
      port: 6432,
      database: "appdb",
      username: "my-identity",
    });
    expect(beforeConnectHooks(options)).toEqual([]);
  });

  it("learns the user name from the token in beforeConnect when none is configured", async () => {
    const provider = createFakeTokenProvider();
    const options = withEntra({ dialect: "postgres", host: "h" }, { tokenProvider: provider, env });
    expect(options.username).toBeUndefined();
    const config: Record<string, unknown> = {};
    await runBeforeConnect(options, config);
    expect(config.username).toBe("canary-app");
  });

  it.each(insecure)("refuses an insecure config (%s) before any I/O", (_name, dialectOptions) => {
    const provider = createFakeTokenProvider();
    expect(() =>
      withEntra({ dialect: "postgres", username: "u", dialectOptions }, { tokenProvider: provider, env }),
    ).toThrowError(expect.objectContaining({ name: "EntraAuthError", code: "INSECURE_TRANSPORT" }));
    expect(provider.calls).toBe(0);
  });

  it("refuses AZURE_POSTGRESQL_SSL=false, and allows TLS off only with allowInsecure", () => {
    expect(() =>
      withEntra(
        { dialect: "postgres" },
        { tokenProvider: createFakeTokenProvider(), env: { AZURE_POSTGRESQL_SSL: "false" } },
      ),
    ).toThrowError(expect.objectContaining({ code: "INSECURE_TRANSPORT" }));
    const options = withEntra(
      { dialect: "postgres", username: "u", dialectOptions: { ssl: false } },
      { tokenProvider: createFakeTokenProvider(), env, allowInsecure: true },
    );
    expect(options.dialectOptions).toEqual({ ssl: false });
  });

  it("works through a real Sequelize instance: the password function reaches the connection config", () => {
    const sequelize = new Sequelize(
      withEntra(
        { dialect: "postgres", username: "u", logging: false },
        { tokenProvider: createFakeTokenProvider(), env },
      ),
    );
    const config = (sequelize.connectionManager as unknown as { config: { password: unknown } }).config;
    expect(typeof config.password).toBe("function");
    expect(inspect(sequelize, { depth: 8 })).not.toContain(CANARY);
  });
});

describe("withEntra (mysql dialect, mysql2)", () => {
  it("puts mysql2-entra's clear-password plugin and verified TLS into dialectOptions", async () => {
    const provider = createFakeTokenProvider();
    const options = withEntra(
      {
        dialect: "mysql",
        host: "db.mysql.database.azure.com",
        username: "app",
        dialectOptions: { charset: "utf8mb4" },
      },
      { tokenProvider: provider, env },
    );
    const dialectOptions = options.dialectOptions as {
      ssl: unknown;
      charset: string;
      authPlugins: Record<string, (context: object) => (data: Buffer) => Promise<Buffer>>;
    };
    expect(dialectOptions.ssl).toEqual({ verifyIdentity: true });
    expect(dialectOptions.charset).toBe("utf8mb4");
    const plugin = dialectOptions.authPlugins.mysql_clear_password?.({
      connection: { stream: fakeTlsSocket() },
    });
    await expect(plugin?.(Buffer.alloc(0))).resolves.toEqual(Buffer.from(`${CANARY}\0`));
    expect(options).toMatchObject({ host: "db.mysql.database.azure.com", username: "app" });
    expect(dialectOptions).not.toHaveProperty("user");
  });

  it("reads AZURE_MYSQL_* and learns the user name from the token when none is configured", () => {
    const options = withEntra(
      { dialect: "mysql" },
      {
        tokenProvider: createFakeTokenProvider(),
        env: { AZURE_MYSQL_HOST: "m.mysql.database.azure.com", AZURE_MYSQL_DATABASE: "d" },
      },
    );
    expect(options).toMatchObject({ host: "m.mysql.database.azure.com", database: "d" });
    expect(typeof (options.dialectOptions as { stream?: unknown }).stream).toBe("function");
  });

  it.each([...insecure, ["an SSL profile name", { ssl: "Amazon RDS" }]] as const)(
    "refuses an insecure config (%s) before any I/O",
    (_name, dialectOptions) => {
      const provider = createFakeTokenProvider();
      expect(() =>
        withEntra({ dialect: "mysql", username: "u", dialectOptions }, { tokenProvider: provider, env }),
      ).toThrowError(expect.objectContaining({ name: "EntraAuthError", code: "INSECURE_TRANSPORT" }));
      expect(provider.calls).toBe(0);
    },
  );
});

describe("withEntra (mariadb dialect)", () => {
  it("sets a fresh token as a hidden config.password in beforeConnect, for each connection", async () => {
    const provider = createFakeTokenProvider();
    const options = withEntra(
      { dialect: "mariadb", host: "db.mysql.database.azure.com", username: "app" },
      { tokenProvider: provider, env },
    );
    expect(options.dialectOptions).toEqual({ ssl: { rejectUnauthorized: true } });
    const config: Record<string, unknown> = { username: "app", password: null };
    await runBeforeConnect(options, config);
    await runBeforeConnect(options, config);
    expect(provider.calls).toBe(2);
    expect(config.password).toBe(CANARY);
    expect(Object.keys(config)).not.toContain("password");
    expect(inspect(config)).not.toContain(CANARY);
    expect(config.username).toBe("app");
  });

  it("learns the user name from the token at connect time when none is configured", async () => {
    const options = withEntra(
      { dialect: "mariadb", host: "h" },
      { tokenProvider: createFakeTokenProvider(), env },
    );
    const config: Record<string, unknown> = {};
    await runBeforeConnect(options, config);
    expect(config.username).toBe("canary-app");
  });

  it("runs the caller's beforeConnect hooks first (function or array) and keeps other hooks", async () => {
    const calls: string[] = [];
    const afterConnect = () => {};
    const asFunction = withEntra(
      {
        dialect: "mariadb",
        username: "u",
        hooks: {
          beforeConnect: (config) => {
            calls.push(`theirs:${String((config as { password?: unknown }).password)}`);
          },
          afterConnect,
        },
      },
      { tokenProvider: createFakeTokenProvider(), env },
    );
    const config: Record<string, unknown> = {};
    await runBeforeConnect(asFunction, config);
    expect(calls).toEqual(["theirs:undefined"]);
    expect(config.password).toBe(CANARY);
    expect(asFunction.hooks?.afterConnect).toBe(afterConnect);

    const first = async () => void calls.push("first");
    const second = async () => void calls.push("second");
    const asArray = withEntra(
      { dialect: "mariadb", username: "u", hooks: { beforeConnect: [first, second] as never } },
      { tokenProvider: createFakeTokenProvider(), env },
    );
    expect(beforeConnectHooks(asArray)).toHaveLength(3);
    expect(beforeConnectHooks(asArray).slice(0, 2)).toEqual([first, second]);
  });

  it("wrapping twice runs the token hook once", async () => {
    const provider = createFakeTokenProvider();
    const once = withEntra({ dialect: "mariadb", username: "u" }, { tokenProvider: provider, env });
    const twice = withEntra(once, { tokenProvider: provider, env });
    expect(beforeConnectHooks(twice)).toHaveLength(1);
    await runBeforeConnect(twice, {});
    expect(provider.calls).toBe(1);
  });

  it("chains hooks through a real Sequelize instance, and the instance never shows the token", async () => {
    const seen: string[] = [];
    const sequelize = new Sequelize(
      withEntra(
        {
          dialect: "mariadb",
          username: "u",
          logging: false,
          hooks: { beforeConnect: () => void seen.push("theirs") },
        },
        { tokenProvider: createFakeTokenProvider(), env },
      ),
    );
    const manager = sequelize.connectionManager as unknown as { config: Record<string, unknown> };
    await (sequelize as unknown as { runHooks(name: string, config: object): Promise<void> }).runHooks(
      "beforeConnect",
      manager.config,
    );
    expect(seen).toEqual(["theirs"]);
    expect(manager.config.password).toBe(CANARY);
    expect(inspect(sequelize, { depth: 8 })).not.toContain(CANARY);
  });

  it("maps the server's token errors from the connector, drops an expired token, and says what to do", async () => {
    const provider = createFakeTokenProvider();
    const failure = Object.assign(
      new Error(
        "(conn:-1, no: 9119, SQLState: 28000) The access token has expired. Please acquire a new token and retry.",
      ),
      { errno: 9119, sqlMessage: "The access token has expired. Please acquire a new token and retry." },
    );
    const driver = {
      createConnection: async () => {
        throw failure;
      },
    };
    const options = withEntra(
      { dialect: "mariadb", username: "u", dialectModule: driver },
      { tokenProvider: provider, env },
    );
    const wrapped = options.dialectModule as typeof driver;
    expect(wrapped).not.toBe(driver);
    const error = (await wrapped.createConnection().catch((e: unknown) => e)) as Error;
    expect(error.message).toContain("The access token has expired");
    expect(error.message).toContain("TOKEN_EXPIRED");
    expect(provider.invalidations).toBe(1);
  });

  it("opens every connection through the greeting guard, keeping a stream option of the caller's", async () => {
    const seen: Record<string, unknown>[] = [];
    const driver = {
      version: "3.4.5",
      createConnection: async (options: Record<string, unknown>) => {
        seen.push(options);
        return {};
      },
    };
    const ownStream = () => undefined;
    const options = withEntra(
      { dialect: "mariadb", username: "u", host: "db.example.com", dialectModule: driver },
      { tokenProvider: createFakeTokenProvider(), env },
    );
    const wrapped = options.dialectModule as typeof driver;
    await wrapped.createConnection({ host: "db.example.com", port: 3306, stream: ownStream });
    expect(typeof seen[0]?.stream).toBe("function");
    expect(seen[0]?.stream).not.toBe(ownStream);
    const insecure = withEntra(
      { dialect: "mariadb", username: "u", dialectModule: driver, dialectOptions: { ssl: false } },
      { tokenProvider: createFakeTokenProvider(), env, allowInsecure: true },
    );
    await (insecure.dialectModule as typeof driver).createConnection({ host: "localhost" });
    expect(seen[1]?.stream).toBeUndefined();
  });

  it("names the token's principal when the server does not know the user", async () => {
    const failure = Object.assign(new Error("Access denied for user 'wrong'@'%'"), {
      errno: 1045,
      sqlMessage: "Access denied for user 'wrong'@'%' (using password: YES)",
    });
    const provider = createFakeTokenProvider();
    const options = withEntra(
      {
        dialect: "mariadb",
        username: "wrong",
        dialectModule: {
          createConnection: async () => {
            throw failure;
          },
        },
      },
      { tokenProvider: provider, env },
    );
    const wrapped = options.dialectModule as { createConnection(o: object): Promise<unknown> };
    const error = (await wrapped
      .createConnection({ user: "wrong", password: CANARY })
      .catch((e: unknown) => e)) as Error;
    expect(error.message).toContain("PRINCIPAL_UNKNOWN");
    expect(error.message).toContain('The token belongs to "canary-app"');
    expect(error.message).not.toContain(CANARY);
    expect(provider.invalidations).toBe(0);
  });

  it.each([...insecure, ['ssl: "false" (read as off by the connector)', { ssl: "false" }]] as const)(
    "refuses an insecure config (%s) before any I/O",
    (_name, dialectOptions) => {
      const provider = createFakeTokenProvider();
      expect(() =>
        withEntra({ dialect: "mariadb", username: "u", dialectOptions }, { tokenProvider: provider, env }),
      ).toThrowError(expect.objectContaining({ name: "EntraAuthError", code: "INSECURE_TRANSPORT" }));
      expect(provider.calls).toBe(0);
    },
  );

  it("refuses AZURE_MYSQL_SSL=false and a restrictedAuth list without mysql_clear_password", () => {
    expect(() =>
      withEntra(
        { dialect: "mariadb" },
        { tokenProvider: createFakeTokenProvider(), env: { AZURE_MYSQL_SSL: "false" } },
      ),
    ).toThrowError(expect.objectContaining({ code: "INSECURE_TRANSPORT" }));
    expect(() =>
      withEntra(
        { dialect: "mariadb", dialectOptions: { restrictedAuth: "mysql_native_password" } },
        { tokenProvider: createFakeTokenProvider(), env },
      ),
    ).toThrowError(expect.objectContaining({ code: "INVALID_SETTING" }));
    expect(() =>
      withEntra(
        { dialect: "mariadb", dialectOptions: { restrictedAuth: ["mysql_clear_password"] } },
        { tokenProvider: createFakeTokenProvider(), env },
      ),
    ).not.toThrow();
  });
});

describe("withEntra (all dialects)", () => {
  it("passes every other field through untouched", () => {
    const logging = () => {};
    const define = { timestamps: false };
    const options = withEntra(
      { dialect: "mariadb", username: "u", logging, define, pool: { max: 7 }, timezone: "+02:00" },
      { tokenProvider: createFakeTokenProvider(), env },
    );
    expect(options.logging).toBe(logging);
    expect(options.define).toBe(define);
    expect(options.pool).toEqual({ max: 7 });
    expect(options.timezone).toBe("+02:00");
  });

  it.each(["postgres", "mysql", "mariadb"] as const)("refuses a static password (%s)", (dialect) => {
    expect(() =>
      withEntra(
        { dialect, username: "u", password: "secret" },
        { tokenProvider: createFakeTokenProvider(), env },
      ),
    ).toThrowError(expect.objectContaining({ code: "INVALID_SETTING" }));
  });

  it("refuses other dialects and a missing dialect, with what to do", () => {
    expect(() =>
      withEntra({ dialect: "sqlite" }, { tokenProvider: createFakeTokenProvider(), env }),
    ).toThrowError(
      expect.objectContaining({ code: "INVALID_SETTING", message: expect.stringContaining("postgres") }),
    );
    expect(() => withEntra(undefined, { tokenProvider: createFakeTokenProvider(), env })).toThrowError(
      expect.objectContaining({ code: "MISSING_SETTING" }),
    );
  });

  it.each(["postgres", "mysql", "mariadb"] as const)(
    "no token in util.inspect of the options (%s)",
    async (dialect) => {
      const options = withEntra(
        { dialect, username: "u" },
        { tokenProvider: createFakeTokenProvider(), env },
      );
      await runBeforeConnect(options, {});
      expect(inspect(options, { depth: 8, showHidden: true })).not.toContain(CANARY);
    },
  );
});

describe("withEntra (mariadb dialect): connections hold the shared provider", () => {
  afterEach(() => resetSharedTokenProviders());

  const source = {
    async getToken() {
      return { token: CANARY, expiresOnTimestamp: Date.now() + 3_600_000 };
    },
  };
  const provider = () =>
    getSharedTokenProvider({
      credential: source,
      scope: "https://ossrdbms-aad.database.windows.net/.default",
    });

  /** A mariadb promise connection: `end()` and `destroy()` emit nothing; the `end` event means the server closed it. */
  class FakeConnection extends EventEmitter {
    ended = 0;
    async query() {
      return [];
    }
    async end() {
      this.ended++;
    }
    destroy() {
      this.ended++;
    }
  }

  function wrappedDriver() {
    const driver = { version: "3.5.4", createConnection: async () => new FakeConnection() };
    const options = withEntra(
      { dialect: "mariadb", username: "u", host: "db.example.com", dialectModule: driver },
      { credential: source, env, warmStart: false },
    );
    return options.dialectModule as { createConnection(o: object): Promise<FakeConnection> };
  }

  it("holds while each connection is open: end(), destroy() and the end event release", async () => {
    const driver = wrappedDriver();
    const [a, b, c] = await Promise.all(
      [1, 2, 3].map(() => driver.createConnection({ host: "db.example.com", password: CANARY })),
    );
    expect(provider().stats.holds).toBe(3);
    await a?.end();
    expect(a?.ended).toBe(1);
    b?.destroy();
    c?.emit("end");
    expect(provider().stats.holds).toBe(0);
    await a?.end(); // idempotent
    expect(provider().stats.holds).toBe(0);
  });

  it("a refused login holds nothing", async () => {
    const options = withEntra(
      {
        dialect: "mariadb",
        username: "u",
        dialectModule: {
          createConnection: async () => {
            throw Object.assign(new Error("Access denied"), { errno: 1045, sqlMessage: "Access denied" });
          },
        },
      },
      { credential: source, env, warmStart: false },
    );
    const wrapped = options.dialectModule as { createConnection(o: object): Promise<unknown> };
    await expect(wrapped.createConnection({ host: "localhost", password: CANARY })).rejects.toThrow();
    expect(provider().stats.holds).toBe(0);
  });
});
