import { execFile } from "node:child_process";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { startEmulator } from "../start-emulator.js";
import { closeTedious, connectTedious, queryTedious } from "./tds-test-fixture.js";

describe("startEmulator sqlserver option", () => {
  it("is off unless asked, and ENTRA_EMULATOR_SQLSERVER=1 turns it on", async () => {
    const previous = process.env.ENTRA_EMULATOR_SQLSERVER;
    try {
      delete process.env.ENTRA_EMULATOR_SQLSERVER;
      await using off = await startEmulator({ postgres: false });
      expect(off.sqlserver).toBeUndefined();
      expect(off.env.AZURE_SQL_SERVER).toBeUndefined();
      process.env.ENTRA_EMULATOR_SQLSERVER = "1";
      await using on = await startEmulator({ postgres: false });
      expect(on.sqlserver).toMatchObject({ host: "localhost", database: "emulated-db" });
      await using disabled = await startEmulator({ postgres: false, sqlserver: false });
      expect(disabled.sqlserver).toBeUndefined();
    } finally {
      if (previous === undefined) delete process.env.ENTRA_EMULATOR_SQLSERVER;
      else process.env.ENTRA_EMULATOR_SQLSERVER = previous;
    }
  });

  it("sets AZURE_SQL_CLIENTID for a user-assigned identity and maps group members through users", async () => {
    await using emulator = await startEmulator({
      postgres: false,
      identities: [{ name: "worker", kind: "user" }],
      sqlserver: { users: { "sql-readers": [] } },
    });
    expect(emulator.env.AZURE_SQL_CLIENTID).toBe(emulator.identities[0]?.clientId);
    const stranger = emulator.mintToken({ identity: "stranger", audience: "https://database.windows.net" });
    const config = (token: string) => ({
      server: "localhost",
      authentication: { type: "azure-active-directory-access-token" as const, options: { token } },
      options: {
        port: emulator.sqlserver?.port,
        encrypt: true,
        trustServerCertificate: false,
        cryptoCredentialsDetails: { ca: emulator.ca },
      },
    });
    await expect(connectTedious(config(stranger))).rejects.toThrow(
      "Login failed for user '<token-identified principal>'.",
    );

    await using grouped = await startEmulator({
      postgres: false,
      sqlserver: { users: { "sql-readers": ["00000000-0000-4000-8000-0000000000aa"] } },
    });
    const member = grouped.mintToken({
      identity: "stranger",
      audience: "https://database.windows.net/",
      claims: { oid: "00000000-0000-4000-8000-0000000000aa" },
    });
    const connection = await connectTedious({
      ...config(member),
      options: {
        ...config(member).options,
        port: grouped.sqlserver?.port,
        cryptoCredentialsDetails: { ca: grouped.ca },
      },
    });
    try {
      expect(
        (await queryTedious(connection, "SELECT SUSER_SNAME() AS login, CURRENT_USER AS db_user")).rows,
      ).toEqual([["stranger", "sql-readers"]]);
    } finally {
      await closeTedious(connection);
    }
  });

  it("serves an app that uses the Service Connector variables with azure-active-directory-default", async () => {
    await using emulator = await startEmulator({ postgres: false, sqlserver: {} });
    // A child process: @azure/identity fixes the managed-identity endpoint per process, and
    // NODE_EXTRA_CA_CERTS is read at start. tedious builds a DefaultAzureCredential per login.
    const app = `
      import { Connection, Request } from "tedious";
      const env = process.env;
      const connection = new Connection({
        server: env.AZURE_SQL_SERVER,
        authentication: { type: env.AZURE_SQL_AUTHENTICATIONTYPE, options: {} },
        options: { port: Number(env.AZURE_SQL_PORT), database: env.AZURE_SQL_DATABASE, encrypt: true },
      });
      connection.connect((error) => {
        if (error) { console.log("error:" + error.message); process.exit(1); }
        const request = new Request("SELECT SUSER_SNAME()", () => connection.close());
        request.on("row", (row) => console.log("login:" + row[0].value));
        connection.execSqlBatch(request);
      });`;
    const { stdout } = await promisify(execFile)(process.execPath, ["--input-type=module", "-e", app], {
      cwd: dirname(dirname(dirname(fileURLToPath(import.meta.url)))),
      env: { ...process.env, ...emulator.env },
      timeout: 30_000,
    });
    expect(stdout.trim()).toBe("login:emulated-app");
    expect(emulator.counters.byEngine.sqlserver.loginsAccepted).toBe(1);
    expect(emulator.counters.tokenRequests).toBeGreaterThanOrEqual(1);
  }, 40_000);
});
