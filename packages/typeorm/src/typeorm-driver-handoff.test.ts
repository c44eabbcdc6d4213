import "reflect-metadata";
import { CANARY_TOKEN as CANARY, createFakeTokenProvider } from "@org/entra-core/testing";
import { DataSource as DataSource03 } from "typeorm";
import { DataSource as DataSource1 } from "typeorm1";
import { describe, expect, it } from "vitest";
import { withEntra } from "./with-entra.js";

/**
 * What TypeORM itself hands to the driver: a fake driver module captures the pool config, then
 * refuses the first connection so `initialize()` stops there (no network I/O).
 */
function capturingDriver() {
  const captured: Record<string, unknown>[] = [];
  const stop = new Error("stop: captured");
  class Pool {
    constructor(config: Record<string, unknown>) {
      captured.push(config);
    }
    on() {}
    connect(callback: (error: Error) => void) {
      callback(stop);
    }
    getConnection(callback: (error: Error) => void) {
      callback(stop);
    }
    end(callback?: () => void) {
      callback?.();
    }
  }
  class Connection {
    execute() {}
  }
  const driver = {
    version: "3.24.6",
    Pool,
    Connection,
    createPool: (config: Record<string, unknown>) => new Pool(config),
  };
  return { driver, captured, stop };
}

const majors = [
  ["0.3", DataSource03],
  ["1", DataSource1],
] as const;

describe.each(majors)("TypeORM %s passes the wired options to the driver", (_major, DataSource) => {
  it("postgres: the password function, user, ssl and the url's fields reach pg.Pool", async () => {
    const { driver, captured, stop } = capturingDriver();
    const dataSource = new DataSource(
      withEntra(
        { type: "postgres", url: "postgres://app@db.example.com:6432/shop", poolSize: 1, driver },
        { tokenProvider: createFakeTokenProvider(), env: {} },
      ),
    );
    await expect(dataSource.initialize()).rejects.toBe(stop);
    const config = captured[0] as Record<string, unknown>;
    expect(config).toMatchObject({
      host: "db.example.com",
      port: 6432,
      user: "app",
      database: "shop",
      ssl: { rejectUnauthorized: true },
    });
    expect(config.connectionString).toBeUndefined();
    await expect((config.password as () => Promise<string>).call(undefined)).resolves.toBe(CANARY);
  });

  it("postgres: with no username the token-reading pg Client reaches pg.Pool", async () => {
    const { driver, captured, stop } = capturingDriver();
    const dataSource = new DataSource(
      withEntra(
        { type: "postgres", host: "h", driver },
        { tokenProvider: createFakeTokenProvider(), env: {} },
      ),
    );
    await expect(dataSource.initialize()).rejects.toBe(stop);
    expect(typeof captured[0]?.Client).toBe("function");
  });

  it("mysql: authPlugins, the verified ssl object and the user-resolving stream reach mysql2.createPool", async () => {
    const { driver, captured, stop } = capturingDriver();
    const dataSource = new DataSource(
      withEntra(
        { type: "mysql", host: "h", database: "shop", driver },
        { tokenProvider: createFakeTokenProvider(), env: {} },
      ),
    );
    await expect(dataSource.initialize()).rejects.toBe(stop);
    const config = captured[0] as Record<string, unknown> & { authPlugins?: Record<string, unknown> };
    expect(config).toMatchObject({ host: "h", database: "shop", ssl: { verifyIdentity: true } });
    expect(typeof config.authPlugins?.mysql_clear_password).toBe("function");
    expect(typeof config.stream).toBe("function");
    expect(config.password).toBeUndefined();
  });
});
