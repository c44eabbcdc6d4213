import { resetSharedTokenProviders } from "@org/entra-core";
import { createFakeTokenProvider } from "@org/entra-core/testing";
import sql from "mssql";
import { afterEach, describe, expect, it } from "vitest";
import { withEntra } from "./with-entra.js";

const options = () => ({ tokenProvider: createFakeTokenProvider(), env: {} });

describe("mssql connection strings", () => {
  afterEach(() => resetSharedTokenProviders());

  it("parses an Entra connection string into a config with the token credential", () => {
    const config = withEntra(
      "Server=tcp:srv.database.windows.net,1433;Initial Catalog=app;Encrypt=True;TrustServerCertificate=False;Connection Timeout=30;Authentication=Active Directory Default",
      options(),
    );
    expect(config).toMatchObject({
      server: "srv.database.windows.net",
      port: 1433,
      database: "app",
      connectionTimeout: 30_000,
      // Encrypt=True becomes TDS 8 strict: with true, tedious lets the server decide whether to encrypt.
      options: { encrypt: "strict", trustServerCertificate: false },
      authentication: { type: "token-credential" },
    });
    expect(config).not.toHaveProperty("authentication_type");
    expect(() => new sql.ConnectionPool(config)).not.toThrow();
  });

  it("uses Client Id as the managed identity and keeps Encrypt=strict", () => {
    const config = withEntra(
      "Server=srv.database.windows.net;Database=app;Encrypt=strict;Authentication=Active Directory Integrated;Client Id=11111111-1111-1111-1111-111111111111",
      { env: {} },
    );
    expect(config.options.encrypt).toBe("strict");
    expect(config.authentication.options.credential.clientId).toBe("11111111-1111-1111-1111-111111111111");
  });

  it.each([
    ["Server=srv;Database=app;User Id=sa;Password=hunter2", "password"],
    ["Server=srv;Database=app;Authentication=Active Directory Integrated;Token=abc.def.ghi", "token"],
    [
      "Server=srv;Authentication=Active Directory Integrated;Client Id=c;Client Secret=hunter2;Tenant Id=t",
      "Client Secret",
    ],
    ["Server=srv;Database=app;User Id=sa", "`user`"],
    ["Server=srv;Authentication=Active Directory Password", "Active Directory Password"],
  ])("refuses %s", (connectionString, what) => {
    const attempt = () => withEntra(connectionString, options());
    expect(attempt).toThrowError(
      expect.objectContaining({ code: "INVALID_SETTING", message: expect.stringContaining(what) }),
    );
    expect(attempt).toThrowError(
      expect.objectContaining({ message: expect.not.stringMatching(/hunter2|abc\.def/) }),
    );
  });

  it("refuses Encrypt=false like the object form", () => {
    expect(() => withEntra("Server=srv;Database=app;Encrypt=false", options())).toThrowError(
      expect.objectContaining({ code: "INSECURE_TRANSPORT" }),
    );
  });

  it("turns a parser failure into INVALID_SETTING without echoing secrets", () => {
    expect(() => withEntra("Server=np:\\\\srv\\pipe\\sql;Password=hunter2", options())).toThrowError(
      expect.objectContaining({
        code: "INVALID_SETTING",
        message: expect.stringMatching(/could not be parsed: Connection via Named Pipes/),
      }),
    );
  });
});
