import { inspect } from "node:util";
import type { AccessToken } from "@azure/core-auth";
import { resetSharedTokenProviders } from "@org/entra-core";
import { CANARY_TOKEN as CANARY, createFakeTokenProvider } from "@org/entra-core/testing";
import { Connection } from "tedious";
import { afterEach, describe, expect, it } from "vitest";
import { EntraTokenCredential } from "./entra-token-credential.js";
import { withEntra } from "./with-entra.js";

const env = {};
const SERVER = "myserver.database.windows.net";

/** The credential `withEntra` put into the config. */
function credentialOf(config: { authentication?: { options?: { credential?: unknown } } }) {
  return config.authentication?.options?.credential as EntraTokenCredential;
}

describe("withEntra (tedious config)", () => {
  afterEach(() => resetSharedTokenProviders());

  it("returns a config tedious accepts, with token-credential authentication and secure TLS", () => {
    const config = withEntra(
      { server: SERVER, options: { database: "app", appName: "orders" } },
      { tokenProvider: createFakeTokenProvider(), env },
    );
    expect(config).toMatchObject({
      server: SERVER,
      authentication: { type: "token-credential" },
      options: { database: "app", appName: "orders", encrypt: "strict", trustServerCertificate: false },
    });
    expect(credentialOf(config)).toBeInstanceOf(EntraTokenCredential);

    // tedious validates the whole config in its constructor (no I/O until connect()).
    const connection = new Connection(config);
    const internal = (connection as unknown as { config: Record<string, unknown> }).config;
    expect(internal.authentication).toEqual({
      type: "token-credential",
      options: { credential: credentialOf(config) },
    });
    expect(internal.options).toMatchObject({
      database: "app",
      encrypt: "strict",
      trustServerCertificate: false,
    });
  });

  it("keeps encrypt: 'strict' (TDS 8) and the caller's other TLS options", () => {
    const ca = "-----BEGIN CERTIFICATE-----";
    const config = withEntra(
      {
        server: SERVER,
        options: { encrypt: "strict", serverName: "alias.example.com", cryptoCredentialsDetails: { ca } },
      },
      { tokenProvider: createFakeTokenProvider(), env },
    );
    expect(config.options).toMatchObject({
      encrypt: "strict",
      trustServerCertificate: false,
      serverName: "alias.example.com",
      cryptoCredentialsDetails: { ca },
    });
    expect(() => new Connection(config)).not.toThrow();
  });

  it("reads AZURE_SQL_SERVER, _PORT and _DATABASE when the config has none", () => {
    const scEnv = {
      AZURE_SQL_SERVER: "srv.database.windows.net",
      AZURE_SQL_PORT: "1444",
      AZURE_SQL_DATABASE: "inventory",
      AZURE_SQL_AUTHENTICATIONTYPE: "azure-active-directory-default",
    };
    const config = withEntra(undefined, { tokenProvider: createFakeTokenProvider(), env: scEnv });
    expect(config).toMatchObject({
      server: "srv.database.windows.net",
      options: { port: 1444, database: "inventory", encrypt: "strict" },
    });
    const explicit = withEntra(
      { server: "other.database.windows.net", options: { port: 1433, database: "app" } },
      { tokenProvider: createFakeTokenProvider(), env: scEnv },
    );
    expect(explicit).toMatchObject({
      server: "other.database.windows.net",
      options: { port: 1433, database: "app" },
    });
    expect(() => new Connection(config)).not.toThrow();
  });

  it("passes options.clientId, else AZURE_SQL_CLIENTID, to DefaultAzureCredential", () => {
    const scEnv = { AZURE_SQL_CLIENTID: "44444444-4444-4444-4444-444444444444" };
    expect(credentialOf(withEntra({ server: SERVER }, { env: scEnv })).clientId).toBe(
      scEnv.AZURE_SQL_CLIENTID,
    );
    const explicit = withEntra(
      { server: SERVER },
      { env: scEnv, clientId: "11111111-1111-1111-1111-111111111111" },
    );
    expect(credentialOf(explicit).clientId).toBe("11111111-1111-1111-1111-111111111111");
    expect(credentialOf(withEntra({ server: SERVER }, { env })).clientId).toBeUndefined();
  });

  it("does not add AZURE_SQL_PORT to a config that names an instance", () => {
    const config = withEntra(
      { server: SERVER, options: { instanceName: "SQLEXPRESS" } },
      { tokenProvider: createFakeTokenProvider(), env: { AZURE_SQL_PORT: "1433" } },
    );
    expect(config.options).not.toHaveProperty("port");
    expect(() => new Connection(config)).not.toThrow();
  });

  it("refuses a missing server or a malformed Service Connector variable before any I/O", () => {
    const options = { tokenProvider: createFakeTokenProvider(), env };
    expect(() => withEntra({}, options)).toThrowError(
      expect.objectContaining({
        code: "MISSING_SETTING",
        message: expect.stringContaining("AZURE_SQL_SERVER"),
      }),
    );
    expect(() =>
      withEntra(undefined, {
        tokenProvider: createFakeTokenProvider(),
        env: { AZURE_SQL_SERVER: "s", AZURE_SQL_PORT: "x" },
      }),
    ).toThrowError(
      expect.objectContaining({
        code: "INVALID_SETTING",
        message: expect.stringContaining("AZURE_SQL_PORT"),
      }),
    );
    expect(() =>
      withEntra({ server: SERVER }, { env: { AZURE_SQL_CLIENTID: "secret-looking" } }),
    ).toThrowError(
      expect.objectContaining({
        code: "INVALID_SETTING",
        message: expect.not.stringContaining("secret-looking"),
      }),
    );
  });

  it.each([
    ["default", { userName: "sa", password: "pw" }, "SQL authentication"],
    ["ntlm", { domain: "D", userName: "u", password: "p" }, "NTLM"],
    ["azure-active-directory-default", {}, "new DefaultAzureCredential"],
    ["azure-active-directory-msi-app-service", { clientId: "c" }, "new ManagedIdentityCredential"],
    ["azure-active-directory-msi-vm", {}, "new ManagedIdentityCredential"],
    ["azure-active-directory-access-token", { token: CANARY }, "expires"],
    ["azure-active-directory-password", { userName: "u", password: "p", clientId: "c" }, "password"],
    [
      "azure-active-directory-service-principal-secret",
      { clientId: "c", clientSecret: "s", tenantId: "t" },
      "ClientSecretCredential",
    ],
  ])("refuses authentication type %s and says why", (type, authOptions, reason) => {
    const attempt = () =>
      withEntra(
        { server: SERVER, authentication: { type, options: authOptions } as never },
        { tokenProvider: createFakeTokenProvider(), env },
      );
    expect(attempt).toThrowError(
      expect.objectContaining({
        name: "EntraAuthError",
        code: "INVALID_SETTING",
        message: expect.stringContaining(reason),
      }),
    );
    expect(attempt).toThrowError(expect.objectContaining({ message: expect.not.stringContaining(CANARY) }));
  });

  it("refuses an authentication without a type (the Service Connector sample's slip)", () => {
    expect(() =>
      withEntra(
        { server: SERVER, authentication: { authenticationType: "azure-active-directory-default" } as never },
        { tokenProvider: createFakeTokenProvider(), env },
      ),
    ).toThrowError(
      expect.objectContaining({ code: "INVALID_SETTING", message: expect.stringContaining("no `type`") }),
    );
  });

  it("adopts the caller's own token-credential and caches its tokens", async () => {
    let calls = 0;
    const mine = {
      async getToken(): Promise<AccessToken> {
        calls++;
        return { token: CANARY, expiresOnTimestamp: Date.now() + 3_600_000 };
      },
    };
    const config = withEntra(
      { server: SERVER, authentication: { type: "token-credential", options: { credential: mine } } },
      { env },
    );
    const credential = credentialOf(config);
    expect(credential).not.toBe(mine);
    for (let i = 0; i < 3; i++) await credential.getToken("https://database.windows.net/.default");
    expect(calls).toBe(1);
    expect(() =>
      withEntra(
        { server: SERVER, authentication: { type: "token-credential", options: { credential: mine } } },
        { env, credential: { getToken: mine.getToken } },
      ),
    ).toThrowError(expect.objectContaining({ code: "INVALID_SETTING" }));
  });

  it("can wrap its own result again", () => {
    const options = { tokenProvider: createFakeTokenProvider(), env };
    const once = withEntra({ server: SERVER }, options);
    const twice = withEntra(once, options);
    expect(twice.authentication?.type).toBe("token-credential");
    expect(credentialOf(twice)).toBeInstanceOf(EntraTokenCredential);
    expect(() => new Connection(twice)).not.toThrow();
  });

  it("never shows the token when the config or connection is inspected or serialised", async () => {
    const config = withEntra(
      { server: SERVER },
      { tokenProvider: createFakeTokenProvider(), env: { ...env, AZURE_SQL_SECRETISH: "x" } },
    );
    const { token } = await credentialOf(config).getToken("https://database.windows.net/.default");
    expect(token).toBe(CANARY);
    const connection = new Connection(config);
    for (const value of [config, connection]) {
      expect(inspect(value, { depth: 10, showHidden: true })).not.toContain(CANARY);
    }
    expect(JSON.stringify(config)).not.toContain(CANARY);
    expect(inspect(credentialOf(config))).toBe("EntraTokenCredential {}");
  });
});
