import "reflect-metadata";
import { inspect } from "node:util";
import { CANARY_TOKEN as CANARY, createFakeTokenProvider, fakeJwt } from "@org/entra-core/testing";
import { describe, expect, it } from "vitest";
import { withEntra } from "./with-entra.js";

const env = {};
type Options = Record<string, unknown> & { extra?: Record<string, unknown> };
const wire = (options: Record<string, unknown>, entra: Record<string, unknown> = {}) =>
  withEntra(
    { type: "postgres", ...options },
    { tokenProvider: createFakeTokenProvider(), env, ...entra },
  ) as Options;

describe("withEntra (TypeORM postgres)", () => {
  it("sets a password function that returns the provider's token, and verified TLS", async () => {
    const provider = createFakeTokenProvider();
    const result = withEntra(
      { type: "postgres", host: "db.postgres.database.azure.com", username: "app", database: "shop" },
      { tokenProvider: provider, env },
    ) as Options;
    expect(provider.calls).toBe(0); // no I/O while building the options
    expect(result).toMatchObject({
      host: "db.postgres.database.azure.com",
      username: "app",
      database: "shop",
    });
    expect(result.ssl).toEqual({ rejectUnauthorized: true });
    await expect((result.password as () => Promise<string>).call(undefined)).resolves.toBe(CANARY);
    expect(provider.calls).toBe(1);
  });

  it("keeps every field it does not own (entities, migrations, synchronize, pool tuning, extra)", () => {
    class User {}
    const migrations = ["dist/migrations/*.js"];
    const result = wire({
      host: "h",
      username: "u",
      entities: [User],
      migrations,
      synchronize: false,
      logging: ["error"],
      poolSize: 7,
      applicationName: "shop",
      extra: { max: 9, idleTimeoutMillis: 1_000 },
    });
    expect(result.entities).toEqual([User]);
    expect(result.migrations).toBe(migrations);
    expect(result).toMatchObject({
      synchronize: false,
      logging: ["error"],
      poolSize: 7,
      applicationName: "shop",
    });
    expect(result.extra).toEqual({ max: 9, idleTimeoutMillis: 1_000 });
  });

  it("does not modify the caller's options", () => {
    const options = { type: "postgres" as const, url: "postgres://u@h/db", extra: { ssl: { ca: "PEM" } } };
    const snapshot = structuredClone(options);
    withEntra(options, { tokenProvider: createFakeTokenProvider(), env });
    expect(options).toEqual(snapshot);
  });

  it("parses a url into fields (pg would drop the password function) and removes it", () => {
    const result = wire({ url: "postgres://app%40contoso.com@db.example.com:6432/shop?sslmode=verify-full" });
    expect(result.url).toBeUndefined();
    expect(result).toMatchObject({
      host: "db.example.com",
      port: 6432,
      username: "app@contoso.com",
      database: "shop",
    });
    expect(result.ssl).toBeTruthy();
    expect(typeof result.password).toBe("function");
  });

  it("lets the url win over explicit fields, as pg does", () => {
    const result = wire({ url: "postgres://u@url-host/url-db", host: "field-host", database: "field-db" });
    expect(result).toMatchObject({ host: "url-host", database: "url-db" });
  });

  it.each([
    ["a static password", { host: "h", username: "u", password: "secret" }],
    ["a password in the url", { url: "postgres://u:secret@h/db" }],
    ["a password in extra", { host: "h", username: "u", extra: { password: "secret" } }],
  ])("refuses %s", (_name, options) => {
    expect(() => wire(options)).toThrowError(
      expect.objectContaining({ name: "EntraAuthError", code: "INVALID_SETTING" }),
    );
  });

  it.each([
    ["ssl: false", { ssl: false }],
    ["rejectUnauthorized: false", { ssl: { rejectUnauthorized: false } }],
    ["extra.ssl: false (TypeORM merges extra over ssl)", { ssl: true, extra: { ssl: false } }],
    ["extra.ssl.rejectUnauthorized: false", { extra: { ssl: { rejectUnauthorized: false } } }],
    ["sslmode=disable in the url", { url: "postgres://u@h/db?sslmode=disable" }],
    [
      "sslmode=no-verify in extra.connectionString",
      { extra: { connectionString: "postgres://u@h/db?sslmode=no-verify" } },
    ],
  ])("refuses an insecure config (%s) before any I/O", (_name, options) => {
    const provider = createFakeTokenProvider();
    expect(() =>
      withEntra({ type: "postgres", host: "h", username: "u", ...options }, { tokenProvider: provider, env }),
    ).toThrowError(expect.objectContaining({ name: "EntraAuthError", code: "INSECURE_TRANSPORT" }));
    expect(provider.calls).toBe(0);
  });

  it("accepts TLS off with allowInsecure: true (local testing only)", () => {
    const result = wire({ host: "h", username: "u", ssl: false }, { allowInsecure: true });
    expect(result.ssl).toBe(false);
  });

  it("moves driver connection fields out of extra, so nothing there overrides the wired ones", () => {
    const result = wire({
      username: "u",
      extra: { connectionString: "postgres://u@extra-host:5433/extra-db", ssl: { ca: "PEM" }, max: 2 },
    });
    expect(result).toMatchObject({
      host: "extra-host",
      port: 5433,
      database: "extra-db",
      ssl: { ca: "PEM" },
    });
    expect(result.extra).toEqual({ max: 2 });
  });

  it("reads the Service Connector variables", () => {
    const result = withEntra(
      { type: "postgres" },
      {
        tokenProvider: createFakeTokenProvider(),
        env: {
          AZURE_POSTGRESQL_HOST: "sc.postgres.database.azure.com",
          AZURE_POSTGRESQL_PORT: "5432",
          AZURE_POSTGRESQL_DATABASE: "scdb",
          AZURE_POSTGRESQL_USER: "sc-user",
        },
      },
    ) as Options;
    expect(result).toMatchObject({
      host: "sc.postgres.database.azure.com",
      port: 5432,
      database: "scdb",
      username: "sc-user",
      ssl: { rejectUnauthorized: true },
    });
  });

  it("prefers the username in the options over the Entra options, and those over the environment", () => {
    const entra = { tokenProvider: createFakeTokenProvider(), env: { AZURE_POSTGRESQL_USER: "env-user" } };
    expect(
      withEntra({ type: "postgres", username: "explicit" }, { ...entra, username: "opt" }),
    ).toMatchObject({
      username: "explicit",
    });
    expect(withEntra({ type: "postgres" }, { ...entra, username: "opt" })).toMatchObject({ username: "opt" });
    expect(withEntra({ type: "postgres" }, entra)).toMatchObject({ username: "env-user" });
  });

  it("learns the username from the token when none is configured (pg Client in extra)", () => {
    const result = wire({ host: "h" });
    expect(result.username).toBeUndefined();
    expect(typeof result.extra?.Client).toBe("function");
    expect(wire({ host: "h", username: "u" }).extra).toBeUndefined();
  });

  it("wires every replication node, which inherit the top-level ssl", async () => {
    const result = wire({
      ssl: { ca: "PEM" },
      replication: {
        master: { host: "primary", username: "u" },
        slaves: [{ url: "postgres://u@replica-1/db" }, { host: "replica-2", username: "u", ssl: true }],
      },
    }) as Options & { replication: { master: Options; slaves: Options[] } };
    const { master, slaves } = result.replication;
    const verified = { ca: "PEM", rejectUnauthorized: true };
    expect(master).toMatchObject({ host: "primary", ssl: verified });
    expect(slaves[0]).toMatchObject({ host: "replica-1", username: "u", database: "db", ssl: verified });
    expect(slaves[0]?.url).toBeUndefined();
    expect(slaves[1]).toMatchObject({ host: "replica-2", ssl: { rejectUnauthorized: true } });
    for (const node of [master, ...slaves]) {
      await expect((node.password as () => Promise<string>).call(undefined)).resolves.toBe(CANARY);
    }
  });

  it("refuses replication nodes of which only some have a username", () => {
    expect(() =>
      wire({ replication: { master: { host: "p", username: "u" }, slaves: [{ host: "r" }] } }),
    ).toThrowError(expect.objectContaining({ code: "USERNAME_UNRESOLVED" }));
  });

  it("refuses an insecure replication node", () => {
    expect(() =>
      wire({
        replication: {
          master: { host: "p", username: "u" },
          slaves: [{ host: "r", username: "u", ssl: false }],
        },
      }),
    ).toThrowError(expect.objectContaining({ code: "INSECURE_TRANSPORT" }));
  });

  it("never shows the token in the inspected options, even after it was fetched", async () => {
    const token = fakeJwt({ upn: "someone@contoso.com", secret: "x".repeat(200) });
    const result = withEntra(
      { type: "postgres", host: "h" },
      { tokenProvider: createFakeTokenProvider({ token }), env },
    ) as Options;
    await (result.password as () => Promise<string>).call(undefined);
    const shown = inspect(result, { depth: 8, showHidden: true }) + JSON.stringify(result);
    expect(shown).not.toContain(token);
    expect(shown).not.toContain(token.slice(-40));
  });
});
