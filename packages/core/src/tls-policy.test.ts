import { AzureLogger, getLogLevel, setLogLevel } from "@azure/logger";
import { describe, expect, it } from "vitest";
import { assertSecureTls, inspectSqlEncryption, inspectTlsValue } from "./tls-policy.js";

describe("tls-policy", () => {
  it("finds insecure TLS values", () => {
    expect(inspectTlsValue(false, "ssl")?.setting).toBe("ssl");
    for (const mode of ["disable", "allow", "prefer", "no-verify", "DISABLE"]) {
      expect(inspectTlsValue(mode, "sslmode")).toBeDefined();
    }
    expect(inspectTlsValue({ rejectUnauthorized: false }, "ssl")).toEqual({
      setting: "ssl.rejectUnauthorized",
      problem: "disables certificate verification",
    });
    expect(inspectTlsValue(undefined, "ssl", { absentMeansOff: true })).toBeDefined();
    expect(inspectTlsValue(null, "ssl", { absentMeansOff: true })).toBeDefined();
  });

  it("accepts secure TLS values", () => {
    expect(inspectTlsValue(true, "ssl")).toBeUndefined();
    expect(inspectTlsValue({}, "ssl")).toBeUndefined();
    expect(inspectTlsValue({ ca: "PEM", rejectUnauthorized: true }, "ssl")).toBeUndefined();
    expect(inspectTlsValue("verify-full", "sslmode")).toBeUndefined();
    expect(inspectTlsValue("require", "sslmode")).toBeUndefined();
    expect(inspectTlsValue(undefined, "ssl")).toBeUndefined();
  });

  it("checks SQL encryption options", () => {
    expect(inspectSqlEncryption({ encrypt: false })?.setting).toBe("options.encrypt");
    expect(inspectSqlEncryption({ encrypt: true, trustServerCertificate: true })?.setting).toBe(
      "options.trustServerCertificate",
    );
    expect(inspectSqlEncryption({ encrypt: true, trustServerCertificate: false })).toBeUndefined();
    expect(inspectSqlEncryption({ encrypt: "strict" })).toBeUndefined();
  });

  it("throws INSECURE_TRANSPORT naming the setting and what to do", () => {
    expect(() => assertSecureTls(inspectTlsValue(false, "ssl"), {})).toThrow(
      expect.objectContaining({
        code: "INSECURE_TRANSPORT",
        message: expect.stringContaining("ssl"),
        hint: expect.stringMatching(/ssl: true.*\{ ca \}.*allowInsecure: true only for local testing/),
      }),
    );
    expect(() => assertSecureTls(undefined, {})).not.toThrow();
  });

  it("only warns when allowInsecure is true", () => {
    const lines: string[] = [];
    const original = AzureLogger.log;
    const level = getLogLevel();
    AzureLogger.log = (...args: unknown[]) => {
      lines.push(args.map(String).join(" "));
    };
    setLogLevel("warning");
    try {
      expect(() =>
        assertSecureTls(inspectSqlEncryption({ encrypt: false }), { allowInsecure: true }),
      ).not.toThrow();
    } finally {
      AzureLogger.log = original;
      setLogLevel(level);
    }
    expect(lines.join("\n")).toContain("options.encrypt");
  });
});
