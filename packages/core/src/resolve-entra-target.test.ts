import { afterEach, describe, expect, it } from "vitest";
import { getSharedTokenProvider, resetSharedTokenProviders } from "./get-shared-token-provider.js";
import { resolveEntraTarget } from "./resolve-entra-target.js";
import { createFakeTokenProvider, fakeJwt } from "./testing.js";

const credential = {
  getToken: async () => ({
    token: fakeJwt({ upn: "dev@contoso.com" }),
    expiresOnTimestamp: Date.now() + 3_600_000,
  }),
};

describe("resolveEntraTarget", () => {
  afterEach(() => resetSharedTokenProviders());

  it("lets the config win over the Service Connector variables, and reads them once", () => {
    const env = {
      AZURE_POSTGRESQL_HOST: "sc.postgres.database.azure.com",
      AZURE_POSTGRESQL_PORT: "5433",
      AZURE_POSTGRESQL_DATABASE: "scdb",
      AZURE_POSTGRESQL_USER: "sc-user",
      AZURE_POSTGRESQL_CLIENTID: "11111111-1111-1111-1111-111111111111",
    };
    const fromEnv = resolveEntraTarget("postgresql", {}, { env, credential });
    expect(fromEnv).toMatchObject({
      host: "sc.postgres.database.azure.com",
      port: 5433,
      database: "scdb",
      user: "sc-user",
      clientId: "11111111-1111-1111-1111-111111111111",
      scope: "https://ossrdbms-aad.database.windows.net/.default",
    });
    const fromConfig = resolveEntraTarget(
      "postgresql",
      { host: "db.postgres.database.chinacloudapi.cn", port: 6432, database: "app", user: "me" },
      { env, credential, username: "ignored-because-the-config-names-one" },
    );
    expect(fromConfig).toMatchObject({
      host: "db.postgres.database.chinacloudapi.cn",
      port: 6432,
      database: "app",
      user: "me",
    });
    expect(fromConfig.scope).toBe("https://ossrdbms-aad.database.chinacloudapi.cn/.default");
  });

  it("prefers options.username over *_USER, and takes no user for Azure SQL", () => {
    const env = { AZURE_MYSQL_USER: "env-user", AZURE_SQL_SERVER: "s.database.windows.net" };
    expect(resolveEntraTarget("mysql", {}, { env, credential, username: "opt" }).user).toBe("opt");
    expect(resolveEntraTarget("mysql", {}, { env, credential }).user).toBe("env-user");
    const sql = resolveEntraTarget("sqlserver", { user: "sa" }, { env, credential });
    expect(sql.user).toBeUndefined();
    expect(sql.scope).toBe("https://database.windows.net/.default");
  });

  it("hands out the shared provider for (credential, scope)", () => {
    const target = resolveEntraTarget("postgresql", { host: "h" }, { env: {}, credential });
    expect(target.provider).toBe(getSharedTokenProvider({ credential, scope: target.scope }));
    const given = createFakeTokenProvider();
    expect(resolveEntraTarget("postgresql", {}, { env: {}, tokenProvider: given }).provider).toBe(given);
  });

  it("learns the user from the token only when none was given", async () => {
    const provider = createFakeTokenProvider({ token: fakeJwt({ upn: "dev@contoso.com" }) });
    const known = resolveEntraTarget("postgresql", { user: "app" }, { env: {}, tokenProvider: provider });
    await expect(known.resolveUser()).resolves.toBe("app");
    expect(provider.calls).toBe(0);
    const unknown = resolveEntraTarget("postgresql", {}, { env: {}, tokenProvider: provider });
    await expect(unknown.resolveUser()).resolves.toBe("dev@contoso.com");
    expect(provider.calls).toBe(1);
    expect(() => unknown.userFor(fakeJwt({ oid: "x" }))).toThrowError(
      expect.objectContaining({
        code: "USERNAME_UNRESOLVED",
        hint: expect.stringContaining("AZURE_POSTGRESQL_USER"),
      }),
    );
  });

  it("takes the TLS value from the config, else *_SSL, else on, and names where it came from", () => {
    const withVariable = resolveEntraTarget("mysql", {}, { env: { AZURE_MYSQL_SSL: "false" }, credential });
    expect(withVariable.tls(undefined, "ssl")).toEqual({ value: false, setting: "AZURE_MYSQL_SSL" });
    expect(withVariable.tls({ ca: "PEM" }, "ssl")).toEqual({ value: { ca: "PEM" }, setting: "ssl" });
    const without = resolveEntraTarget("postgresql", {}, { env: {}, credential });
    expect(without.tls(undefined, "dialectOptions.ssl")).toEqual({
      value: true,
      setting: "dialectOptions.ssl",
    });
  });

  it("refuses a malformed Service Connector variable", () => {
    expect(() =>
      resolveEntraTarget("mysql", {}, { env: { AZURE_MYSQL_PORT: "x" }, credential }),
    ).toThrowError(expect.objectContaining({ code: "INVALID_SETTING" }));
  });
});
