import { AzureLogger, getLogLevel, setLogLevel } from "@azure/logger";
import { describe, expect, it } from "vitest";
import {
  assertSecureTls,
  inspectSqlEncryption,
  inspectTlsEnvironment,
  inspectTlsPeer,
  inspectTlsValue,
  secureSqlEncryption,
  strictSqlEncryption,
} from "./tls-policy.js";

describe("tls-policy", () => {
  it("finds insecure TLS values", () => {
    expect(inspectTlsValue(false, "ssl")?.setting).toBe("ssl");
    for (const mode of ["disable", "allow", "prefer", "no-verify", "DISABLE"]) {
      expect(inspectTlsValue(mode, "sslmode")).toBeDefined();
    }
    expect(inspectTlsValue({ rejectUnauthorized: false }, "ssl")).toMatchObject({
      setting: "ssl.rejectUnauthorized",
      problem: "disables certificate verification",
    });
    expect(inspectTlsValue({ ca: "PEM", checkServerIdentity: () => undefined }, "ssl")).toMatchObject({
      setting: "ssl.checkServerIdentity",
      fix: expect.stringContaining("ssl.servername"),
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
        hint: expect.stringMatching(/set it to true.*\{ ca \}.*allowInsecure: true skips this check/),
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

  it("turns encrypt: true into TDS 8 strict unless insecure transport is allowed", () => {
    expect(strictSqlEncryption(undefined)).toBe("strict");
    expect(strictSqlEncryption(true)).toBe("strict");
    expect(strictSqlEncryption("strict")).toBe("strict");
    expect(strictSqlEncryption(false)).toBe(false);
    expect(strictSqlEncryption(true, { allowInsecure: true })).toBe(true);
    expect(strictSqlEncryption(false, { allowInsecure: true })).toBe(false);
  });

  it("gives the SQL adapters strict encryption and no trusted certificate, or refuses", () => {
    expect(secureSqlEncryption({})).toEqual({ encrypt: "strict", trustServerCertificate: false });
    expect(secureSqlEncryption({ encrypt: true, trustServerCertificate: false })).toEqual({
      encrypt: "strict",
      trustServerCertificate: false,
    });
    expect(() => secureSqlEncryption({ encrypt: false })).toThrow(
      expect.objectContaining({ code: "INSECURE_TRANSPORT" }),
    );
    expect(() => secureSqlEncryption({ trustServerCertificate: true })).toThrow(
      expect.objectContaining({ code: "INSECURE_TRANSPORT" }),
    );
    expect(secureSqlEncryption({ encrypt: false }, { allowInsecure: true })).toEqual({
      encrypt: false,
      trustServerCertificate: false,
    });
  });

  it("refuses NODE_TLS_REJECT_UNAUTHORIZED=0, which turns off verification process-wide", () => {
    expect(inspectTlsEnvironment({})).toBeUndefined();
    expect(inspectTlsEnvironment({ NODE_TLS_REJECT_UNAUTHORIZED: "1" })).toBeUndefined();
    expect(inspectTlsEnvironment({ NODE_TLS_REJECT_UNAUTHORIZED: "0" })?.setting).toBe(
      "NODE_TLS_REJECT_UNAUTHORIZED=0",
    );
    const env = { NODE_TLS_REJECT_UNAUTHORIZED: "0" };
    expect(() => assertSecureTls(undefined, { processEnv: env })).toThrow(
      expect.objectContaining({
        code: "INSECURE_TRANSPORT",
        message: expect.stringContaining("NODE_TLS_REJECT_UNAUTHORIZED=0"),
        hint: expect.stringContaining("NODE_EXTRA_CA_CERTS"),
      }),
    );
    expect(() => assertSecureTls(undefined, { processEnv: env, allowInsecure: true })).not.toThrow();
    // A finding in the config is reported first.
    expect(() => assertSecureTls(inspectTlsValue(false, "ssl"), { processEnv: env })).toThrow(
      /The setting ssl disables TLS/,
    );
  });

  describe("inspectTlsPeer (the live connection a token is about to be written to)", () => {
    const certificate = { subject: { CN: "db.example.com" }, subjectaltname: "DNS:db.example.com" };
    const verified = {
      encrypted: true,
      authorized: true,
      getPeerCertificate: () => certificate,
    };

    it("accepts a verified TLS socket whose certificate names the server", () => {
      expect(inspectTlsPeer(verified, "db.example.com")).toBeUndefined();
      expect(inspectTlsPeer(verified, undefined)).toBeUndefined();
    });

    it("accepts a resumed session, which shows no certificate but only its issuer can resume", () => {
      const resumed = { ...verified, isSessionReused: () => true, getPeerCertificate: () => ({}) };
      expect(inspectTlsPeer(resumed, "db.example.com")).toBeUndefined();
      expect(inspectTlsPeer({ ...resumed, authorized: false }, "db.example.com")).toBeDefined();
    });

    it("refuses a plaintext socket", () => {
      expect(inspectTlsPeer({ encrypted: false }, "db.example.com")?.subject).toBe("The connection");
      expect(inspectTlsPeer(undefined, "db.example.com")).toBeDefined();
    });

    it("refuses a certificate whose chain was not verified", () => {
      const finding = inspectTlsPeer(
        { ...verified, authorized: false, authorizationError: "SELF_SIGNED_CERT_IN_CHAIN" },
        "db.example.com",
      );
      expect(finding?.problem).toContain("SELF_SIGNED_CERT_IN_CHAIN");
    });

    it("refuses a verified certificate issued for another host name", () => {
      const finding = inspectTlsPeer(verified, "localhost");
      expect(finding?.problem).toContain('does not name "localhost"');
      expect(() => assertSecureTls(finding)).toThrow(
        expect.objectContaining({
          code: "INSECURE_TRANSPORT",
          message: expect.stringMatching(/^The server certificate/),
        }),
      );
    });
  });
});
