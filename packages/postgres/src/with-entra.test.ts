import { resetSharedTokenProviders } from "@org/entra-core";
import { CANARY_TOKEN, createFakeTokenProvider } from "@org/entra-core/testing";
import { describe, expect, it, vi } from "vitest";
import { withEntra } from "./with-entra.js";

const env = {};
const fake = () => ({ tokenProvider: createFakeTokenProvider(), env });

describe("withEntra (postgres.js options)", () => {
  it("returns your options with the token hook, the adapter's socket and ssl: false", () => {
    const config = withEntra({ host: "srv.postgres.database.azure.com", database: "app", max: 3 }, fake());
    expect(config).toMatchObject({
      host: "srv.postgres.database.azure.com",
      database: "app",
      max: 3,
      ssl: false,
    });
    expect(typeof config.password).toBe("function");
    expect(typeof (config as { socket?: unknown }).socket).toBe("function");
  });

  it("reads a connection URL into options: fields, postgres.js options and connection parameters", () => {
    const config = withEntra(
      "postgres://app%40corp@srv.postgres.database.azure.com:6432/orders?sslmode=require&application_name=svc&max=4&idle_timeout=20&prepare=false&target_session_attrs=read-write",
      fake(),
    );
    expect(config).toMatchObject({
      host: "srv.postgres.database.azure.com",
      port: 6432,
      user: "app@corp",
      database: "orders",
      max: 4,
      idle_timeout: 20,
      prepare: false,
      target_session_attrs: "read-write",
      connection: { application_name: "svc" },
      ssl: false,
    });
    expect(config).not.toHaveProperty("sslmode");
  });

  it("keeps a URL's several hosts as the host list postgres.js reads", () => {
    const config = withEntra(
      "postgres://app@a.postgres.database.azure.com:5432,b.postgres.database.azure.com:5433/db",
      fake(),
    );
    expect(config).toMatchObject({
      host: "a.postgres.database.azure.com:5432,b.postgres.database.azure.com:5433",
    });
  });

  it("refuses a static password, in options or in a URL", () => {
    for (const given of [
      { host: "h", password: "secret" },
      { host: "h", pass: "secret" },
      "postgres://u:secret@h/db",
    ]) {
      expect(() => withEntra(given as never, fake())).toThrowError(
        expect.objectContaining({ code: "INVALID_SETTING" }),
      );
    }
  });

  it("refuses a malformed URL and an unreadable sslrootcert without repeating the URL", () => {
    expect(() => withEntra("postgres://u@h:notaport/db", fake())).toThrowError(
      expect.objectContaining({ code: "INVALID_SETTING", message: expect.not.stringContaining("notaport") }),
    );
    expect(() => withEntra("postgres://u@h/db?sslrootcert=/nonexistent/ca.pem", fake())).toThrowError(
      /sslrootcert=\/nonexistent\/ca\.pem/,
    );
  });

  it.each([
    ["ssl: false", { ssl: false }],
    ['ssl: "disable"', { ssl: "disable" }],
    ['ssl: "allow"', { ssl: "allow" }],
    ['ssl: "prefer"', { ssl: "prefer" }],
    ["rejectUnauthorized: false", { ssl: { rejectUnauthorized: false } }],
    ["checkServerIdentity", { ssl: { ca: "PEM", checkServerIdentity: () => undefined } }],
    ["a Unix socket path", { path: "/var/run/postgresql/.s.PGSQL.5432" }],
    ["sslmode=disable", "postgres://u@h/db?sslmode=disable"],
    ["sslmode=prefer", "postgres://u@h/db?sslmode=prefer"],
    ["sslmode=no-verify", "postgres://u@h/db?sslmode=no-verify"],
  ])("refuses an insecure config (%s) before any I/O", (_name, insecure) => {
    const provider = createFakeTokenProvider();
    const given = typeof insecure === "string" ? insecure : { host: "h", user: "u", ...insecure };
    expect(() => withEntra(given as never, { tokenProvider: provider, env })).toThrowError(
      expect.objectContaining({ name: "EntraAuthError", code: "INSECURE_TRANSPORT" }),
    );
    expect(provider.calls).toBe(0);
  });

  it("starts fetching the token (warm start) only for a config it accepts", async () => {
    let calls = 0;
    const credential = {
      async getToken() {
        calls++;
        return { token: CANARY_TOKEN, expiresOnTimestamp: Date.now() + 3_600_000 };
      },
    };
    try {
      expect(() => withEntra({ host: "h", user: "u", ssl: false }, { credential, env })).toThrow();
      await new Promise((resolve) => setImmediate(resolve));
      expect(calls).toBe(0);
      withEntra({ host: "h", user: "u" }, { credential, env });
      await vi.waitFor(() => expect(calls).toBe(1));
    } finally {
      resetSharedTokenProviders();
    }
  });

  it("accepts an insecure config only with allowInsecure: true", () => {
    expect(withEntra({ host: "h", user: "u", ssl: false }, { ...fake(), allowInsecure: true }).ssl).toBe(
      false,
    );
  });

  it("refuses AZURE_POSTGRESQL_SSL=false and a process with NODE_TLS_REJECT_UNAUTHORIZED=0", () => {
    const insecureEnv = {
      AZURE_POSTGRESQL_HOST: "h",
      AZURE_POSTGRESQL_USER: "u",
      AZURE_POSTGRESQL_SSL: "false",
    };
    expect(() =>
      withEntra(undefined, { tokenProvider: createFakeTokenProvider(), env: insecureEnv }),
    ).toThrowError(
      expect.objectContaining({
        code: "INSECURE_TRANSPORT",
        message: expect.stringContaining("AZURE_POSTGRESQL_SSL"),
      }),
    );
    const previous = process.env.NODE_TLS_REJECT_UNAUTHORIZED;
    process.env.NODE_TLS_REJECT_UNAUTHORIZED = "0";
    try {
      expect(() => withEntra({ host: "h", user: "u" }, fake())).toThrowError(
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

  it("reads the Service Connector variables when the options are absent", () => {
    const scEnv = {
      AZURE_POSTGRESQL_HOST: "srv.postgres.database.azure.com",
      AZURE_POSTGRESQL_PORT: "5433",
      AZURE_POSTGRESQL_DATABASE: "inventory",
      AZURE_POSTGRESQL_USER: "aad_conn",
      AZURE_POSTGRESQL_SSL: "true",
    };
    expect(withEntra(undefined, { tokenProvider: createFakeTokenProvider(), env: scEnv })).toMatchObject({
      host: "srv.postgres.database.azure.com",
      port: 5433,
      database: "inventory",
      user: "aad_conn",
    });
  });

  it("prefers the options' user (or username), then options.username, then AZURE_POSTGRESQL_USER", () => {
    const scEnv = { AZURE_POSTGRESQL_USER: "from-env" };
    const tokenProvider = createFakeTokenProvider();
    expect(withEntra({ username: "explicit" }, { tokenProvider, env: scEnv, username: "opt" })).toMatchObject(
      {
        user: "explicit",
      },
    );
    expect(withEntra({}, { tokenProvider, env: scEnv, username: "opt" }).user).toBe("opt");
    expect(withEntra({}, { tokenProvider, env: scEnv }).user).toBe("from-env");
    expect(withEntra({}, { tokenProvider, env: {} })).not.toHaveProperty("user");
  });

  it("refuses options it already prepared", () => {
    const once = withEntra({ host: "h", user: "u" }, fake());
    expect(() => withEntra(once, fake())).toThrowError(expect.objectContaining({ code: "INVALID_SETTING" }));
  });
});
