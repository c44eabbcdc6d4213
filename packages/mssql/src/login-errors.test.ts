import { resetSharedTokenProviders } from "@org/entra-core";
import { createFakeTokenProvider } from "@org/entra-core/testing";
import sql from "mssql";
import { Connection, ConnectionError } from "tedious";
import { afterEach, describe, expect, it } from "vitest";
import { withEntra } from "./with-entra.js";

const SERVER = "myserver.database.windows.net";
const EXPIRED = "Login failed for user '<token-identified principal>'. Token is expired.";

/** A pooled tedious connection as mssql builds it, with `beforeConnect` applied. */
async function pooledConnection(beforeConnect?: (connection: Connection) => void, expiresInMs?: number) {
  const provider = createFakeTokenProvider({ expiresInMs });
  const config = withEntra({ server: SERVER, beforeConnect }, { tokenProvider: provider, env: {} });
  await config.authentication.options.credential.getToken("https://database.windows.net/.default");
  const pool = new sql.ConnectionPool(config);
  const connection = new Connection((pool as unknown as { _config(): never })._config());
  config.beforeConnect?.(connection as never);
  return { provider, connection, pool };
}

describe("Azure SQL login errors through mssql", () => {
  afterEach(() => resetSharedTokenProviders());

  it("explains a rejected token before mssql wraps the error, and drops the token", async () => {
    const { provider, connection } = await pooledConnection();
    let wrapped: Error | undefined;
    // What mssql's _poolCreate does with the connect error.
    connection.once("connect", (err) => {
      if (err) wrapped = new sql.ConnectionError(err as never);
    });
    connection.emit("connect", new ConnectionError(EXPIRED, "ELOGIN"));
    expect(wrapped?.message).toContain(EXPIRED);
    expect(wrapped?.message).toContain("[@org/tedious-entra TOKEN_EXPIRED]");
    expect((wrapped as { code?: string }).code).toBe("ELOGIN");
    expect(provider.invalidations).toBe(1);
  });

  it("still runs the caller's beforeConnect", async () => {
    const seen: Connection[] = [];
    const { connection } = await pooledConnection((c) => seen.push(c));
    expect(seen).toEqual([connection]);
  });

  it("marks a session broken on error 37396 so the pool replaces it", async () => {
    const { connection, pool } = await pooledConnection();
    const pooled = connection as Connection & { hasError?: boolean };
    connection.emit("errorMessage", {
      number: 37396,
      message: "Query cannot be executed, access token is expired.",
    } as never);
    expect(pooled.hasError).toBe(true);
    // mssql's own validation then refuses to hand the connection out again.
    expect(
      await (pool as unknown as { _poolValidate(c: unknown): Promise<boolean> | boolean })._poolValidate(
        connection,
      ),
    ).toBe(false);
  });

  it("retires a session whose token is about to expire: hasError turns true, mssql's validation refuses it", async () => {
    const login = async (expiresInMs: number) => {
      const { connection, pool } = await pooledConnection(undefined, expiresInMs);
      const pooled = connection as Connection & { hasError?: boolean; config: { authentication: never } };
      // tedious's login: one getToken call, then `connect`.
      const { options } = pooled.config.authentication as {
        options: { credential: sql.config["authentication"] };
      };
      await (options.credential as unknown as { getToken(scope: string): Promise<unknown> }).getToken(
        "https://database.windows.net/.default",
      );
      connection.emit("connect");
      return { pooled, pool };
    };
    const fresh = await login(3_600_000);
    expect(fresh.pooled.hasError).toBe(false);
    const expiring = await login(0);
    expect(expiring.pooled.hasError).toBe(true);
    expect(
      await (
        expiring.pool as unknown as { _poolValidate(c: unknown): Promise<boolean> | boolean }
      )._poolValidate(expiring.pooled),
    ).toBe(false);
    // mssql's own writes of the flag still count.
    fresh.pooled.hasError = true;
    expect(fresh.pooled.hasError).toBe(true);
  });
});
