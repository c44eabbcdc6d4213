import { describe, expect, it } from "vitest";
import { CliError, isCliError } from "./cli-error.js";
import { describeTarget, resolveTarget } from "./resolve-target.js";
import { configuredEngines, parseEngine, selectEngine } from "./select-engine.js";

describe("selectEngine", () => {
  it("takes the flag, with aliases", () => {
    expect(selectEngine("postgresql", {})).toBe("postgresql");
    expect(selectEngine("pg", {})).toBe("postgresql");
    expect(selectEngine("MariaDB", {})).toBe("mysql");
    expect(selectEngine("mssql", {})).toBe("sqlserver");
  });

  it("uses the only engine whose variables are set", () => {
    expect(selectEngine(undefined, { AZURE_MYSQL_HOST: "h" })).toBe("mysql");
    expect(selectEngine(undefined, { AZURE_SQL_SERVER: "s", AZURE_POSTGRESQL_HOST: "" })).toBe("sqlserver");
  });

  it("lists the configured engines in a fixed order", () => {
    expect(
      configuredEngines({ AZURE_SQL_SERVER: "s", AZURE_MYSQL_HOST: "m", AZURE_POSTGRESQL_HOST: " " }),
    ).toEqual(["mysql", "sqlserver"]);
    expect(configuredEngines({})).toEqual([]);
  });

  it("several engines and an unknown engine are usage errors (exit 2); none is a missing setting", () => {
    const several = (() => {
      try {
        selectEngine(undefined, { AZURE_MYSQL_HOST: "a", AZURE_SQL_SERVER: "b" });
      } catch (error) {
        return error;
      }
    })();
    expect(isCliError(several) && several.code === "USAGE" && several.exitCode === 2).toBe(true);
    expect(() => parseEngine("oracle")).toThrow(CliError);
    expect(() => selectEngine(undefined, {})).toThrow(expect.objectContaining({ code: "MISSING_SETTING" }));
  });

  it("refuses no engine and several engines, naming the choices", () => {
    expect(() => selectEngine(undefined, {})).toThrow(/--engine/);
    expect(() => selectEngine(undefined, { AZURE_MYSQL_HOST: "a", AZURE_POSTGRESQL_HOST: "b" })).toThrow(
      expect.objectContaining({
        message: "Service Connector variables are set for several engines (postgresql, mysql).",
        hint: "Pass --engine postgresql|mysql to pick one.",
      }),
    );
    expect(() => selectEngine("oracle", {})).toThrow(/Unknown engine "oracle"/);
  });
});

describe("resolveTarget", () => {
  const env = {
    AZURE_POSTGRESQL_HOST: "srv.postgres.database.chinacloudapi.cn",
    AZURE_POSTGRESQL_PORT: "6432",
    AZURE_POSTGRESQL_USER: "app-id",
    AZURE_POSTGRESQL_CLIENTID: "00000000-0000-0000-0000-000000000001",
  };

  it("reads the Service Connector variables and picks the cloud's scope from the host", () => {
    expect(resolveTarget({}, env)).toMatchObject({
      engine: "postgresql",
      host: "srv.postgres.database.chinacloudapi.cn",
      port: 6432,
      user: "app-id",
      userSource: "AZURE_POSTGRESQL_USER",
      clientId: "00000000-0000-0000-0000-000000000001",
      scope: "https://ossrdbms-aad.database.chinacloudapi.cn/.default",
      scopeOverridden: false,
    });
  });

  it("lets flags win", () => {
    const target = resolveTarget({ host: "h", port: "5433", user: "me", "client-id": "x", scope: "s" }, env);
    expect(target).toMatchObject({
      host: "h",
      port: 5433,
      user: "me",
      userSource: "--user",
      clientId: "x",
      scope: "s",
    });
  });

  it("defaults the port per engine and rejects a bad --port as a usage error", () => {
    expect(resolveTarget({ engine: "mysql" }, {}).port).toBe(3306);
    expect(() => resolveTarget({ engine: "mysql", port: "99999" }, {})).toThrow(/--port/);
    expect(() => resolveTarget({ engine: "mysql", port: "x" }, {})).toThrow(CliError);
  });

  it("describes the settings actually used, flags over variables, and which flags", () => {
    const target = resolveTarget({ host: "127.0.0.1", port: "5432" }, env);
    expect(describeTarget(target)).toBe(
      "postgresql 127.0.0.1:5432 user app-id client id 00000000-0000-0000-0000-000000000001",
    );
    expect(target.fromFlags).toEqual(["--host", "--port"]);
    expect(describeTarget(resolveTarget({ engine: "sqlserver" }, {}))).toBe("sqlserver (no host)");
  });
});
