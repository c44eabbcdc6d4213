import { request } from "node:https";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { type Emulator, startEmulator } from "./start-emulator.js";
import { closeTedious, connectTedious, queryTedious } from "./tds/tds-test-fixture.js";

/** A token from the emulator's Entra token endpoint for the service principal's client secret. */
function clientCredentialsToken(emulator: Emulator, scope: string): Promise<string> {
  const sp = emulator.identities[0];
  const body = new URLSearchParams({
    grant_type: "client_credentials",
    client_id: sp?.clientId ?? "",
    client_secret: sp?.clientSecret ?? "",
    scope,
  }).toString();
  return new Promise((resolve, reject) => {
    const req = request(
      `${emulator.authorityHost}/${emulator.tenantId}/oauth2/v2.0/token`,
      { method: "POST", ca: emulator.ca, headers: { "Content-Type": "application/x-www-form-urlencoded" } },
      (response) => {
        let text = "";
        response.on("data", (chunk) => {
          text += chunk;
        });
        response.on("end", () =>
          resolve(String((JSON.parse(text) as { access_token: string }).access_token)),
        );
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

describe("service principal logins", () => {
  it("the gateways accept a service principal's app token for its display name, like a managed identity's", async () => {
    await using emulator = await startEmulator({
      identities: [
        { name: "Orders API", kind: "servicePrincipal" },
        { name: "emulated-app", kind: "system" },
      ],
      sqlserver: {},
    });
    // Service principals are database principals under their display names, like identities.
    expect(emulator.env).toMatchObject({ AZURE_POSTGRESQL_USER: "Orders API" });
    expect(emulator.env).not.toHaveProperty("AZURE_POSTGRESQL_CLIENTID");

    const token = await clientCredentialsToken(
      emulator,
      "https://ossrdbms-aad.database.windows.net/.default",
    );
    const connect = async (user: string) => {
      const client = new pg.Client({
        host: "localhost",
        port: emulator.postgres?.port,
        database: "postgres",
        user,
        password: token,
        ssl: { ca: emulator.ca },
      });
      try {
        await client.connect();
        return (await client.query<{ one: number }>("select 1 as one")).rows[0]?.one;
      } finally {
        await client.end().catch(() => undefined);
      }
    };
    await expect(connect("Orders API")).resolves.toBe(1);
    await expect(connect("emulated-app")).rejects.toThrow(
      'password authentication failed for user "emulated-app"',
    );
    expect(emulator.counters.byEngine.postgres).toMatchObject({ loginsAccepted: 1, loginsRejected: 1 });

    const sqlToken = await clientCredentialsToken(emulator, "https://database.windows.net//.default");
    const connection = await connectTedious({
      server: "localhost",
      authentication: { type: "azure-active-directory-access-token", options: { token: sqlToken } },
      options: {
        port: emulator.sqlserver?.port,
        encrypt: true,
        trustServerCertificate: false,
        cryptoCredentialsDetails: { ca: emulator.ca },
      },
    });
    try {
      expect((await queryTedious(connection, "SELECT CURRENT_USER AS db_user")).rows).toEqual([
        ["Orders API"],
      ]);
    } finally {
      await closeTedious(connection);
    }
  }, 60_000);
});
