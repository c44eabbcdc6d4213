import type { EntraOptions } from "@org/entra-core";
import { withEntra } from "@org/sequelize-entra";
import { type Options, Sequelize } from "sequelize";
import type { ConformanceTarget } from "../conformance.js";
import type { Harness } from "../start-harness.js";

type SequelizeDialect = "postgres" | "mysql" | "mariadb";

const CURRENT_USER: Record<SequelizeDialect, string> = {
  postgres: "select current_user as user",
  mysql: "select substring_index(current_user(), '@', 1) as user",
  mariadb: "select substring_index(current_user(), '@', 1) as user",
};

/**
 * The version Sequelize would otherwise learn from an extra probe connection on first use.
 * Setting it makes `connectOnce` open exactly one physical connection.
 */
const DATABASE_VERSION: Record<SequelizeDialect, string> = {
  postgres: "15.0.0",
  mysql: "10.11.0",
  mariadb: "10.11.0",
};

/**
 * Verified TLS against the emulator's CA. The mariadb connector's `connectTimeout` defaults to 1 s,
 * too short for the cold-start burst of 200 simultaneous TLS handshakes on one machine; use
 * mysql2's default of 10 s.
 */
function driverOptions(dialect: SequelizeDialect, harness: Harness): Record<string, unknown> {
  return dialect === "mariadb" ? { ssl: { ...harness.tls }, connectTimeout: 10_000 } : { ssl: harness.tls };
}

function baseOptions(dialect: SequelizeDialect, extra: Options = {}): Options {
  return {
    dialect,
    logging: false,
    // Not in Sequelize's types, but a documented option: skips the version probe connection.
    ...({ databaseVersion: DATABASE_VERSION[dialect] } as Options),
    ...extra,
  };
}

/** The public methods of Sequelize's connection manager (typed only as `ConnectionManager`). */
interface PoolManager {
  getConnection(): Promise<unknown>;
  destroyConnection(connection: unknown): Promise<void>;
}

/** Runs `select 1` on a raw driver connection of the dialect (pg / mariadb promise API, mysql2 callback API). */
async function ping(dialect: SequelizeDialect, connection: unknown): Promise<void> {
  if (dialect === "mysql") {
    const callbackConnection = connection as { query(sql: string, cb: (error: Error | null) => void): void };
    await new Promise<void>((resolve, reject) =>
      callbackConnection.query("select 1", (error) => (error ? reject(error) : resolve())),
    );
    return;
  }
  await (connection as { query(sql: string): Promise<unknown> }).query("select 1");
}

/** Runs async sections one at a time, in call order. */
function createLock(): <R>(section: () => Promise<R>) => Promise<R> {
  let tail: Promise<unknown> = Promise.resolve();
  return (section) => {
    const run = tail.then(section);
    tail = run.catch(() => {});
    return run;
  };
}

/** A counting semaphore. */
function createSemaphore(permits: number): { acquire(): Promise<void>; release(): void } {
  let free = permits;
  const waiting: (() => void)[] = [];
  return {
    async acquire() {
      if (free > 0) {
        free--;
        return;
      }
      await new Promise<void>((resolve) => waiting.push(resolve));
    },
    release() {
      const next = waiting.shift();
      if (next) next();
      else free++;
    },
  };
}

function sequelizeTarget(dialect: SequelizeDialect, name: string): ConformanceTarget {
  const engine = dialect === "postgres" ? "postgresql" : "mysql";
  return {
    name,
    engine,
    async connectOnce(harness, { user, ...options }: EntraOptions & { user?: string } = {}) {
      const sequelize = new Sequelize(
        withEntra(
          baseOptions(dialect, {
            ...(user ? { username: user } : {}),
            dialectOptions: driverOptions(dialect, harness),
          }),
          options,
        ),
      );
      try {
        // A raw query (no `type`), as apps write them: Sequelize 6's mariadb dialect deletes the
        // result's `meta`, which the mariadb connector makes non-configurable from 3.1 on.
        const [rows] = (await sequelize.query(CURRENT_USER[dialect])) as [{ user: string }[], unknown];
        return String(rows[0]?.user ?? "");
      } finally {
        await sequelize.close().catch(() => {});
      }
    },
    createPool(harness, size) {
      const sequelize = new Sequelize(
        withEntra(
          baseOptions(dialect, {
            pool: { max: size, min: 0 },
            dialectOptions: driverOptions(dialect, harness),
          }),
        ),
      );
      const manager = sequelize.connectionManager as unknown as PoolManager;
      const exclusive = createLock();
      const slots = createSemaphore(size);
      return {
        native: sequelize,
        // Checks a connection out of Sequelize's own pool and destroys it instead of releasing it,
        // so that every call authenticates a new physical connection. sequelize-pool 7 opens an
        // extra connection when a destroy's deferred `_dispense` meets an acquire still waiting for
        // its new connection (it does not count connections being created); `pool.maxUses: 1` has
        // the same race. So checkouts and destroys take turns, and at most `size` cycles run at once
        // (a checkout never waits for a free slot, which would deadlock the turns); the queries
        // themselves run concurrently.
        async cycle() {
          await slots.acquire();
          try {
            const connection = await exclusive(() => manager.getConnection());
            try {
              await ping(dialect, connection);
            } finally {
              await exclusive(async () => {
                await manager.destroyConnection(connection);
                await new Promise((resolve) => setImmediate(resolve)); // let the deferred dispense run
              });
            }
          } finally {
            slots.release();
          }
        },
        close: () => sequelize.close(),
      };
    },
    insecureConfigs: (harness) => {
      const prefix = dialect === "postgres" ? "AZURE_POSTGRESQL_SSL" : "AZURE_MYSQL_SSL";
      return {
        "dialectOptions.ssl: false": () => withEntra({ dialect, dialectOptions: { ssl: false } }),
        "rejectUnauthorized: false": () =>
          withEntra({ dialect, dialectOptions: { ssl: { ...harness.tls, rejectUnauthorized: false } } }),
        "Azure snippet { require: true, rejectUnauthorized: false }": () =>
          withEntra({ dialect, dialectOptions: { ssl: { require: true, rejectUnauthorized: false } } }),
        [`${prefix}=false`]: () => withEntra({ dialect }, { env: { ...process.env, [prefix]: "false" } }),
      };
    },
    async connectPlaintext() {
      const sequelize = new Sequelize(
        withEntra(baseOptions(dialect, { dialectOptions: { ssl: false } }), { allowInsecure: true }),
      );
      try {
        await sequelize.authenticate();
      } finally {
        await sequelize.close().catch(() => {});
      }
    },
  };
}

/** `@org/sequelize-entra` with the postgres dialect (pg). */
export const sequelizePostgresTarget: ConformanceTarget = sequelizeTarget("postgres", "sequelize-postgres");

/** `@org/sequelize-entra` with the mysql dialect (mysql2). */
export const sequelizeMysqlTarget: ConformanceTarget = sequelizeTarget("mysql", "sequelize-mysql");

/** `@org/sequelize-entra` with the mariadb dialect (mariadb connector, token via `beforeConnect`). */
export const sequelizeMariadbTarget: ConformanceTarget = sequelizeTarget("mariadb", "sequelize-mariadb");
