import { describe, expect, it } from "vitest";
import { describeServerAuthError, shouldInvalidateToken } from "./server-auth-errors.js";

describe("server-auth-errors", () => {
  it("maps an expired token (PG, MySQL 9119, SQL 18456)", () => {
    const pg = describeServerAuthError(
      "The access token has expired. Please acquire a new token and retry.",
      "postgresql",
    );
    expect(pg?.code).toBe("TOKEN_EXPIRED");
    expect(pg?.hint).toMatch(/fresh token/);
    expect(pg?.hint).toMatch(/clock/);
    expect(
      describeServerAuthError(
        "Login failed for user '<token-identified principal>'. Token is expired.",
        "sqlserver",
      )?.code,
    ).toBe("TOKEN_EXPIRED");
  });

  it("maps a wrong audience to TOKEN_AUDIENCE with the right scope", () => {
    const msg =
      'The access token does not have a valid audience claim. Please acquire a new token for the resource "https://ossrdbms-aad.database.windows.net".';
    const pg = describeServerAuthError(msg, "postgresql");
    expect(pg?.code).toBe("TOKEN_AUDIENCE");
    expect(pg?.hint).toContain("https://ossrdbms-aad.database.windows.net/.default");
    expect(describeServerAuthError(msg, "sqlserver")?.hint).toContain(
      "https://database.windows.net/.default",
    );
  });

  it("maps an invalid token to TOKEN_INVALID", () => {
    const result = describeServerAuthError(
      "An error occurred while validating the access token. Please acquire a new token and retry",
      "postgresql",
    );
    expect(result?.code).toBe("TOKEN_INVALID");
    expect(result?.hint).toMatch(/tenant/);
    expect(
      describeServerAuthError(
        "Login failed for user '<token-identified principal>'. Incorrect or invalid token.",
        "sqlserver",
      )?.code,
    ).toBe("TOKEN_INVALID");
  });

  it("maps unknown principals with engine-specific role creation hints", () => {
    const pg = describeServerAuthError('password authentication failed for user "my-identity"', "postgresql");
    expect(pg?.code).toBe("PRINCIPAL_UNKNOWN");
    expect(pg?.hint).toContain("select * from pgaadauth_create_principal('my-identity', false, false)");
    expect(pg?.hint).toContain("postgres");
    const mysql = describeServerAuthError(
      "ERROR 1045 (28000): Access denied for user 'my-identity'@'10.0.0.1' (using password: YES)",
      "mysql",
    );
    expect(mysql?.code).toBe("PRINCIPAL_UNKNOWN");
    expect(mysql?.hint).toContain("CREATE AADUSER 'my-identity'");
    const sql = describeServerAuthError("Login failed for user '<token-identified principal>'.", "sqlserver");
    expect(sql?.code).toBe("PRINCIPAL_UNKNOWN");
    expect(sql?.hint).toContain("FROM EXTERNAL PROVIDER");
    expect(
      describeServerAuthError(
        "Service Principals cannot generate AAD_AUTH_TOKENTYPE_APP_USER tokens for role[my-app]",
        "postgresql",
      )?.code,
    ).toBe("PRINCIPAL_UNKNOWN");
  });

  it("maps TLS-required errors to INSECURE_TRANSPORT", () => {
    expect(
      describeServerAuthError(
        'no pg_hba.conf entry for host "1.2.3.4", user "u", database "d", no encryption',
        "postgresql",
      )?.code,
    ).toBe("INSECURE_TRANSPORT");
    expect(
      describeServerAuthError(
        "Connections using insecure transport are prohibited while --require_secure_transport=ON.",
        "mysql",
      )?.code,
    ).toBe("INSECURE_TRANSPORT");
  });

  it("returns undefined for other messages", () => {
    expect(describeServerAuthError("connection refused", "postgresql")).toBeUndefined();
    expect(describeServerAuthError("", "mysql")).toBeUndefined();
  });

  it("invalidates the token only for TOKEN_EXPIRED and TOKEN_INVALID", () => {
    expect(shouldInvalidateToken("TOKEN_EXPIRED")).toBe(true);
    expect(shouldInvalidateToken("TOKEN_INVALID")).toBe(true);
    expect(shouldInvalidateToken("TOKEN_AUDIENCE")).toBe(false);
    expect(shouldInvalidateToken("PRINCIPAL_UNKNOWN")).toBe(false);
  });
});
