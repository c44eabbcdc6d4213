import { inspect } from "node:util";
import { EntraAuthError } from "@org/entra-core";
import { CANARY_TOKEN as CANARY, createFakeTokenProvider } from "@org/entra-core/testing";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { withEntra } from "./with-entra.js";

const env = {};

describe("withEntra (pg config)", () => {
  it("supplies the provider's token through an async password function", async () => {
    const provider = createFakeTokenProvider();
    const config = withEntra(
      { host: "db.postgres.database.azure.com", user: "app" },
      { tokenProvider: provider, env },
    );
    expect(typeof config.password).toBe("function");
    const password = config.password as () => Promise<string>;
    await expect(password.call(undefined)).resolves.toBe(CANARY);
    expect(provider.calls).toBe(1);
  });

  it("turns TLS on with certificate verification by default", () => {
    const config = withEntra({ host: "h", user: "u" }, { tokenProvider: createFakeTokenProvider(), env });
    // Explicit, so that NODE_TLS_REJECT_UNAUTHORIZED (read by tls.connect for unset values) cannot turn it off.
    expect(config.ssl).toEqual({ rejectUnauthorized: true });
  });

  it("keeps a caller's verified TLS object (private CA)", () => {
    const config = withEntra(
      { host: "h", user: "u", ssl: { ca: "PEM" } },
      { tokenProvider: createFakeTokenProvider(), env },
    );
    expect(config.ssl).toEqual({ ca: "PEM", rejectUnauthorized: true });
  });

  it.each([
    ["ssl: false", { ssl: false }],
    ["rejectUnauthorized: false", { ssl: { rejectUnauthorized: false } }],
    ["sslmode=disable", { connectionString: "postgres://u@h/db?sslmode=disable" }],
    ["sslmode=no-verify", { connectionString: "postgres://u@h/db?sslmode=no-verify" }],
    ["checkServerIdentity", { ssl: { ca: "PEM", checkServerIdentity: () => undefined } }],
  ])("refuses an insecure config (%s) before any I/O", (_name, insecure) => {
    const provider = createFakeTokenProvider();
    expect(() =>
      withEntra({ host: "h", user: "u", ...insecure }, { tokenProvider: provider, env }),
    ).toThrowError(expect.objectContaining({ name: "EntraAuthError", code: "INSECURE_TRANSPORT" }));
    expect(provider.calls).toBe(0);
  });

  it("allows an insecure config only with allowInsecure: true", () => {
    const config = withEntra(
      { host: "h", user: "u", ssl: false },
      { tokenProvider: createFakeTokenProvider(), env, allowInsecure: true },
    );
    expect(config.ssl).toBe(false);
  });

  it("refuses AZURE_POSTGRESQL_SSL=false unless allowInsecure", () => {
    const insecureEnv = {
      AZURE_POSTGRESQL_HOST: "h",
      AZURE_POSTGRESQL_SSL: "false",
      AZURE_POSTGRESQL_USER: "u",
    };
    expect(() =>
      withEntra(undefined, { tokenProvider: createFakeTokenProvider(), env: insecureEnv }),
    ).toThrow(EntraAuthError);
  });

  it("parses a connectionString into fields so the password function survives", () => {
    const config = withEntra(
      { connectionString: "postgresql://app%40x@db.example.com:6432/orders?application_name=svc" },
      { tokenProvider: createFakeTokenProvider(), env },
    );
    expect(config).not.toHaveProperty("connectionString");
    expect(config).toMatchObject({ host: "db.example.com", port: 6432, database: "orders", user: "app@x" });
    expect(config.application_name).toBe("svc");
    expect(typeof config.password).toBe("function");
  });

  it("refuses a connectionString or config carrying a static password", () => {
    const options = { tokenProvider: createFakeTokenProvider(), env };
    expect(() => withEntra({ connectionString: "postgres://u:secret@h/db" }, options)).toThrowError(
      expect.objectContaining({ code: "INVALID_SETTING" }),
    );
    expect(() => withEntra({ host: "h", user: "u", password: "secret" }, options)).toThrowError(
      expect.objectContaining({ code: "INVALID_SETTING" }),
    );
  });

  it("reads the Service Connector variables when the config is absent", () => {
    const scEnv = {
      AZURE_POSTGRESQL_HOST: "srv.postgres.database.azure.com",
      AZURE_POSTGRESQL_PORT: "5433",
      AZURE_POSTGRESQL_DATABASE: "inventory",
      AZURE_POSTGRESQL_USER: "aad_conn",
      AZURE_POSTGRESQL_SSL: "true",
    };
    const config = withEntra(undefined, { tokenProvider: createFakeTokenProvider(), env: scEnv });
    expect(config).toMatchObject({
      host: "srv.postgres.database.azure.com",
      port: 5433,
      database: "inventory",
      user: "aad_conn",
      ssl: { rejectUnauthorized: true },
    });
  });

  it("prefers the explicit user, then options.username, then AZURE_POSTGRESQL_USER", () => {
    const scEnv = { AZURE_POSTGRESQL_USER: "from-env" };
    const provider = createFakeTokenProvider();
    expect(
      withEntra({ user: "explicit" }, { tokenProvider: provider, env: scEnv, username: "opt" }).user,
    ).toBe("explicit");
    expect(withEntra({}, { tokenProvider: provider, env: scEnv, username: "opt" }).user).toBe("opt");
    expect(withEntra({}, { tokenProvider: provider, env: scEnv }).user).toBe("from-env");
  });

  it("lets a pool learn the user name from the token's claims before connecting", async () => {
    const config = withEntra(
      { host: "127.0.0.1", port: 1 },
      { tokenProvider: createFakeTokenProvider(), env },
    );
    expect(config.user).toBeUndefined();
    const EntraClient = config.Client as typeof pg.Client;
    expect(new EntraClient(config)).toBeInstanceOf(pg.Client);
    const client = new EntraClient(config);
    // Port 1 refuses the TCP connection; by then the user name has been set from the token.
    await expect(client.connect()).rejects.toThrow();
    expect(client.user).toBe("canary-app");
  });

  it("never shows the token when the config is inspected", async () => {
    const config = withEntra({ host: "h", user: "u" }, { tokenProvider: createFakeTokenProvider(), env });
    await (config.password as () => Promise<string>).call(undefined);
    expect(inspect(config, { depth: 10, showHidden: true })).not.toContain(CANARY);
    expect(JSON.stringify(config)).not.toContain(CANARY);
  });

  it("refuses to start when NODE_TLS_REJECT_UNAUTHORIZED=0 turns verification off process-wide", () => {
    const previous = process.env.NODE_TLS_REJECT_UNAUTHORIZED;
    process.env.NODE_TLS_REJECT_UNAUTHORIZED = "0";
    try {
      expect(() =>
        withEntra({ host: "h", user: "u" }, { tokenProvider: createFakeTokenProvider(), env }),
      ).toThrowError(
        expect.objectContaining({
          code: "INSECURE_TRANSPORT",
          message: expect.stringContaining("NODE_TLS_REJECT_UNAUTHORIZED=0"),
        }),
      );
    } finally {
      if (previous === undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
      else process.env.NODE_TLS_REJECT_UNAUTHORIZED = previous;
    }
  });

  it("hands pg no token for a connection whose server was not verified", async () => {
    const provider = createFakeTokenProvider();
    const config = withEntra({ host: "db.example.com", user: "u" }, { tokenProvider: provider, env });
    const password = config.password as (this: unknown) => Promise<string>;
    const certificate = { subject: { CN: "db.example.com" }, subjectaltname: "DNS:db.example.com" };
    const client = (stream: unknown) => ({ host: "db.example.com", connection: { stream } });
    const plaintext = { encrypted: false };
    const unverified = { encrypted: true, authorized: false, getPeerCertificate: () => certificate };
    const otherName = {
      encrypted: true,
      authorized: true,
      getPeerCertificate: () => ({ subject: { CN: "x" }, subjectaltname: "DNS:impostor.invalid" }),
    };
    for (const stream of [plaintext, unverified, otherName]) {
      await expect(password.call(client(stream))).rejects.toMatchObject({ code: "INSECURE_TRANSPORT" });
    }
    expect(provider.calls).toBe(0);
    const verified = { encrypted: true, authorized: true, getPeerCertificate: () => certificate };
    await expect(password.call(client(verified))).resolves.toBe(CANARY);
  });
});
