import { existsSync, readFileSync } from "node:fs";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Emulator, startEmulator } from "./start-emulator.js";
import { validateToken } from "./token-validation.js";

describe("startEmulator without PostgreSQL", () => {
  it("exposes the identity endpoint, env and a CA file that close() removes", async () => {
    const emulator = await startEmulator({ postgres: false });
    const caFile = emulator.env.NODE_EXTRA_CA_CERTS;
    expect(readFileSync(caFile, "utf8")).toBe(emulator.ca);
    expect(emulator.env).toEqual({
      IDENTITY_ENDPOINT: emulator.identityEndpoint,
      IDENTITY_HEADER: emulator.identityHeader,
      AZURE_TOKEN_CREDENTIALS: "ManagedIdentityCredential",
      NODE_EXTRA_CA_CERTS: caFile,
    });
    expect(emulator.identityEndpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/msi\/token$/);
    expect(emulator.identities.map((identity) => [identity.name, identity.kind])).toEqual([
      ["emulated-app", "system"],
    ]);
    expect(emulator.postgres).toBeUndefined();

    const response = await fetch(
      `${emulator.imdsAuthorityHost}/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://ossrdbms-aad.database.windows.net`,
      { headers: { Metadata: "true" } },
    );
    expect(response.status).toBe(200);
    expect(emulator.counters.tokenRequestsByProtocol.imds).toBe(1);

    await emulator.close();
    await emulator.close();
    expect(existsSync(caFile)).toBe(false);
  });

  it("mints tokens for any principal, expired, badly signed or in another tenant", async () => {
    await using emulator = await startEmulator({
      postgres: false,
      identities: [{ name: "orders-worker", kind: "user" }],
    });
    const validate = (token: string) =>
      validateToken(token, {
        audiences: ["https://ossrdbms-aad.database.windows.net"],
        tenantId: emulator.tenantId,
        jwks: emulator.jwks,
      });
    expect(validate(emulator.mintToken())).toMatchObject({ ok: true, principalName: "orders-worker" });
    expect(validate(emulator.mintToken({ identity: "someone-else" }))).toMatchObject({
      ok: true,
      principalName: "someone-else",
    });
    expect(validate(emulator.mintToken({ expired: true }))).toMatchObject({ ok: false, reason: "expired" });
    expect(validate(emulator.mintToken({ signature: "bad" }))).toMatchObject({
      ok: false,
      reason: "invalid",
    });
    expect(validate(emulator.mintToken({ tenantId: "00000000-0000-4000-8000-000000000001" }))).toMatchObject({
      ok: false,
      reason: "invalid",
    });
    expect(validate(emulator.mintToken({ audience: "https://database.windows.net/" }))).toMatchObject({
      ok: false,
      reason: "audience",
    });
  });
});

describe("startEmulator with the PGlite backend", () => {
  let emulator: Emulator;

  beforeAll(async () => {
    emulator = await startEmulator({
      identities: [
        { name: "orders-identity", kind: "user" },
        { name: "orders-app", kind: "system" },
      ],
      postgres: { backend: "pglite", roles: { "orders-readers": [] } },
    });
  }, 60_000);

  afterAll(async () => {
    await emulator?.close();
  });

  function connect(
    password: string,
    user = "orders-identity",
    ssl: pg.ClientConfig["ssl"] = { ca: emulator.ca },
  ) {
    const postgres = emulator.postgres;
    if (!postgres) throw new Error("postgres is disabled");
    return new pg.Client({
      host: postgres.host,
      port: postgres.port,
      database: postgres.database,
      user,
      password,
      ssl,
    });
  }

  it("sets the Service Connector variables for the default (user-assigned) identity", () => {
    const identity = emulator.identities[0];
    expect(emulator.env).toMatchObject({
      AZURE_POSTGRESQL_HOST: "localhost",
      AZURE_POSTGRESQL_PORT: String(emulator.postgres?.port),
      AZURE_POSTGRESQL_DATABASE: "postgres",
      AZURE_POSTGRESQL_USER: "orders-identity",
      AZURE_POSTGRESQL_SSL: "true",
      AZURE_POSTGRESQL_CLIENTID: identity?.clientId,
    });
  });

  it("accepts a valid token over verified TLS and refuses broken ones, counting each outcome", async () => {
    emulator.resetCounters();
    const client = connect(emulator.mintToken());
    await client.connect();
    const { rows } = await client.query("SELECT 1 AS one");
    expect(rows).toEqual([{ one: 1 }]);
    await client.end();

    await expect(connect(emulator.mintToken({ expired: true })).connect()).rejects.toThrow(
      "The access token has expired. Please acquire a new token and retry.",
    );
    await expect(connect(emulator.mintToken({ identity: "orders-app" })).connect()).rejects.toThrow();
    emulator.faults.postgres.rejectNextLogins(1, "audience");
    await expect(connect(emulator.mintToken()).connect()).rejects.toThrow(/valid audience claim/);
    await expect(connect(emulator.mintToken(), "orders-identity", false).connect()).rejects.toThrow(
      /no encryption/,
    );

    expect(emulator.counters).toMatchObject({
      loginsAccepted: 1,
      loginsRejected: 4,
      rejectionsByReason: { expired: 1, principal: 1, audience: 1, "tls-required": 1 },
    });
  }, 30_000);
});
