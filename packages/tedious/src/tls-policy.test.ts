import { resetSharedTokenProviders } from "@org/entra-core";
import { createFakeTokenProvider } from "@org/entra-core/testing";
import { Connection } from "tedious";
import { afterEach, describe, expect, it } from "vitest";
import { withEntra } from "./with-entra.js";

const SERVER = "myserver.database.windows.net";

describe("TLS policy (tedious)", () => {
  afterEach(() => resetSharedTokenProviders());

  it("defaults to encrypt: 'strict' and trustServerCertificate: false", () => {
    const config = withEntra({ server: SERVER }, { tokenProvider: createFakeTokenProvider(), env: {} });
    expect(config.options).toEqual({ encrypt: "strict", trustServerCertificate: false });
  });

  it.each([
    [{ encrypt: false }, "options.encrypt disables TLS"],
    [{ trustServerCertificate: true }, "options.trustServerCertificate disables certificate verification"],
    [{ encrypt: "strict" as const, trustServerCertificate: true }, "options.trustServerCertificate"],
  ])("refuses %o with INSECURE_TRANSPORT before any I/O", (tls, message) => {
    expect(() =>
      withEntra({ server: SERVER, options: tls }, { tokenProvider: createFakeTokenProvider(), env: {} }),
    ).toThrowError(
      expect.objectContaining({
        name: "EntraAuthError",
        code: "INSECURE_TRANSPORT",
        message: expect.stringContaining(message),
      }),
    );
  });

  it("accepts them with allowInsecure: true (local testing), keeping the values", () => {
    const config = withEntra(
      { server: "localhost", options: { encrypt: false, trustServerCertificate: true } },
      { tokenProvider: createFakeTokenProvider(), env: {}, allowInsecure: true },
    );
    expect(config.options).toMatchObject({ encrypt: false, trustServerCertificate: true });
    expect(() => new Connection(config)).not.toThrow();
  });
});
