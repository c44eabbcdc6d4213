import "reflect-metadata";
import type { EntraOptions } from "@org/entra-core";
import { withEntra } from "@org/typeorm-entra";
import type pg from "pg";
import { DataSource as DataSource03 } from "typeorm";
import { DataSource as DataSource1 } from "typeorm1";
import type { ConformanceTarget } from "../conformance.js";
import type { BackendEngine } from "../select-backend.js";
import type { Harness } from "../start-harness.js";

/** The TypeORM majors the conformance suite runs against. */
export type TypeormMajor = "0.3" | "1";

/** The DataSource surface both majors share and the target uses. */
interface DataSourceLike {
  readonly isInitialized: boolean;
  readonly driver: unknown;
  initialize(): Promise<unknown>;
  query(sql: string): Promise<unknown>;
  destroy(): Promise<void>;
}

/** The callback API of a mysql2 pool, as TypeORM's MysqlDriver holds it (`driver.pool`). */
interface Mysql2CallbackPool {
  getConnection(callback: (error: Error | null, connection: Mysql2CallbackConnection) => void): void;
}

interface Mysql2CallbackConnection {
  query(sql: string, callback: (error: Error | null) => void): void;
  destroy(): void;
}

const CURRENT_USER = {
  postgresql: "select current_user as user",
  mysql: "select substring_index(current_user(), '@', 1) as user",
} as const;

/**
 * `@org/typeorm-entra` with a TypeORM DataSource (`import("typeorm")` = 0.3.31,
 * `import("typeorm1")` = 1.1.1) on PostgreSQL (`type: "postgres"`, pg) or MySQL
 * (`type: "mysql"`, mysql2).
 *
 * - `connectOnce`: a fresh DataSource with `poolSize: 1`; `initialize()` opens one physical
 *   connection (TypeORM's probe, then its version/database queries reuse it from the pool), one
 *   query, `destroy()`.
 * - `createPool(size).cycle()`: one DataSource with `poolSize: size`, initialized on first use; each
 *   cycle checks a connection out of the driver's own pool (`driver.master`: pg.Pool;
 *   `driver.pool`: mysql2 pool), runs a query and destroys it, so every checkout after the first
 *   authenticates a new physical connection. The first cycle gets the connection `initialize()`
 *   opened (and left idle), so logins == cycles.
 */
export function typeormTarget(major: TypeormMajor, engine: BackendEngine): ConformanceTarget {
  const DataSource = (major === "0.3" ? DataSource03 : DataSource1) as unknown as new (
    options: object,
  ) => DataSourceLike;
  const type = engine === "postgresql" ? "postgres" : "mysql";

  const create = (options: Record<string, unknown>, entra?: EntraOptions) =>
    new DataSource(withEntra({ type, ...options }, entra));

  return {
    name: `typeorm ${major} (${type})`,
    engine,
    async connectOnce(harness, { user, ...options } = {}) {
      const dataSource = create(
        { ssl: harness.tls, poolSize: 1, ...(user ? { username: user } : {}) },
        options,
      );
      await dataSource.initialize();
      try {
        const rows = (await dataSource.query(CURRENT_USER[engine])) as { user: string }[];
        return String(rows[0]?.user);
      } finally {
        await dataSource.destroy();
      }
    },
    createPool(harness, size) {
      const dataSource = create({ ssl: harness.tls, poolSize: size });
      let initialized: Promise<unknown> | undefined;
      const ready = () => {
        initialized ??= dataSource.initialize();
        return initialized;
      };
      return {
        native: dataSource,
        async cycle() {
          await ready();
          if (engine === "postgresql") await cyclePg(dataSource);
          else await cycleMysql(dataSource);
        },
        async close() {
          await initialized?.catch(() => {});
          if (dataSource.isInitialized) await dataSource.destroy();
        },
      };
    },
    insecureConfigs: (harness) => ({
      "ssl: false": () => withEntra({ type, ssl: false }),
      "rejectUnauthorized: false": () =>
        withEntra({ type, ssl: { ...harness.tls, rejectUnauthorized: false } }),
      "extra.ssl: false (overrides ssl in the driver)": () =>
        withEntra({ type, ssl: harness.tls, extra: { ssl: false } }),
      ...(engine === "postgresql"
        ? {
            "url with sslmode=disable": () =>
              withEntra({ type, url: "postgres://localhost/test?sslmode=disable" }),
            "AZURE_POSTGRESQL_SSL=false": () =>
              withEntra({ type }, { env: { ...process.env, AZURE_POSTGRESQL_SSL: "false" } }),
          }
        : {
            "SSL profile": () => withEntra({ type, ssl: "Amazon RDS" }),
            insecureAuth: () => withEntra({ type, ssl: harness.tls, insecureAuth: true }),
            "AZURE_MYSQL_SSL=false": () =>
              withEntra({ type }, { env: { ...process.env, AZURE_MYSQL_SSL: "false" } }),
          }),
    }),
    async connectPlaintext(_harness: Harness) {
      const dataSource = create({ ssl: false, poolSize: 1 }, { allowInsecure: true });
      await dataSource.initialize();
      await dataSource.destroy();
    },
  };
}

async function cyclePg(dataSource: DataSourceLike): Promise<void> {
  const pool = (dataSource.driver as { master: pg.Pool }).master;
  const client = await pool.connect();
  try {
    await client.query("select 1");
  } finally {
    client.release(true); // destroy: the next checkout authenticates a new physical connection
  }
}

async function cycleMysql(dataSource: DataSourceLike): Promise<void> {
  const pool = (dataSource.driver as { pool: Mysql2CallbackPool }).pool;
  const connection = await new Promise<Mysql2CallbackConnection>((resolve, reject) =>
    pool.getConnection((error, connection) => (error ? reject(error) : resolve(connection))),
  );
  try {
    await new Promise<void>((resolve, reject) =>
      connection.query("select 1", (error) => (error ? reject(error) : resolve())),
    );
  } finally {
    connection.destroy(); // the next checkout authenticates a new physical connection
  }
}
