import type { ConnectionConfiguration } from "tedious";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Emulator, startEmulator } from "../start-emulator.js";
import { closeTedious, connectTedious, queryTedious } from "./tds-test-fixture.js";

const SQL_AUDIENCE = "https://database.windows.net";

let emulator: Emulator;

beforeAll(async () => {
  emulator = await startEmulator({
    postgres: false,
    sqlserver: { database: "orders-db", users: {} },
    identities: [
      { name: "orders-app", kind: "system" },
      { name: "orders-worker", kind: "user" },
    ],
  });
});

afterAll(async () => {
  await emulator.close();
});

function config(
  authentication: ConnectionConfiguration["authentication"],
  encrypt: boolean | "strict" = "strict",
): ConnectionConfiguration {
  const sqlserver = emulator.sqlserver as NonNullable<Emulator["sqlserver"]>;
  return {
    server: sqlserver.host,
    authentication,
    options: {
      port: sqlserver.port,
      database: sqlserver.database,
      encrypt,
      trustServerCertificate: false,
      cryptoCredentialsDetails: { ca: emulator.ca },
      connectTimeout: 5_000,
      requestTimeout: 5_000,
    },
  };
}

function accessToken(token: string): ConnectionConfiguration["authentication"] {
  return { type: "azure-active-directory-access-token", options: { token } };
}

describe("Azure SQL endpoint login with tedious 19", () => {
  it("exposes where it listens and the Service Connector variables", () => {
    expect(emulator.sqlserver).toEqual({
      host: "localhost",
      port: expect.any(Number),
      database: "orders-db",
    });
    expect(emulator.env).toMatchObject({
      AZURE_SQL_SERVER: "localhost",
      AZURE_SQL_PORT: String(emulator.sqlserver?.port),
      AZURE_SQL_DATABASE: "orders-db",
      AZURE_SQL_AUTHENTICATIONTYPE: "azure-active-directory-default",
    });
    expect(emulator.env.AZURE_SQL_CLIENTID).toBeUndefined();
  });

  for (const encrypt of ["strict", true] as const) {
    it(`logs in with azure-active-directory-access-token over verified TLS (encrypt: ${encrypt})`, async () => {
      const token = emulator.mintToken({ audience: SQL_AUDIENCE });
      const connection = await connectTedious(config(accessToken(token), encrypt));
      try {
        const result = await queryTedious(
          connection,
          "SELECT SUSER_SNAME() AS login_name, CURRENT_USER AS user_name, DB_NAME() AS db",
        );
        expect(result.columns).toEqual(["login_name", "user_name", "db"]);
        expect(result.rows).toEqual([["orders-app", "orders-app", "orders-db"]]);
      } finally {
        await closeTedious(connection);
      }
    });

    it(`logs in with token-credential through FEDAUTHINFO -> FEDAUTH_TOKEN (encrypt: ${encrypt})`, async () => {
      const scopes: Array<string | string[]> = [];
      const credential = {
        async getToken(scope: string | string[]) {
          scopes.push(scope);
          return {
            token: emulator.mintToken({ identity: "orders-worker", audience: `${SQL_AUDIENCE}/` }),
            expiresOnTimestamp: Date.now() + 3_600_000,
          };
        },
      };
      const connection = await connectTedious(
        config({ type: "token-credential", options: { credential } }, encrypt),
      );
      try {
        expect(scopes).toEqual(["https://database.windows.net/.default"]);
        const result = await queryTedious(connection, "SELECT SUSER_SNAME()");
        expect(result.rows).toEqual([["orders-worker"]]);
      } finally {
        await closeTedious(connection);
      }
    });
  }

  it("counts logins per engine and in the totals", async () => {
    emulator.resetCounters();
    const connection = await connectTedious(
      config(accessToken(emulator.mintToken({ audience: SQL_AUDIENCE }))),
    );
    await closeTedious(connection);
    await expect(
      connectTedious(config(accessToken(emulator.mintToken({ expired: true, audience: SQL_AUDIENCE })))),
    ).rejects.toThrow();
    expect(emulator.counters.byEngine.sqlserver).toEqual({
      loginsAccepted: 1,
      loginsRejected: 1,
      rejectionsByReason: { expired: 1 },
    });
    expect(emulator.counters.loginsAccepted).toBe(1);
    expect(emulator.counters.rejectionsByReason).toEqual({ expired: 1 });
  });
});

describe("Azure SQL endpoint refusals (error 18456)", () => {
  async function loginError(
    authentication: ConnectionConfiguration["authentication"],
    encrypt: boolean | "strict" = "strict",
  ) {
    const messages: Array<{ number: number; class: number; state: number; message: string }> = [];
    const error = await new Promise<Error & { code?: string }>((resolve) => {
      import("tedious").then(({ Connection }) => {
        const connection = new Connection(config(authentication, encrypt));
        connection.on("errorMessage", (token) => messages.push(token));
        connection.on("error", () => {});
        connection.connect((connectError) => {
          connection.close();
          resolve(connectError as Error);
        });
      });
    });
    return { error, messages };
  }

  const principalMessage = "Login failed for user '<token-identified principal>'.";
  const cases = [
    {
      name: "unknown principal",
      token: () => emulator.mintToken({ identity: "stranger", audience: SQL_AUDIENCE }),
      message: principalMessage,
      state: 1,
    },
    {
      name: "expired token",
      token: () => emulator.mintToken({ expired: true, audience: SQL_AUDIENCE }),
      message: `${principalMessage} Token is expired.`,
      state: 233,
    },
    {
      name: "wrong audience",
      token: () => emulator.mintToken(),
      message: `${principalMessage} Incorrect or invalid token.`,
      state: 1,
    },
    {
      name: "bad signature",
      token: () => emulator.mintToken({ signature: "bad", audience: SQL_AUDIENCE }),
      message: `${principalMessage} Incorrect or invalid token.`,
      state: 1,
    },
    {
      name: "not a JWT",
      token: () => "not-a-token",
      message: `${principalMessage} Incorrect or invalid token.`,
      state: 1,
    },
  ];
  for (const testCase of cases) {
    it(`refuses ${testCase.name} like Azure SQL`, async () => {
      const { error, messages } = await loginError(accessToken(testCase.token()));
      expect(error.message).toBe(testCase.message);
      expect(error.code).toBe("ELOGIN");
      expect(messages).toEqual([
        expect.objectContaining({
          number: 18456,
          class: 14,
          state: testCase.state,
          message: testCase.message,
        }),
      ]);
    });
  }

  it("refuses an unknown principal on the token-credential path too", async () => {
    const credential = {
      getToken: async () => ({
        token: emulator.mintToken({ identity: "stranger", audience: SQL_AUDIENCE }),
        expiresOnTimestamp: Date.now() + 60_000,
      }),
    };
    const { error } = await loginError({ type: "token-credential", options: { credential } }, true);
    expect(error.message).toBe(principalMessage);
  });

  it("applies injected rejections first", async () => {
    emulator.faults.sqlserver.rejectNextLogins(1, "expired");
    const { error } = await loginError(accessToken(emulator.mintToken({ audience: SQL_AUDIENCE })));
    expect(error.message).toBe(`${principalMessage} Token is expired.`);
    const connection = await connectTedious(
      config(accessToken(emulator.mintToken({ audience: SQL_AUDIENCE }))),
    );
    await closeTedious(connection);
  });

  it("refuses a client that will not encrypt (ENCRYPT_REQ) and counts tls-required", async () => {
    emulator.resetCounters();
    const { error } = await loginError(accessToken(emulator.mintToken({ audience: SQL_AUDIENCE })), false);
    expect(error.message).toBe("Server requires encryption, set 'encrypt' config option to true.");
    await expect
      .poll(() => emulator.counters.byEngine.sqlserver.rejectionsByReason)
      .toEqual({ "tls-required": 1 });
  });

  it("refuses another database with 4060", async () => {
    const token = emulator.mintToken({ audience: SQL_AUDIENCE });
    const base = config(accessToken(token));
    const messages: number[] = [];
    const { Connection } = await import("tedious");
    const error = await new Promise<Error>((resolve) => {
      const connection = new Connection({ ...base, options: { ...base.options, database: "other-db" } });
      connection.on("errorMessage", (message) => messages.push(message.number));
      connection.on("error", () => {});
      connection.connect((connectError) => {
        connection.close();
        resolve(connectError as Error);
      });
    });
    expect(messages).toEqual([4060, 18456]);
    expect(error.message).toBe("Login failed for user 'orders-app'.");
  });
});
