import { resetSharedTokenProviders } from "@org/entra-core";
import { createFakeTokenProvider } from "@org/entra-core/testing";
import { Connection } from "tedious";
import { afterEach, describe, expect, it } from "vitest";
import { createEntraTokenCredential } from "./entra-token-credential.js";
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

  it("turns encrypt: true into TDS 8 strict, which no PRELOGIN answer can downgrade", () => {
    const config = withEntra(
      { server: SERVER, options: { encrypt: true } },
      { tokenProvider: createFakeTokenProvider(), env: {} },
    );
    expect(config.options.encrypt).toBe("strict");
  });

  it("refuses NODE_TLS_REJECT_UNAUTHORIZED=0 when the config is built and again when tedious asks for a token", async () => {
    const previous = process.env.NODE_TLS_REJECT_UNAUTHORIZED;
    const provider = createFakeTokenProvider();
    try {
      process.env.NODE_TLS_REJECT_UNAUTHORIZED = "0";
      expect(() => withEntra({ server: SERVER }, { tokenProvider: provider, env: {} })).toThrowError(
        expect.objectContaining({ code: "INSECURE_TRANSPORT" }),
      );
      delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
      const credential = createEntraTokenCredential({ tokenProvider: provider, env: {} });
      // Set after the config was built: tedious's TDS 8 TLS would follow it.
      process.env.NODE_TLS_REJECT_UNAUTHORIZED = "0";
      await expect(credential.getToken("https://database.windows.net/.default")).rejects.toMatchObject({
        code: "INSECURE_TRANSPORT",
      });
      expect(provider.calls).toBe(0);
    } finally {
      if (previous === undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
      else process.env.NODE_TLS_REJECT_UNAUTHORIZED = previous;
    }
  });
});
