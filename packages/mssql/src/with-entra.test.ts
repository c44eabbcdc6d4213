import { inspect } from "node:util";
import type { AccessToken } from "@azure/identity";
import { resetSharedTokenProviders } from "@org/entra-core";
import { CANARY_TOKEN as CANARY, createFakeTokenProvider } from "@org/entra-core/testing";
import { EntraTokenCredential } from "@org/tedious-entra";
import sql from "mssql";
import { Connection } from "tedious";
import { afterEach, describe, expect, it } from "vitest";
import { withEntra } from "./with-entra.js";

const env = {};
const SERVER = "myserver.database.windows.net";

/** mssql's per-connection tedious config (what `_poolCreate` passes to `new tds.Connection`). */
function tediousConfigOf(pool: sql.ConnectionPool) {
  return (pool as unknown as { _config(): ConstructorParameters<typeof Connection>[0] })._config();
}

describe("withEntra (mssql config)", () => {
  afterEach(() => resetSharedTokenProviders());

  it("gives a ConnectionPool whose per-connection tedious config has the Entra credential and secure TLS", () => {
    const config = withEntra(
      { server: SERVER, database: "app" },
      { tokenProvider: createFakeTokenProvider(), env },
    );
    const pool = new sql.ConnectionPool(config);
    const poolConfig = (pool as unknown as { config: sql.config }).config;
    expect(poolConfig).toBe(config);
    expect(poolConfig).toMatchObject({
      server: SERVER,
      database: "app",
      port: 1433,
      options: { encrypt: "strict", trustServerCertificate: false },
      authentication: { type: "token-credential" },
    });
    const credential = config.authentication.options.credential;
    expect(credential).toBeInstanceOf(EntraTokenCredential);

    const tedious = tediousConfigOf(pool);
    expect(tedious.authentication).toEqual({ type: "token-credential", options: { credential } });
    expect(tedious.options).toMatchObject({
      database: "app",
      port: 1433,
      encrypt: "strict",
      trustServerCertificate: false,
    });
    // tedious validates the config in its constructor; no I/O happens before connect().
    expect(() => new Connection(tedious)).not.toThrow();
  });

  it("rebuilds the same credential into every pooled connection's config", () => {
    const pool = new sql.ConnectionPool(
      withEntra({ server: SERVER }, { tokenProvider: createFakeTokenProvider(), env }),
    );
    const a = tediousConfigOf(pool).authentication?.options.credential;
    const b = tediousConfigOf(pool).authentication?.options.credential;
    expect(a).toBeInstanceOf(EntraTokenCredential);
    expect(a).toBe(b);
  });

  it("keeps encrypt: 'strict' and the caller's other options", () => {
    const config = withEntra(
      { server: SERVER, options: { encrypt: "strict", appName: "orders" }, pool: { max: 4 } },
      { tokenProvider: createFakeTokenProvider(), env },
    );
    const tedious = tediousConfigOf(new sql.ConnectionPool(config));
    expect(tedious.options).toMatchObject({ encrypt: "strict", appName: "orders" });
    expect(config.pool).toEqual({ max: 4 });
  });

  it("reads AZURE_SQL_SERVER, _PORT and _DATABASE when the config is absent", () => {
    const scEnv = {
      AZURE_SQL_SERVER: "srv.database.windows.net",
      AZURE_SQL_PORT: "1444",
      AZURE_SQL_DATABASE: "inventory",
    };
    const config = withEntra(undefined, { tokenProvider: createFakeTokenProvider(), env: scEnv });
    expect(config).toMatchObject({ server: "srv.database.windows.net", port: 1444, database: "inventory" });
    expect(tediousConfigOf(new sql.ConnectionPool(config)).options).toMatchObject({
      port: 1444,
      database: "inventory",
    });
    expect(
      withEntra(
        { server: "x.database.windows.net", port: 1433, database: "app" },
        { tokenProvider: createFakeTokenProvider(), env: scEnv },
      ),
    ).toMatchObject({ server: "x.database.windows.net", port: 1433, database: "app" });
    expect(() => withEntra({}, { tokenProvider: createFakeTokenProvider(), env })).toThrowError(
      expect.objectContaining({
        code: "MISSING_SETTING",
        message: expect.stringContaining("AZURE_SQL_SERVER"),
      }),
    );
  });

  it.each([
    [{ password: "secret" }, "password"],
    [{ user: "sa" }, "user"],
    [{ user: "sa", password: "secret" }, "password"],
    [{ domain: "CORP" }, "domain"],
    [{ token: CANARY }, "token"],
  ])("refuses %o", (fields, key) => {
    const attempt = () =>
      withEntra({ server: SERVER, ...fields } as sql.config, {
        tokenProvider: createFakeTokenProvider(),
        env,
      });
    expect(attempt).toThrowError(
      expect.objectContaining({
        name: "EntraAuthError",
        code: "INVALID_SETTING",
        message: expect.stringContaining(`\`${key}\``),
      }),
    );
    expect(attempt).toThrowError(
      expect.objectContaining({ message: expect.not.stringMatching(/secret|eyJ/) }),
    );
  });

  it("refuses another authentication type and says why", () => {
    expect(() =>
      withEntra(
        { server: SERVER, authentication: { type: "azure-active-directory-default", options: {} } },
        { tokenProvider: createFakeTokenProvider(), env },
      ),
    ).toThrowError(
      expect.objectContaining({ code: "INVALID_SETTING", message: expect.stringContaining("every login") }),
    );
  });

  it("honours clientId from the options, the config, the sample's options.clientId, then AZURE_SQL_CLIENTID", async () => {
    const ids = {
      option: "11111111-1111-1111-1111-111111111111",
      config: "22222222-2222-2222-2222-222222222222",
      sample: "33333333-3333-3333-3333-333333333333",
      env: "44444444-4444-4444-4444-444444444444",
    };
    const scEnv = { AZURE_SQL_CLIENTID: ids.env };
    const cases: [sql.config, string | undefined, string][] = [
      [{ server: SERVER, clientId: ids.config } as sql.config, ids.option, ids.option],
      [{ server: SERVER, clientId: ids.config } as sql.config, undefined, ids.config],
      [{ server: SERVER, options: { clientId: ids.sample } } as sql.config, undefined, ids.sample],
      [{ server: SERVER }, undefined, ids.env],
    ];
    for (const [config, clientId, expected] of cases) {
      const wrapped = withEntra(config, { env: scEnv, ...(clientId ? { clientId } : {}) });
      expect(wrapped.authentication.options.credential.clientId).toBe(expected);
    }
  });

  it("adopts a token-credential the config already has", async () => {
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
    const credential = config.authentication.options.credential;
    await credential.getToken("https://database.windows.net/.default");
    await credential.getToken("https://database.windows.net/.default");
    expect(calls).toBe(1);
  });

  it("can wrap its own result again without stacking beforeConnect hooks", () => {
    let userHook = 0;
    const options = { tokenProvider: createFakeTokenProvider(), env };
    const once = withEntra({ server: SERVER, beforeConnect: () => userHook++ }, options);
    const twice = withEntra(once, options);
    const connection = new Connection(tediousConfigOf(new sql.ConnectionPool(twice)));
    twice.beforeConnect?.(connection as never);
    expect(userHook).toBe(1);
    expect(connection.listenerCount("errorMessage")).toBe(1);
  });

  it("never shows the token when the config or pool is inspected or serialised", async () => {
    const config = withEntra({ server: SERVER }, { tokenProvider: createFakeTokenProvider(), env });
    const { token } = await config.authentication.options.credential.getToken(
      "https://database.windows.net/.default",
    );
    expect(token).toBe(CANARY);
    const pool = new sql.ConnectionPool(config);
    for (const value of [config, pool, tediousConfigOf(pool)]) {
      expect(inspect(value, { depth: 10, showHidden: true })).not.toContain(CANARY);
    }
    expect(JSON.stringify(config)).not.toContain(CANARY);
  });
});
