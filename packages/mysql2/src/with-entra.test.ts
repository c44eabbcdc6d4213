import { inspect } from "node:util";
import type { AccessToken } from "@azure/identity";
import { resetSharedTokenProviders } from "@org/entra-core";
import { CANARY_TOKEN as CANARY, createFakeTokenProvider } from "@org/entra-core/testing";
import type { ConnectionOptions } from "mysql2";
import { afterEach, describe, expect, it } from "vitest";
import { withEntra } from "./with-entra.js";

const env = {};

/** Runs the config's clear-password plugin the way mysql2's auth switch does. */
async function answerAuthSwitch(config: ConnectionOptions): Promise<Buffer> {
  const factory = config.authPlugins?.mysql_clear_password;
  if (!factory) throw new Error("no mysql_clear_password plugin");
  // What mysql2 passes once TLS is up: the connection's own config and its verified TLS socket.
  const stream = { encrypted: true, authorized: true, getPeerCertificate: () => ({ subject: { CN: "h" } }) };
  const plugin = factory({ connection: { config: {}, stream }, command: {} } as never);
  return (await plugin(Buffer.alloc(20))) as Buffer;
}

describe("withEntra (mysql2 config)", () => {
  afterEach(() => resetSharedTokenProviders());

  it("answers each clear-password switch with the provider's current token and a NUL byte", async () => {
    const provider = createFakeTokenProvider({ tokens: ["token-1", "token-2"] });
    const config = withEntra({ host: "h", user: "app" }, { tokenProvider: provider, env });
    expect(config).not.toHaveProperty("password");
    expect(config).not.toHaveProperty("enableCleartextPlugin");
    expect((await answerAuthSwitch(config)).toString()).toBe("token-1\0");
    expect((await answerAuthSwitch(config)).toString()).toBe("token-2\0");
    expect(provider.calls).toBe(2);
  });

  it("keeps the caller's other auth plugins", () => {
    const sha = () => () => Buffer.from("x");
    const config = withEntra(
      { host: "h", user: "app", authPlugins: { caching_sha2_password: sha } },
      { tokenProvider: createFakeTokenProvider(), env },
    );
    expect(config.authPlugins?.caching_sha2_password).toBe(sha);
    expect(typeof config.authPlugins?.mysql_clear_password).toBe("function");
  });

  it("refuses a config with its own clear-password plugin or legacy authSwitchHandler", () => {
    const options = { tokenProvider: createFakeTokenProvider(), env };
    expect(() =>
      withEntra(
        { host: "h", user: "u", authPlugins: { mysql_clear_password: () => () => Buffer.from("pw\0") } },
        options,
      ),
    ).toThrowError(expect.objectContaining({ code: "INVALID_SETTING" }));
    expect(() =>
      withEntra({ host: "h", user: "u", authSwitchHandler: () => {} } as ConnectionOptions, options),
    ).toThrowError(expect.objectContaining({ code: "INVALID_SETTING" }));
  });

  it("can wrap its own result again", () => {
    const options = { tokenProvider: createFakeTokenProvider(), env };
    const once = withEntra({ host: "h" }, options);
    const twice = withEntra(once, options);
    expect(typeof twice.authPlugins?.mysql_clear_password).toBe("function");
    expect(typeof twice.stream).toBe("function");
  });

  it("refuses a config or uri carrying a static password", () => {
    const options = { tokenProvider: createFakeTokenProvider(), env };
    for (const secret of [{ password: "s" }, { password1: "s" }, { passwordSha1: "s" }]) {
      expect(() => withEntra({ host: "h", user: "u", ...secret }, options)).toThrowError(
        expect.objectContaining({ name: "EntraAuthError", code: "INVALID_SETTING" }),
      );
    }
    expect(() => withEntra({ uri: "mysql://u:secret@h/db" }, options)).toThrowError(
      expect.objectContaining({ code: "INVALID_SETTING", message: expect.not.stringContaining("secret") }),
    );
    expect(() => withEntra({ uri: "mysql://u@h/db?password1=secret" }, options)).toThrowError(
      expect.objectContaining({ code: "INVALID_SETTING" }),
    );
  });

  it("parses a uri into fields, letting explicit fields win as mysql2 does", () => {
    const config = withEntra(
      {
        uri: "mysql://app%40x@db.example.com:3307/orders?charset=utf8mb4&connectTimeout=5000",
        database: "other",
      },
      { tokenProvider: createFakeTokenProvider(), env },
    );
    expect(config).not.toHaveProperty("uri");
    expect(config).toMatchObject({
      host: "db.example.com",
      port: 3307,
      database: "other",
      user: "app@x",
      charset: "utf8mb4",
      connectTimeout: 5000,
      ssl: { verifyIdentity: true },
    });
  });

  it("reads the Service Connector variables when the config is absent", () => {
    const scEnv = {
      AZURE_MYSQL_HOST: "srv.mysql.database.azure.com",
      AZURE_MYSQL_PORT: "3307",
      AZURE_MYSQL_DATABASE: "inventory",
      AZURE_MYSQL_USER: "aad_conn",
      AZURE_MYSQL_SSL: "true",
    };
    const config = withEntra(undefined, { tokenProvider: createFakeTokenProvider(), env: scEnv });
    expect(config).toMatchObject({
      host: "srv.mysql.database.azure.com",
      port: 3307,
      database: "inventory",
      user: "aad_conn",
      ssl: { verifyIdentity: true },
    });
    expect(config).not.toHaveProperty("stream");
  });

  it("prefers the explicit user, then options.username, then AZURE_MYSQL_USER", () => {
    const scEnv = { AZURE_MYSQL_USER: "from-env" };
    const provider = createFakeTokenProvider();
    expect(
      withEntra({ user: "explicit" }, { tokenProvider: provider, env: scEnv, username: "opt" }).user,
    ).toBe("explicit");
    expect(withEntra({}, { tokenProvider: provider, env: scEnv, username: "opt" }).user).toBe("opt");
    expect(withEntra({ user: "" }, { tokenProvider: provider, env: scEnv }).user).toBe("from-env");
  });

  it("installs a stream factory that reads the user from the token only when none is configured", () => {
    const provider = createFakeTokenProvider();
    expect(withEntra({ host: "h", user: "u" }, { tokenProvider: provider, env })).not.toHaveProperty(
      "stream",
    );
    const config = withEntra({ host: "h" }, { tokenProvider: provider, env });
    expect(config.user).toBeUndefined();
    expect(typeof config.stream).toBe("function");
    expect(provider.calls).toBe(0);
  });

  it("refuses to guess the user when the caller supplies its own stream", () => {
    expect(() =>
      withEntra({ host: "h", stream: {} }, { tokenProvider: createFakeTokenProvider(), env }),
    ).toThrowError(
      expect.objectContaining({
        code: "USERNAME_UNRESOLVED",
        message: expect.stringContaining("AZURE_MYSQL_USER"),
      }),
    );
  });

  it("asks the credential for the MySQL scope of the host's cloud", async () => {
    const scopes: string[] = [];
    const credential = {
      async getToken(scope: string | string[]): Promise<AccessToken> {
        scopes.push(String(scope));
        return { token: CANARY, expiresOnTimestamp: Date.now() + 3_600_000 };
      },
    };
    const config = withEntra({ host: "srv.mysql.database.chinacloudapi.cn", user: "u" }, { credential, env });
    await answerAuthSwitch(config);
    expect(scopes).toEqual(["https://ossrdbms-aad.database.chinacloudapi.cn/.default"]);
  });

  it("never shows the token when the config is inspected or serialised", async () => {
    const config = withEntra({ host: "h", user: "u" }, { tokenProvider: createFakeTokenProvider(), env });
    await answerAuthSwitch(config);
    expect(inspect(config, { depth: 10, showHidden: true })).not.toContain(CANARY);
    expect(JSON.stringify(config)).not.toContain(CANARY);
  });

  it("answers no clear-password switch on a connection whose server was not verified", async () => {
    const provider = createFakeTokenProvider();
    const config = withEntra({ host: "db.example.com", user: "u" }, { tokenProvider: provider, env: {} });
    const factory = config.authPlugins?.mysql_clear_password;
    if (!factory) throw new Error("no mysql_clear_password plugin");
    const certificate = { subject: { CN: "x" }, subjectaltname: "DNS:db.example.com" };
    const streams = [
      { encrypted: false },
      { encrypted: true, authorized: false, getPeerCertificate: () => certificate },
      {
        encrypted: true,
        authorized: true,
        getPeerCertificate: () => ({ subjectaltname: "DNS:impostor.invalid" }),
      },
    ];
    for (const stream of streams) {
      const plugin = factory({
        connection: { config: { host: "db.example.com" }, stream },
        command: {},
      } as never);
      await expect(plugin(Buffer.alloc(20))).rejects.toMatchObject({ code: "INSECURE_TRANSPORT" });
    }
    expect(provider.calls).toBe(0);
  });
});
