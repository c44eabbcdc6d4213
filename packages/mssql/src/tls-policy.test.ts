import { resetSharedTokenProviders } from "@org/entra-core";
import { createFakeTokenProvider } from "@org/entra-core/testing";
import type sql from "mssql";
import { afterEach, describe, expect, it } from "vitest";
import { withEntra } from "./with-entra.js";

const SERVER = "myserver.database.windows.net";

describe("TLS policy (mssql)", () => {
  afterEach(() => resetSharedTokenProviders());

  it("defaults to encrypt: 'strict' and trustServerCertificate: false", () => {
    expect(
      withEntra({ server: SERVER }, { tokenProvider: createFakeTokenProvider(), env: {} }).options,
    ).toEqual({
      encrypt: "strict",
      trustServerCertificate: false,
    });
  });

  it.each([
    [{ options: { encrypt: false } }],
    [{ options: { trustServerCertificate: true } }],
    // mssql also reads these two at the top level when options has none.
    [{ encrypt: false }],
    [{ trustServerCertificate: true }],
  ])("refuses %o with INSECURE_TRANSPORT before any I/O", (tls) => {
    expect(() =>
      withEntra({ server: SERVER, ...tls } as sql.config, {
        tokenProvider: createFakeTokenProvider(),
        env: {},
      }),
    ).toThrowError(expect.objectContaining({ name: "EntraAuthError", code: "INSECURE_TRANSPORT" }));
  });

  it("accepts them with allowInsecure: true (local testing)", () => {
    const config = withEntra(
      { server: "localhost", options: { encrypt: false, trustServerCertificate: true } },
      { tokenProvider: createFakeTokenProvider(), env: {}, allowInsecure: true },
    );
    expect(config.options).toMatchObject({ encrypt: false, trustServerCertificate: true });
  });

  it("turns encrypt: true (Encrypt=True) into TDS 8 strict, so no server can downgrade the login", () => {
    for (const config of [{ options: { encrypt: true } }, { encrypt: true }]) {
      const result = withEntra({ server: SERVER, ...config } as sql.config, {
        tokenProvider: createFakeTokenProvider(),
        env: {},
      });
      expect(result.options.encrypt).toBe("strict");
    }
    const kept = withEntra(
      { server: "localhost", options: { encrypt: true } },
      { tokenProvider: createFakeTokenProvider(), env: {}, allowInsecure: true },
    );
    expect(kept.options.encrypt).toBe(true);
  });
});
