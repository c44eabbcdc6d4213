import { inspect } from "node:util";
import { CANARY_TOKEN as CANARY, createFakeTokenProvider, fakeTlsSocket } from "@org/entra-core/testing";
import { describe, expect, it } from "vitest";
import { withEntra } from "./with-entra.js";

const env = {};
type Options = Record<string, unknown> & { extra?: Record<string, unknown> };
type Plugin = (context: object) => (data: Buffer) => Promise<Buffer>;
const wire = (options: Record<string, unknown>, entra: Record<string, unknown> = {}) =>
  withEntra(
    { type: "mysql", ...options },
    { tokenProvider: createFakeTokenProvider(), env, ...entra },
  ) as Options;
const plugin = (result: Options) =>
  (result.extra?.authPlugins as Record<string, Plugin> | undefined)?.mysql_clear_password as Plugin;

describe("withEntra (TypeORM mysql / mariadb)", () => {
  it.each(["mysql", "mariadb"])(
    "type %s: sends the token through extra.authPlugins, with verified TLS and mysql2",
    async (type) => {
      const provider = createFakeTokenProvider();
      const result = withEntra(
        { type, host: "db.mysql.database.azure.com", username: "app", database: "shop" },
        { tokenProvider: provider, env },
      ) as Options;
      expect(provider.calls).toBe(0);
      expect(result).toMatchObject({
        type,
        host: "db.mysql.database.azure.com",
        username: "app",
        database: "shop",
        connectorPackage: "mysql2",
        ssl: { verifyIdentity: true },
      });
      const answer = await plugin(result)({ connection: { stream: fakeTlsSocket() } })(Buffer.alloc(0));
      expect(answer.toString()).toBe(`${CANARY}\0`);
      expect(provider.calls).toBe(1);
    },
  );

  it("keeps every field it does not own, and the caller's other extra fields and auth plugins", () => {
    class User {}
    const other = () => async () => Buffer.alloc(0);
    const result = wire({
      host: "h",
      username: "u",
      entities: [User],
      migrations: ["m/*.js"],
      synchronize: true,
      poolSize: 3,
      charset: "utf8mb4",
      extra: { connectionLimit: 4, authPlugins: { other } },
    });
    expect(result).toMatchObject({
      entities: [User],
      migrations: ["m/*.js"],
      synchronize: true,
      poolSize: 3,
    });
    expect(result.charset).toBe("utf8mb4");
    expect(result.extra?.connectionLimit).toBe(4);
    expect(result.extra?.authPlugins).toMatchObject({ other });
  });

  it('refuses connectorPackage: "mysql" (the mysql package cannot send a token)', () => {
    expect(() => wire({ host: "h", username: "u", connectorPackage: "mysql" })).toThrowError(
      expect.objectContaining({ code: "INVALID_SETTING", message: expect.stringContaining("mysql2") }),
    );
    expect(wire({ host: "h", username: "u", connectorPackage: "mysql2" }).connectorPackage).toBe("mysql2");
  });

  it("refuses a driver module that is not mysql2", () => {
    const mysqljs = { createPool() {}, Connection: class {} };
    expect(() => wire({ host: "h", username: "u", driver: mysqljs })).toThrowError(
      expect.objectContaining({ code: "INVALID_SETTING" }),
    );
    class Connection {
      execute() {}
    }
    expect(() => wire({ host: "h", username: "u", driver: { Connection } })).not.toThrow();
  });

  it("parses a url into fields (its parts win, as in TypeORM) and removes it", () => {
    const result = wire({ url: "mysql://app%40contoso.com@db.example.com:3307/shop", host: "ignored" });
    expect(result.url).toBeUndefined();
    expect(result).toMatchObject({
      host: "db.example.com",
      port: 3307,
      username: "app@contoso.com",
      database: "shop",
    });
  });

  it.each([
    ["a static password", { host: "h", username: "u", password: "secret" }],
    ["a password in the url", { url: "mysql://u:secret@h/db" }],
    ["a password in extra", { host: "h", username: "u", extra: { password: "secret" } }],
    ["a malformed url", { url: "not a url" }],
  ])("refuses %s", (_name, options) => {
    expect(() => wire(options)).toThrowError(expect.objectContaining({ code: "INVALID_SETTING" }));
  });

  it.each([
    ["ssl: false", { ssl: false }],
    ["rejectUnauthorized: false", { ssl: { rejectUnauthorized: false } }],
    ["an SSL profile name", { ssl: "Amazon RDS" }],
    ["extra.ssl: false (TypeORM merges extra over ssl)", { ssl: {}, extra: { ssl: false } }],
    ["insecureAuth", { insecureAuth: true }],
    ["AZURE_MYSQL_SSL=false", {}, { AZURE_MYSQL_SSL: "false" }],
  ] as [string, Record<string, unknown>, Record<string, string>?][])(
    "refuses an insecure config (%s) before any I/O",
    (_name, options, scEnv = {}) => {
      const provider = createFakeTokenProvider();
      expect(() =>
        withEntra(
          { type: "mysql", host: "h", username: "u", ...options },
          { tokenProvider: provider, env: scEnv },
        ),
      ).toThrowError(expect.objectContaining({ name: "EntraAuthError", code: "INSECURE_TRANSPORT" }));
      expect(provider.calls).toBe(0);
    },
  );

  it("moves driver connection fields out of extra into TypeORM's fields", () => {
    const result = wire({ username: "u", extra: { host: "extra-host", ssl: { ca: "PEM" }, queueLimit: 5 } });
    expect(result).toMatchObject({ host: "extra-host", ssl: { ca: "PEM", verifyIdentity: true } });
    expect(Object.keys(result.extra ?? {}).sort()).toEqual(["authPlugins", "queueLimit"]);
  });

  it("reads the Service Connector variables; AZURE_MYSQL_SSL=true becomes a verified TLS object", () => {
    const result = withEntra(
      { type: "mysql" },
      {
        tokenProvider: createFakeTokenProvider(),
        env: {
          AZURE_MYSQL_HOST: "sc.mysql.database.azure.com",
          AZURE_MYSQL_PORT: "3306",
          AZURE_MYSQL_DATABASE: "scdb",
          AZURE_MYSQL_USER: "sc-user",
          AZURE_MYSQL_SSL: "true",
        },
      },
    ) as Options;
    expect(result).toMatchObject({
      host: "sc.mysql.database.azure.com",
      port: 3306,
      database: "scdb",
      username: "sc-user",
      ssl: { verifyIdentity: true },
    });
    expect(result.extra?.stream).toBeUndefined();
  });

  it("learns the username from the token when none is configured (mysql2 stream factory in extra)", () => {
    const result = wire({ host: "h" });
    expect(result.username).toBeUndefined();
    expect(typeof result.extra?.stream).toBe("function");
  });

  it("wires every replication node and shares one plugin and TLS setting, as TypeORM does", () => {
    const result = wire({
      ssl: { ca: "PEM" },
      replication: {
        master: { host: "primary", username: "u" },
        slaves: [{ url: "mysql://u@replica-1:3307/db" }],
      },
    }) as Options & { replication: { master: Options; slaves: Options[] } };
    expect(result.ssl).toEqual({ ca: "PEM", verifyIdentity: true });
    expect(result.replication.master).toMatchObject({ host: "primary", username: "u" });
    expect(result.replication.slaves[0]).toEqual({
      host: "replica-1",
      port: 3307,
      username: "u",
      database: "db",
    });
    expect(typeof plugin(result)).toBe("function");
  });

  it("refuses replication nodes in different clouds (one shared plugin) or with only some usernames", () => {
    const twoClouds = {
      type: "mysql",
      replication: {
        master: { host: "a.mysql.database.azure.com", username: "u" },
        slaves: [{ host: "b.mysql.database.chinacloudapi.cn", username: "u" }],
      },
    };
    // Only without a given provider or scope: then each node's scope comes from its host.
    expect(() => withEntra(twoClouds, { env })).toThrowError(
      expect.objectContaining({ code: "INVALID_SETTING" }),
    );
    expect(() =>
      wire({ replication: { master: { host: "p", username: "u" }, slaves: [{ host: "r" }] } }),
    ).toThrowError(expect.objectContaining({ code: "USERNAME_UNRESOLVED" }));
  });

  it("never shows the token in the inspected options, even after it was sent", async () => {
    const result = wire({ host: "h", username: "u" });
    await plugin(result)({ connection: { stream: fakeTlsSocket() } })(Buffer.alloc(0));
    const shown = inspect(result, { depth: 8, showHidden: true });
    expect(shown).not.toContain(CANARY);
  });
});

describe("withEntra (other TypeORM types)", () => {
  it.each(["sqlite", "cockroachdb", "oracle"])("refuses %s with the supported types", (type) => {
    expect(() => withEntra({ type }, { tokenProvider: createFakeTokenProvider(), env })).toThrowError(
      expect.objectContaining({ code: "INVALID_SETTING", message: expect.stringContaining('"postgres"') }),
    );
  });
});
