import { describe, expect, it } from "vitest";
import type { EntraAuthError } from "./entra-auth-error.js";
import { resolveSettings } from "./resolve-settings.js";

const GUID = "0f8fad5b-d9cb-469f-a165-70867728950e";

function errorOf(fn: () => unknown): EntraAuthError {
  try {
    fn();
  } catch (error) {
    return error as EntraAuthError;
  }
  throw new Error("expected a throw");
}

describe("resolve-settings", () => {
  it("reads the PostgreSQL Service Connector variables", () => {
    expect(
      resolveSettings("postgresql", {
        AZURE_POSTGRESQL_HOST: "srv.postgres.database.azure.com",
        AZURE_POSTGRESQL_PORT: "5432",
        AZURE_POSTGRESQL_DATABASE: "app",
        AZURE_POSTGRESQL_USER: "my-identity",
        AZURE_POSTGRESQL_SSL: "true",
        AZURE_POSTGRESQL_CLIENTID: GUID,
      }),
    ).toEqual({
      host: "srv.postgres.database.azure.com",
      port: 5432,
      database: "app",
      user: "my-identity",
      ssl: true,
      clientId: GUID,
    });
  });

  it("reads MySQL variables and parses _SSL case-insensitively", () => {
    expect(
      resolveSettings("mysql", { AZURE_MYSQL_HOST: "m.mysql.database.azure.com", AZURE_MYSQL_SSL: "FALSE" }),
    ).toEqual({
      host: "m.mysql.database.azure.com",
      ssl: false,
    });
    expect(resolveSettings("mysql", { AZURE_MYSQL_SSL: "1" }).ssl).toBe(true);
    expect(resolveSettings("mysql", { AZURE_MYSQL_SSL: "0" }).ssl).toBe(false);
  });

  it("reads Azure SQL variables (SERVER, no USER or SSL)", () => {
    expect(
      resolveSettings("sqlserver", {
        AZURE_SQL_SERVER: "s.database.windows.net",
        AZURE_SQL_PORT: "1433",
        AZURE_SQL_DATABASE: "db",
        AZURE_SQL_USER: "ignored",
        AZURE_SQL_SSL: "nonsense",
        AZURE_SQL_CLIENTID: GUID,
      }),
    ).toEqual({ host: "s.database.windows.net", port: 1433, database: "db", clientId: GUID });
  });

  it("treats empty strings as absent and returns an empty object for an empty env", () => {
    expect(resolveSettings("postgresql", { AZURE_POSTGRESQL_HOST: "", AZURE_POSTGRESQL_PORT: " " })).toEqual(
      {},
    );
    expect(resolveSettings("postgresql", {})).toEqual({});
  });

  it("rejects a port that is not an integer 1-65535, naming the variable", () => {
    for (const port of ["0", "65536", "54x", "5432.0", "-1"]) {
      const error = errorOf(() => resolveSettings("postgresql", { AZURE_POSTGRESQL_PORT: port }));
      expect(error.code).toBe("INVALID_SETTING");
      expect(error.message).toContain("AZURE_POSTGRESQL_PORT");
      expect(error.message).toContain("1 to 65535");
    }
  });

  it("rejects _SSL values other than true/false/1/0", () => {
    const error = errorOf(() => resolveSettings("mysql", { AZURE_MYSQL_SSL: "yes" }));
    expect(error.code).toBe("INVALID_SETTING");
    expect(error.message).toContain("AZURE_MYSQL_SSL");
    expect(error.message).toContain('"yes"');
  });

  it("rejects a host with a scheme or path without echoing credentials", () => {
    const error = errorOf(() =>
      resolveSettings("postgresql", { AZURE_POSTGRESQL_HOST: "postgres://admin:S3cret@srv.example.com/db" }),
    );
    expect(error.code).toBe("INVALID_SETTING");
    expect(error.message).toContain("AZURE_POSTGRESQL_HOST");
    expect(error.message).not.toContain("S3cret");
    expect(() => resolveSettings("sqlserver", { AZURE_SQL_SERVER: "srv.example.com/db" })).toThrow(
      /AZURE_SQL_SERVER/,
    );
  });

  it("rejects a client ID that is not a GUID, showing only its shape", () => {
    const secret = "Xy7~averylongclientsecretvalue1234567890";
    const error = errorOf(() => resolveSettings("postgresql", { AZURE_POSTGRESQL_CLIENTID: secret }));
    expect(error.code).toBe("INVALID_SETTING");
    expect(error.message).toContain("AZURE_POSTGRESQL_CLIENTID");
    expect(error.message).toContain("GUID");
    expect(error.message).not.toContain(secret);
  });
});
