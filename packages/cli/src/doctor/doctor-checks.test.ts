import { CredentialUnavailableError } from "@azure/identity";
import { describe, expect, it } from "vitest";
import { checkCredential } from "./check-credential.js";
import { mysqlSslRequest, parseMysqlGreeting } from "./check-network.js";
import { checkSettings } from "./check-settings.js";
import { checkToken } from "./check-token.js";
import { credentialNamesFor } from "./credential-chain.js";
import { createReport, formatReport } from "./format-report.js";

function jwt(claims: Record<string, unknown>): string {
  return `eyJhbGciOiJSUzI1NiJ9.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.c2ln`;
}

const NOW = Date.UTC(2026, 10, 1);
const mi = {
  aud: "https://ossrdbms-aad.database.windows.net",
  tid: "tenant-1",
  oid: "oid-1",
  idtyp: "app",
  xms_mirid:
    "/subscriptions/s/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/orders-api",
  exp: NOW / 1000 + 3600,
};

describe("checkToken", () => {
  it("reports audience, tenant, principal, idtyp, expiry and username without the token", () => {
    const token = jwt(mi);
    const check = checkToken({ token, engine: "postgresql", scope: "x", now: NOW });
    expect(check.status).toBe("ok");
    expect(check.detail).toMatch(
      /aud https:\/\/ossrdbms-aad.*tenant tenant-1.*orders-api.*idtyp app.*60 min left.*username orders-api/,
    );
    expect(JSON.stringify(check)).not.toContain(token);
  });

  it("fails when the audience does not match the engine or the host's cloud", () => {
    const vault = checkToken({
      token: jwt({ ...mi, aud: "https://vault.azure.net" }),
      engine: "mysql",
      scope: "https://vault.azure.net/.default",
      now: NOW,
    });
    expect(vault).toMatchObject({ status: "fail" });
    expect(vault.fix).toMatch(/Remove --scope/);
    const china = checkToken({
      token: jwt(mi),
      engine: "postgresql",
      host: "srv.postgres.database.chinacloudapi.cn",
      scope: "x",
      now: NOW,
    });
    expect(china.cause).toMatch(/ossrdbms-aad\.database\.chinacloudapi\.cn/);
    const sql = checkToken({
      token: jwt({ ...mi, aud: "https://database.windows.net/" }),
      engine: "sqlserver",
      scope: "x",
      now: NOW,
    });
    expect(sql.status).toBe("ok");
  });

  it("warns under 5 minutes left and fails when expired", () => {
    expect(
      checkToken({ token: jwt({ ...mi, exp: NOW / 1000 + 240 }), engine: "postgresql", scope: "x", now: NOW })
        .status,
    ).toBe("warn");
    expect(
      checkToken({ token: jwt({ ...mi, exp: NOW / 1000 - 1 }), engine: "postgresql", scope: "x", now: NOW })
        .status,
    ).toBe("fail");
  });

  it("warns when the configured user is not the token's name (fine for groups)", () => {
    const check = checkToken({
      token: jwt(mi),
      engine: "postgresql",
      scope: "x",
      user: "db-readers",
      userSource: "--user",
      now: NOW,
    });
    expect(check.status).toBe("warn");
    expect(check.fix).toMatch(/Entra group/);
  });
});

describe("credential chain", () => {
  it("follows AZURE_TOKEN_CREDENTIALS like DefaultAzureCredential", () => {
    expect(credentialNamesFor(undefined)).toEqual([
      "EnvironmentCredential",
      "WorkloadIdentityCredential",
      "ManagedIdentityCredential",
      "AzureCliCredential",
      "AzurePowerShellCredential",
      "AzureDeveloperCliCredential",
    ]);
    expect(credentialNamesFor("managedidentitycredential")).toEqual(["ManagedIdentityCredential"]);
    expect(credentialNamesFor("prod")).toHaveLength(3);
    expect(credentialNamesFor("dev")).toEqual([
      "AzureCliCredential",
      "AzurePowerShellCredential",
      "AzureDeveloperCliCredential",
    ]);
    expect(credentialNamesFor("bogus")).toBeInstanceOf(Error);
  });

  it("reports why each credential failed and which one produced the token", async () => {
    const result = await checkCredential(
      [
        {
          name: "EnvironmentCredential",
          credential: {
            getToken: async () => {
              throw new CredentialUnavailableError("no env");
            },
          },
        },
        {
          name: "ManagedIdentityCredential",
          credential: { getToken: async () => ({ token: "t", expiresOnTimestamp: 1 }) },
        },
        { name: "AzureCliCredential", credential: { getToken: async () => null } },
      ],
      "scope",
      1000,
    );
    expect(result.credentialName).toBe("ManagedIdentityCredential");
    expect(result.check.status).toBe("ok");
    expect(result.check.data?.attempts).toEqual([
      { credential: "EnvironmentCredential", status: "unavailable", message: "no env" },
      { credential: "ManagedIdentityCredential", status: "ok" },
      { credential: "AzureCliCredential", status: "not tried" },
    ]);
  });

  it("stops at a hard failure, and bounds a hanging credential by the timeout", async () => {
    const failed = await checkCredential(
      [
        {
          name: "ManagedIdentityCredential",
          credential: {
            getToken: async () => {
              throw new Error("HTTP 400");
            },
          },
        },
        {
          name: "AzureCliCredential",
          credential: { getToken: async () => ({ token: "t", expiresOnTimestamp: 1 }) },
        },
      ],
      "scope",
      1000,
    );
    expect(failed.check.status).toBe("fail");
    expect(failed.check.cause).toMatch(/ManagedIdentityCredential failed.*HTTP 400/);
    expect(failed.accessToken).toBeUndefined();
    const hanging = await checkCredential(
      [{ name: "ManagedIdentityCredential", credential: { getToken: () => new Promise(() => {}) } }],
      "scope",
      20,
    );
    expect(hanging.check.cause).toMatch(/did not answer in time/);
  });
});

describe("checkSettings", () => {
  it("lists the variables, picks the engine and fails on a malformed one", () => {
    expect(checkSettings({}, { AZURE_MYSQL_HOST: "h", AZURE_MYSQL_USER: "u" })).toMatchObject({
      engine: "mysql",
      check: { status: "ok" },
    });
    const bad = checkSettings({}, { AZURE_MYSQL_HOST: "h", AZURE_MYSQL_PORT: "x" });
    expect(bad.check).toMatchObject({ status: "fail" });
    expect(bad.check.cause).toMatch(/AZURE_MYSQL_PORT/);
    expect(checkSettings({}, {}).check.fix).toMatch(/--engine/);
    expect(checkSettings({ engine: "postgresql" }, {}).check.cause).toMatch(/No host/);
    expect(
      checkSettings({}, { AZURE_POSTGRESQL_HOST: "h", AZURE_POSTGRESQL_SSL: "false" }).check.status,
    ).toBe("warn");
  });
});

describe("MySQL wire helpers", () => {
  it("parses a greeting's version and CLIENT_SSL flag, and an ERR packet", () => {
    const version = Buffer.from("8.0.36\0");
    const payload = Buffer.concat([
      Buffer.from([10]),
      version,
      Buffer.alloc(4),
      Buffer.alloc(8),
      Buffer.from([0]),
      Buffer.from([0x00, 0x08]),
    ]);
    const packet = Buffer.concat([Buffer.from([payload.length, 0, 0, 0]), payload]);
    expect(parseMysqlGreeting(packet)).toEqual({ kind: "greeting", serverVersion: "8.0.36", ssl: true });
    const err = Buffer.concat([Buffer.from([0xff, 0x51, 0x04]), Buffer.from("Host blocked")]);
    expect(parseMysqlGreeting(Buffer.concat([Buffer.from([err.length, 0, 0, 0]), err]))).toEqual({
      kind: "error",
      code: 1105,
      message: "Host blocked",
    });
  });

  it("builds a 32-byte SSLRequest with sequence id 1 and CLIENT_SSL", () => {
    const request = mysqlSslRequest();
    expect(request.length).toBe(36);
    expect(request.readUIntLE(0, 3)).toBe(32);
    expect(request[3]).toBe(1);
    expect(request.readUInt32LE(4) & 0x800).toBe(0x800);
  });
});

describe("formatReport", () => {
  const report = createReport([
    { name: "settings", status: "ok", detail: "postgresql h" },
    {
      name: "network",
      status: "fail",
      detail: "ECONNREFUSED",
      cause: "nothing listens",
      fix: "check the port",
    },
    { name: "login", status: "skip", detail: "network check failed" },
  ]);

  it("prints one line per check, cause and fix under failures, ASCII without a TTY", () => {
    expect(report.ok).toBe(false);
    expect(formatReport(report)).toBe(
      [
        "[ok] settings   postgresql h",
        "[FAIL] network    ECONNREFUSED",
        "       cause: nothing listens",
        "       fix:   check the port",
        "[skip] login      network check failed",
        "1 check failed.",
        "",
      ].join("\n"),
    );
  });

  it("uses marks and colour on a terminal", () => {
    expect(formatReport(report, { fancy: true })).toContain("\u001b[31m✗\u001b[0m network");
    expect(createReport([{ name: "token", status: "warn", detail: "x" }]).ok).toBe(true);
  });
});
