import { describe, expect, it } from "vitest";
import { scopeFor } from "./scope-for.js";

describe("scope-for", () => {
  it("uses the public cloud scopes by default", () => {
    expect(scopeFor("postgresql")).toBe("https://ossrdbms-aad.database.windows.net/.default");
    expect(scopeFor("mysql", "m.mysql.database.azure.com")).toBe(
      "https://ossrdbms-aad.database.windows.net/.default",
    );
    expect(scopeFor("sqlserver", "s.database.windows.net")).toBe("https://database.windows.net/.default");
  });

  it("picks Azure China from the host suffix", () => {
    expect(scopeFor("postgresql", "p.postgres.database.chinacloudapi.cn")).toBe(
      "https://ossrdbms-aad.database.chinacloudapi.cn/.default",
    );
    expect(scopeFor("sqlserver", "s.database.chinacloudapi.cn")).toBe(
      "https://database.chinacloudapi.cn/.default",
    );
  });

  it("picks Azure US Government from the host suffix", () => {
    expect(scopeFor("mysql", "m.mysql.database.usgovcloudapi.net")).toBe(
      "https://ossrdbms-aad.database.usgovcloudapi.net/.default",
    );
    expect(scopeFor("sqlserver", "s.database.usgovcloudapi.net")).toBe(
      "https://database.usgovcloudapi.net/.default",
    );
  });

  it("is case-insensitive and tolerates a trailing dot and a port", () => {
    expect(scopeFor("postgresql", "P.Postgres.Database.ChinaCloudAPI.CN.")).toBe(
      "https://ossrdbms-aad.database.chinacloudapi.cn/.default",
    );
    expect(scopeFor("sqlserver", "tcp:s.database.usgovcloudapi.net,1433")).toBe(
      "https://database.usgovcloudapi.net/.default",
    );
    expect(scopeFor("postgresql", "notchinacloudapi.cn.example.com")).toBe(
      "https://ossrdbms-aad.database.windows.net/.default",
    );
  });
});
