import { describe, expect, it } from "vitest";
import { resolveMariadbSsl } from "./resolve-mariadb-ssl.js";

describe("resolveMariadbSsl", () => {
  it("turns true and the Service Connector flag into TLS that verifies even under NODE_TLS_REJECT_UNAUTHORIZED=0", () => {
    for (const value of [true, "true", "1", " TRUE "]) {
      expect(resolveMariadbSsl(value, "ssl")).toEqual({
        ssl: { rejectUnauthorized: true },
        finding: undefined,
      });
    }
  });

  it("copies objects and sets rejectUnauthorized: true unless given", () => {
    const given = { ca: "PEM" };
    const { ssl, finding } = resolveMariadbSsl(given, "ssl");
    expect(ssl).toEqual({ ca: "PEM", rejectUnauthorized: true });
    expect(ssl).not.toBe(given);
    expect(finding).toBeUndefined();
  });

  it("reports what would send the token without verified TLS", () => {
    expect(resolveMariadbSsl(undefined, "ssl").finding?.problem).toContain("not set");
    expect(resolveMariadbSsl(false, "ssl").finding?.problem).toBe("disables TLS");
    expect(resolveMariadbSsl("required", "AZURE_MYSQL_SSL").finding?.problem).toContain("TLS off");
    expect(resolveMariadbSsl({ rejectUnauthorized: false }, "ssl").finding?.setting).toBe(
      "ssl.rejectUnauthorized",
    );
    expect(resolveMariadbSsl({ checkServerIdentity: () => undefined }, "ssl").finding?.setting).toBe(
      "ssl.checkServerIdentity",
    );
  });
});
