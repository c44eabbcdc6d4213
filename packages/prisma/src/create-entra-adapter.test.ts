import { inspect } from "node:util";
import { createFakeTokenProvider } from "@org/entra-core/testing";
import { describe, expect, it } from "vitest";
import { createEntraAdapter, entraDatabaseUrl } from "./index.js";

const TOKEN = `eyJhbGciOiJSUzI1NiJ9.${Buffer.from(JSON.stringify({ upn: "dev@contoso.com" })).toString("base64url")}.c2ln+/=`;

const env = {};

describe("createEntraAdapter", () => {
  it.each([
    ["postgresql ssl: false", () => createEntraAdapter({ provider: "postgresql", ssl: false }, { env })],
    ["mysql ssl: false", () => createEntraAdapter({ provider: "mysql", ssl: false }, { env })],
    [
      "mysql rejectUnauthorized: false",
      () => createEntraAdapter({ provider: "mysql", ssl: { rejectUnauthorized: false } }, { env }),
    ],
    [
      "mysql AZURE_MYSQL_SSL=false",
      () => createEntraAdapter({ provider: "mysql" }, { env: { AZURE_MYSQL_SSL: "false" } }),
    ],
  ])("refuses an insecure config before any I/O: %s", (_name, build) => {
    expect(build).toThrowError(
      expect.objectContaining({ name: "EntraAuthError", code: "INSECURE_TRANSPORT" }),
    );
  });

  it("refuses a static MySQL password and a restrictedAuth without mysql_clear_password", () => {
    expect(() => createEntraAdapter({ provider: "mysql", password: "secret" }, { env })).toThrowError(
      expect.objectContaining({ code: "INVALID_SETTING" }),
    );
    expect(() =>
      createEntraAdapter({ provider: "mysql", restrictedAuth: ["mysql_native_password"] }, { env }),
    ).toThrowError(/mysql_clear_password/);
  });

  it("returns factories with Prisma's provider names and no token in util.inspect", async () => {
    const tokenProvider = createFakeTokenProvider({ token: TOKEN });
    const pg = createEntraAdapter({ provider: "postgresql", host: "h" }, { env, tokenProvider });
    const mysql = createEntraAdapter({ provider: "mysql", host: "h" }, { env, tokenProvider });
    expect(pg.provider).toBe("postgres");
    expect(mysql.provider).toBe("mysql");
    expect(inspect(mysql, { depth: 8, showHidden: true })).not.toContain(TOKEN.slice(-20));
  });
});

describe("entraDatabaseUrl", () => {
  it("builds a PostgreSQL URL with the encoded user and token and TLS required and verified", async () => {
    const url = await entraDatabaseUrl(
      { provider: "postgresql" },
      {
        tokenProvider: createFakeTokenProvider({ token: TOKEN }),
        env: { AZURE_POSTGRESQL_HOST: "srv.postgres.database.azure.com" },
      },
    );
    expect(url).toBe(
      `postgresql://dev%40contoso.com:${encodeURIComponent(TOKEN)}@srv.postgres.database.azure.com:5432/postgres?sslmode=require&sslaccept=strict`,
    );
    expect(decodeURIComponent(new URL(url).password)).toBe(TOKEN);
  });

  it("builds a MySQL URL from Service Connector variables", async () => {
    const url = await entraDatabaseUrl(
      { provider: "mysql" },
      {
        tokenProvider: createFakeTokenProvider({ token: TOKEN }),
        env: {
          AZURE_MYSQL_HOST: "m.mysql.database.azure.com",
          AZURE_MYSQL_DATABASE: "app",
          AZURE_MYSQL_USER: "my-app",
        },
      },
    );
    expect(url).toBe(
      `mysql://my-app:${encodeURIComponent(TOKEN)}@m.mysql.database.azure.com:3306/app?sslaccept=strict`,
    );
  });

  it("needs a host, refuses *_SSL=false and sqlserver", async () => {
    const tokenProvider = createFakeTokenProvider({ token: TOKEN });
    await expect(entraDatabaseUrl({ provider: "postgresql" }, { tokenProvider, env })).rejects.toMatchObject({
      code: "MISSING_SETTING",
    });
    await expect(
      entraDatabaseUrl(
        { provider: "mysql", host: "h" },
        { tokenProvider, env: { AZURE_MYSQL_SSL: "false" } },
      ),
    ).rejects.toMatchObject({ code: "INSECURE_TRANSPORT" });
    await expect(entraDatabaseUrl({ provider: "sqlserver" }, { tokenProvider, env })).rejects.toMatchObject({
      code: "INVALID_SETTING",
      message: expect.stringMatching(/sqlcmd -S .* --authentication-method ActiveDirectoryDefault/),
    });
  });
});
