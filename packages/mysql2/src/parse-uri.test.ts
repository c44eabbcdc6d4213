import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseUri } from "./parse-uri.js";

describe("parseUri: the MySQL client's TLS parameters", () => {
  it.each(["REQUIRED", "VERIFY_CA", "VERIFY_IDENTITY", "PREFERRED", "verify_identity"])(
    "ssl-mode=%s becomes verified TLS, not an unknown mysql2 option",
    (mode) => {
      const fields = parseUri(`mysql://app@srv.mysql.database.azure.com:3306/db?ssl-mode=${mode}`) as Record<
        string,
        unknown
      >;
      expect(fields.ssl).toEqual({ verifyIdentity: true });
      expect(Object.keys(fields)).not.toContain("ssl-mode");
    },
  );

  it("ssl-mode=DISABLED becomes ssl: false (which the TLS policy then refuses)", () => {
    expect((parseUri("mysql://app@h/db?ssl-mode=DISABLED") as Record<string, unknown>).ssl).toBe(false);
  });

  it("an unknown ssl-mode is an INVALID_SETTING naming it", () => {
    expect(() => parseUri("mysql://app@h/db?ssl-mode=SOMETIMES")).toThrow(/ssl-mode=SOMETIMES/);
  });

  it("ssl-ca=<file> becomes ssl.ca with the file's contents, next to ssl-mode", () => {
    const file = join(mkdtempSync(join(tmpdir(), "parse-uri-")), "ca.pem");
    writeFileSync(file, "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n");
    const fields = parseUri(
      `mysql://app@h/db?ssl-mode=VERIFY_IDENTITY&ssl-ca=${encodeURIComponent(file)}`,
    ) as Record<string, unknown>;
    expect(fields.ssl).toEqual({
      verifyIdentity: true,
      ca: "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n",
    });
  });

  it("an unreadable ssl-ca is an INVALID_SETTING naming the file", () => {
    expect(() => parseUri("mysql://app@h/db?ssl-ca=/nonexistent/ca.pem")).toThrow(/\/nonexistent\/ca\.pem/);
  });
});
