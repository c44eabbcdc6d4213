import { getSharedTokenProvider, resetSharedTokenProviders } from "@org/entra-core";
import { CANARY_TOKEN } from "@org/entra-core/testing";
import sql from "mssql";
import { Connection, ConnectionError } from "tedious";
import { afterEach, describe, expect, it } from "vitest";
import { withEntra } from "./with-entra.js";

const SERVER = "myserver.database.windows.net";
const SQL_SCOPE = "https://database.windows.net/.default";

/**
 * A pooled tedious connection as mssql builds it (`_poolCreate`: `new Connection(config)`, then
 * `beforeConnect`), with a credential that has answered one login, and its shared provider.
 */
async function setUp() {
  const credential = {
    async getToken() {
      return { token: CANARY_TOKEN, expiresOnTimestamp: Date.now() + 3_600_000 };
    },
  };
  const config = withEntra({ server: SERVER }, { credential, env: {}, warmStart: false });
  await config.authentication.options.credential.getToken(SQL_SCOPE);
  const pool = new sql.ConnectionPool(config);
  const open = () => {
    const connection = new Connection((pool as unknown as { _config(): never })._config());
    config.beforeConnect?.(connection as never);
    return connection;
  };
  return { open, provider: getSharedTokenProvider({ credential, scope: SQL_SCOPE }) };
}

describe("mssql pooled connections hold the shared provider while they are open", () => {
  afterEach(() => resetSharedTokenProviders());

  it("holds from each connection's login until it closes (pool.close() closes them all)", async () => {
    const { open, provider } = await setUp();
    const connections = [open(), open()];
    for (const connection of connections) connection.emit("connect");
    expect(provider.stats.holds).toBe(2);
    for (const connection of connections) connection.emit("end");
    expect(provider.stats.holds).toBe(0);
  });

  it("holds nothing for a refused login", async () => {
    const { open, provider } = await setUp();
    const connection = open();
    connection.once("connect", () => {}); // what mssql's _poolCreate listens with
    connection.emit("connect", new ConnectionError("Login failed for user '<token-identified principal>'."));
    connection.emit("end");
    expect(provider.stats.holds).toBe(0);
  });
});
