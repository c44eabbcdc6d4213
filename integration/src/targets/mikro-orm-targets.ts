import { defineConfig as defineMySqlConfig, MikroORM as MySqlMikroORM } from "@mikro-orm/mysql";
import {
  defineConfig as definePostgreSqlConfig,
  MikroORM as PostgreSqlMikroORM,
} from "@mikro-orm/postgresql";
import type { EntraOptions } from "@org/entra-core";
import { type Mysql2EntraConfig, withEntra as withMysql2Entra } from "@org/mysql2-entra";
import { type PgEntraConfig, withEntra as withPgEntra } from "@org/pg-entra";
import type { ConformanceTarget } from "../conformance.js";
import { CURRENT_USER } from "../current-user.js";
import { createLimiter } from "../packed/consumer-project.js";
import type { BackendEngine } from "../select-backend.js";

/** MikroORM options a case adds to the recipe's: pool size, and MikroORM's start-up database check. */
interface OrmExtras {
  readonly pool?: { readonly max: number };
  readonly ensureDatabase?: boolean;
}

/** The MikroORM surface (either driver) the target uses. */
interface Orm {
  readonly em: { fork(): { execute(sql: string): Promise<unknown> } };
  readonly driver: { getConnection(): { getNativeClient(): Promise<unknown> } };
  connect(): Promise<unknown>;
  close(): Promise<void>;
}

/** A mysql2 callback pool's `release` event (MikroORM's mysql driver builds one with `createPool`). */
interface Mysql2EventPool {
  on(event: "release", listener: (connection: { destroy(): void }) => void): unknown;
}

/**
 * The recipe (examples/mikro-orm/src/config/mikro-orm.config.ts): the driver adapter's `withEntra`
 * config as MikroORM's `driverOptions`, which MikroORM 7 merges over its own pool options (pg:
 * `password` hook called per new connection, verified `ssl`; mysql2: `mysql_clear_password` plugin,
 * `ssl.verifyIdentity`), with host, port, user and database given to MikroORM by its own names.
 */
function entraConfig(
  engine: BackendEngine,
  connection: Record<string, unknown>,
  options?: EntraOptions,
  extras: OrmExtras = {},
) {
  // No entities: the cases run SQL through `em.execute`.
  const orm = { discovery: { warnWhenNoEntities: false }, ...extras };
  if (engine === "postgresql") {
    const { host, port, user, database, ...driverOptions } = withPgEntra(
      connection as PgEntraConfig,
      options,
    );
    return definePostgreSqlConfig({ host, port, user, dbName: database, driverOptions, ...orm });
  }
  const { host, port, user, database, ...driverOptions } = withMysql2Entra(
    connection as Mysql2EntraConfig,
    options,
  );
  return defineMySqlConfig({ host, port, user, dbName: database, driverOptions, ...orm });
}

async function initOrm(engine: BackendEngine, config: ReturnType<typeof entraConfig>): Promise<Orm> {
  const orm =
    engine === "postgresql"
      ? await PostgreSqlMikroORM.init(config as Parameters<typeof PostgreSqlMikroORM.init>[0])
      : await MySqlMikroORM.init(config as Parameters<typeof MySqlMikroORM.init>[0]);
  return orm as unknown as Orm;
}

/**
 * MikroORM 7 (`@mikro-orm/postgresql` over pg, `@mikro-orm/mysql` over mysql2, both through Kysely
 * dialects) with the driver adapters' configs as `driverOptions`.
 *
 * - `connectOnce`: a fresh `MikroORM.init` with `pool.max: 1`; the first `em.execute` connects (MikroORM's
 *   `ensureDatabase` check and the query share that one connection), `orm.close()` ends it.
 * - `createPool(size).cycle()`: one ORM with `pool.max: size`, connected on first use; each cycle runs
 *   `select 1` through `em.execute`, and the driver's pool closes the connection when MikroORM releases
 *   it (pg: `maxUses: 1` in `driverOptions`; mysql2, which has no such option: a `release` listener
 *   on the pool from `getNativeClient()` destroys it), so every cycle authenticates a new physical
 *   connection. At most `size` cycles run at once: mysql2 hands a released connection straight to a
 *   waiting checkout, without a `release` event. `ensureDatabase: false` leaves out MikroORM's
 *   start-up query, which would open a connection of its own before the first cycle.
 */
export function mikroOrmTarget(engine: BackendEngine): ConformanceTarget {
  return {
    name: `mikro-orm (${engine})`,
    engine,
    async connectOnce(harness, { user, ...options } = {}) {
      const connection = { ssl: harness.tls, ...(user ? { user } : {}) };
      const orm = await initOrm(engine, entraConfig(engine, connection, options, { pool: { max: 1 } }));
      try {
        const rows = (await orm.em.fork().execute(CURRENT_USER[engine].sql)) as { user: string }[];
        return String(rows[0]?.user);
      } finally {
        await orm.close();
      }
    },
    createPool(harness, size) {
      const connection = engine === "postgresql" ? { ssl: harness.tls, maxUses: 1 } : { ssl: harness.tls };
      const config = entraConfig(engine, connection, undefined, {
        pool: { max: size },
        ensureDatabase: false,
      });
      const limit = createLimiter(size);
      let nativePool: unknown;
      let started: Promise<Orm> | undefined;
      const start = () => {
        started ??= (async () => {
          const orm = await initOrm(engine, config);
          await orm.connect();
          nativePool = await orm.driver.getConnection().getNativeClient();
          if (engine === "mysql") {
            (nativePool as Mysql2EventPool).on("release", (released) => released.destroy());
          }
          return orm;
        })();
        return started;
      };
      return {
        get native() {
          return nativePool;
        },
        cycle: () =>
          limit(async () => {
            const orm = await start();
            await orm.em.fork().execute("select 1");
          }),
        async close() {
          const orm = await started?.catch(() => undefined);
          await orm?.close();
        },
      };
    },
    insecureConfigs: (harness) => ({
      "ssl: false": () => entraConfig(engine, { ssl: false }),
      "rejectUnauthorized: false": () =>
        entraConfig(engine, { ssl: { ...harness.tls, rejectUnauthorized: false } }),
      ...(engine === "postgresql"
        ? {
            "connectionString with sslmode=disable": () =>
              entraConfig(engine, { connectionString: "postgres://localhost/test?sslmode=disable" }),
            "AZURE_POSTGRESQL_SSL=false": () =>
              entraConfig(engine, {}, { env: { ...process.env, AZURE_POSTGRESQL_SSL: "false" } }),
          }
        : {
            "SSL profile": () => entraConfig(engine, { ssl: "Amazon RDS" }),
            insecureAuth: () => entraConfig(engine, { ssl: harness.tls, insecureAuth: true }),
            "AZURE_MYSQL_SSL=false": () =>
              entraConfig(engine, {}, { env: { ...process.env, AZURE_MYSQL_SSL: "false" } }),
          }),
    }),
    async connectPlaintext() {
      const config = entraConfig(engine, { ssl: false }, { allowInsecure: true }, { pool: { max: 1 } });
      const orm = await initOrm(engine, config);
      try {
        await orm.em.fork().execute("select 1");
      } finally {
        await orm.close();
      }
    },
  };
}
