import { createFakeTokenProvider } from "@org/entra-core/testing";
import type { ConnectionOptions } from "mysql2";
import { describe, expect, it } from "vitest";
import { withEntra } from "./with-entra.js";

const env = {};

describe("withEntra TLS policy (mysql2)", () => {
  it("turns TLS on with certificate and host name verification by default", () => {
    const config = withEntra({ host: "h", user: "u" }, { tokenProvider: createFakeTokenProvider(), env });
    expect(config.ssl).toEqual({ verifyIdentity: true });
  });

  it("turns ssl: true (which mysql2 rejects) into a verifying TLS object", () => {
    const config = withEntra({ host: "h", user: "u", ssl: true } as unknown as ConnectionOptions, {
      tokenProvider: createFakeTokenProvider(),
      env,
    });
    expect(config.ssl).toEqual({ verifyIdentity: true });
  });

  it("turns AZURE_MYSQL_SSL=true into a TLS object, never the string mysql2 reads as a profile", () => {
    const config = withEntra(undefined, {
      tokenProvider: createFakeTokenProvider(),
      env: { AZURE_MYSQL_HOST: "h", AZURE_MYSQL_USER: "u", AZURE_MYSQL_SSL: "true" },
    });
    expect(config.ssl).toEqual({ verifyIdentity: true });
  });

  it("turns ?ssl=true in a uri into a TLS object", () => {
    const config = withEntra(
      { uri: "mysql://u@h/db?ssl=true" },
      { tokenProvider: createFakeTokenProvider(), env },
    );
    expect(config.ssl).toEqual({ verifyIdentity: true });
  });

  it("keeps a caller's verifying TLS object (private CA) without mutating it", () => {
    const ssl = { ca: "PEM" };
    const config = withEntra(
      { host: "h", user: "u", ssl },
      { tokenProvider: createFakeTokenProvider(), env },
    );
    expect(config.ssl).toEqual({ ca: "PEM", verifyIdentity: true });
    expect(config.ssl).not.toBe(ssl);
    expect(ssl).toEqual({ ca: "PEM" });
  });

  it.each<[string, ConnectionOptions, Record<string, string>?]>([
    ["ssl: false", { ssl: false } as unknown as ConnectionOptions],
    ["rejectUnauthorized: false", { ssl: { rejectUnauthorized: false } }],
    ["verifyIdentity: false", { ssl: { verifyIdentity: false } }],
    ["an SSL profile name", { ssl: "Amazon RDS" }],
    ["an sslmode-like string", { ssl: "disable" }],
    ["insecureAuth", { insecureAuth: true }],
    ["ssl=false in the uri", { uri: "mysql://u@h/db?ssl=false" }],
    ["rejectUnauthorized false in the uri", { uri: 'mysql://u@h/db?ssl={"rejectUnauthorized":false}' }],
    ["AZURE_MYSQL_SSL=false", {}, { AZURE_MYSQL_SSL: "false" }],
  ])("refuses an insecure config (%s) before any I/O", (_name, insecure, insecureEnv = {}) => {
    const provider = createFakeTokenProvider();
    expect(() =>
      withEntra({ host: "h", user: "u", ...insecure }, { tokenProvider: provider, env: insecureEnv }),
    ).toThrowError(expect.objectContaining({ name: "EntraAuthError", code: "INSECURE_TRANSPORT" }));
    expect(provider.calls).toBe(0);
  });

  it.each<[string, ConnectionOptions, unknown]>([
    ["ssl: false", { ssl: false } as unknown as ConnectionOptions, false],
    ["rejectUnauthorized: false", { ssl: { rejectUnauthorized: false } }, { rejectUnauthorized: false }],
    ["an SSL profile name", { ssl: "Amazon RDS" }, "Amazon RDS"],
    ["insecureAuth", { insecureAuth: true }, { verifyIdentity: true }],
  ])("allows an insecure config (%s) only with allowInsecure: true", (_name, insecure, ssl) => {
    const config = withEntra(
      { host: "h", user: "u", ...insecure },
      { tokenProvider: createFakeTokenProvider(), env, allowInsecure: true },
    );
    expect(config.ssl).toEqual(ssl);
  });

  it("lets an explicit TLS object win over AZURE_MYSQL_SSL=false", () => {
    const config = withEntra(
      { host: "h", user: "u", ssl: { ca: "PEM" } },
      { tokenProvider: createFakeTokenProvider(), env: { AZURE_MYSQL_SSL: "false" } },
    );
    expect(config.ssl).toEqual({ ca: "PEM", verifyIdentity: true });
  });
});
