import { describe, expect, it } from "vitest";
import { buildConnectionUrl } from "./build-url.js";

const token = "eyJhbGciOi.eyJhdWQiOi.sig-_nature";

describe("buildConnectionUrl", () => {
  it("builds a PostgreSQL URL with verify-full and URL-encoded user and database", () => {
    expect(
      buildConnectionUrl({
        engine: "postgresql",
        host: "srv.postgres.database.azure.com",
        database: "my db",
        user: "dev@contoso.com",
        token,
      }),
    ).toBe(
      `postgresql://dev%40contoso.com:${token}@srv.postgres.database.azure.com:5432/my%20db?sslmode=verify-full&sslrootcert=system`,
    );
  });

  it("encodes characters a token or group name may carry", () => {
    const url = buildConnectionUrl({ engine: "postgresql", host: "h", user: "Team A/DBAs", token: "a+b/c=" });
    expect(url).toBe(
      "postgresql://Team%20A%2FDBAs:a%2Bb%2Fc%3D@h:5432/?sslmode=verify-full&sslrootcert=system",
    );
    const parsed = new URL(url);
    expect(decodeURIComponent(parsed.username)).toBe("Team A/DBAs");
    expect(decodeURIComponent(parsed.password)).toBe("a+b/c=");
  });

  it("builds MySQL URLs in the three formats, each verifying TLS", () => {
    const base = {
      engine: "mysql" as const,
      host: "srv.mysql.database.azure.com",
      database: "app",
      user: "app-id",
      token,
    };
    expect(buildConnectionUrl(base)).toBe(
      `mysql://app-id:${token}@srv.mysql.database.azure.com:3306/app?ssl-mode=VERIFY_IDENTITY`,
    );
    expect(buildConnectionUrl({ ...base, format: "prisma" })).toMatch(/\?sslaccept=strict$/);
    const mysql2 = new URL(buildConnectionUrl({ ...base, format: "mysql2", port: 3307 }));
    expect(mysql2.port).toBe("3307");
    // `{}` would check the certificate chain but not the host name.
    expect(JSON.parse(mysql2.searchParams.get("ssl") as string)).toEqual({ verifyIdentity: true });
    expect(mysql2.searchParams.get("enableCleartextPlugin")).toBe("true");
  });

  it("names the CA file for PostgreSQL as sslrootcert, URL-encoded, and keeps verify-full", () => {
    const url = new URL(
      buildConnectionUrl({
        engine: "postgresql",
        host: "h",
        user: "u",
        token,
        sslRootCert: "/tmp/my certs/ca&1.pem",
      }),
    );
    expect(url.searchParams.get("sslmode")).toBe("verify-full");
    expect(url.searchParams.get("sslrootcert")).toBe("/tmp/my certs/ca&1.pem");
    expect(url.search).toBe("?sslmode=verify-full&sslrootcert=%2Ftmp%2Fmy%20certs%2Fca%261.pem");
  });

  it("adds a MySQL CA file in each format's own parameter, and nothing for the system store", () => {
    const base = { engine: "mysql" as const, host: "h", user: "u", token };
    const ca = "/etc/ssl/ca.pem";
    expect(buildConnectionUrl({ ...base, sslRootCert: "system" })).toMatch(/\?ssl-mode=VERIFY_IDENTITY$/);
    expect(buildConnectionUrl({ ...base, sslRootCert: ca })).toMatch(
      /\?ssl-mode=VERIFY_IDENTITY&ssl-ca=%2Fetc%2Fssl%2Fca\.pem$/,
    );
    expect(buildConnectionUrl({ ...base, format: "prisma", sslRootCert: ca })).toMatch(
      /\?sslaccept=strict&sslcert=%2Fetc%2Fssl%2Fca\.pem$/,
    );
    const pem = "-----BEGIN CERTIFICATE-----\nMIIB+/=\n-----END CERTIFICATE-----\n";
    const mysql2 = new URL(buildConnectionUrl({ ...base, format: "mysql2", sslRootCert: ca, caPem: pem }));
    expect(JSON.parse(mysql2.searchParams.get("ssl") as string)).toEqual({ verifyIdentity: true, ca: pem });
  });

  it("brackets IPv6 hosts", () => {
    expect(buildConnectionUrl({ engine: "postgresql", host: "::1", user: "u", token })).toContain(
      "@[::1]:5432/",
    );
  });
});
