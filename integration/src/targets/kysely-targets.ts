import type { EntraOptions } from "@org/entra-core";
import { withEntra as withMysql2Entra } from "@org/mysql2-entra";
import { withEntra as withPgEntra } from "@org/pg-entra";
import { type TediousEntraConfig, withEntra as withTediousEntra } from "@org/tedious-entra";
import {
  type Dialect,
  Kysely,
  MssqlDialect,
  MysqlDialect,
  PostgresDialect,
  type RawBuilder,
  sql,
} from "kysely";
import { createPool, type PoolOptions } from "mysql2";
import pg from "pg";
import * as tarn from "tarn";
import * as tedious from "tedious";
import { EntraConnection } from "../../../examples/kysely/src/mssql.js";
import type { ConformanceTarget } from "../conformance.js";
import type { Harness } from "../start-harness.js";
import { mysql2Target } from "./mysql2-target.js";
import { pgTarget } from "./pg-target.js";
import { tediousTarget } from "./sqlserver-targets.js";

/** A Kysely dialect over one driver, built the way the example's recipes build it. */
interface KyselyRecipe {
  readonly name: string;
  readonly engine: ConformanceTarget["engine"];
  /** Selects the database's idea of the current user as `name`. */
  readonly currentUser: RawBuilder<{ name: string }>;
  /** The dialect over a pool of at most `size` connections, and that pool (for the leak check). */
  dialect(harness: Harness, size: number, options?: EntraOptions & { user?: string }): DialectAndPool;
  /** Like `dialect`, but each connection serves one checkout and is then closed. */
  singleUseDialect(harness: Harness, size: number): DialectAndPool;
  /** The dialect over a driver config (thunks from the driver's own insecure configs). */
  dialectOver(config: unknown): Dialect;
  /** The dialect over plaintext, with `allowInsecure: true`. */
  plaintextDialect(harness: Harness): Dialect;
  /** The driver target whose insecure configs the recipe is fed. */
  readonly driverTarget: ConformanceTarget;
}

interface DialectAndPool {
  readonly dialect: Dialect;
  readonly pool: unknown;
}

/**
 * Kysely over `@org/pg-entra`: `PostgresDialect` with `new pg.Pool(withEntra(...))`. Single use:
 * pg-pool's own `maxUses: 1` removes (and closes) each client when it is released.
 */
const postgres: KyselyRecipe = {
  name: "kysely (postgres)",
  engine: "postgresql",
  currentUser: sql<{ name: string }>`select current_user as name`,
  dialect(harness, size, { user, ...options } = {}) {
    const pool = new pg.Pool(
      withPgEntra({ ssl: harness.tls, max: size, ...(user ? { user } : {}) }, options),
    );
    return { dialect: new PostgresDialect({ pool }), pool };
  },
  singleUseDialect(harness, size) {
    const pool = new pg.Pool(withPgEntra({ ssl: harness.tls, max: size, maxUses: 1 }));
    return { dialect: new PostgresDialect({ pool }), pool };
  },
  dialectOver: (config) => new PostgresDialect({ pool: new pg.Pool(config as pg.PoolConfig) }),
  plaintextDialect: () =>
    new PostgresDialect({ pool: new pg.Pool(withPgEntra({ ssl: false, max: 1 }, { allowInsecure: true })) }),
  driverTarget: pgTarget,
};

/**
 * Kysely over `@org/mysql2-entra`: `MysqlDialect` with mysql2's callback `createPool(withEntra(...))`.
 * Single use: each new pool connection's `release()` (what Kysely calls) becomes mysql2's own
 * `destroy()`, which removes it from the pool and closes it.
 */
const mysql: KyselyRecipe = {
  name: "kysely (mysql)",
  engine: "mysql",
  currentUser: sql<{ name: string }>`select substring_index(current_user(), '@', 1) as name`,
  dialect(harness, size, { user, ...options } = {}) {
    const pool = createPool(
      withMysql2Entra({ ssl: harness.tls, connectionLimit: size, ...(user ? { user } : {}) }, options),
    );
    return { dialect: new MysqlDialect({ pool }), pool };
  },
  singleUseDialect(harness, size) {
    const pool = createPool(withMysql2Entra({ ssl: harness.tls, connectionLimit: size }));
    pool.on("connection", (connection) => {
      connection.release = () => connection.destroy();
    });
    return { dialect: new MysqlDialect({ pool }), pool };
  },
  dialectOver: (config) => new MysqlDialect({ pool: createPool(config as PoolOptions) }),
  plaintextDialect: () =>
    new MysqlDialect({
      pool: createPool(withMysql2Entra({ ssl: false as never, connectionLimit: 1 }, { allowInsecure: true })),
    }),
  driverTarget: mysql2Target,
};

/** Verified TLS against the emulator's CA; TDS 8 strict is the adapter's default. */
function tds(harness: Harness): TediousEntraConfig {
  return { options: { cryptoCredentialsDetails: { ca: harness.tls.ca } } };
}

/**
 * The example's {@link EntraConnection}, closed whenever Kysely releases it (not only when its
 * session's token expires soon): Kysely's validation then refuses it and the pool signs in a new
 * one for the next checkout.
 */
class SingleUseConnection extends EntraConnection {
  override reset(callback: (error: Error | null | undefined) => void): void {
    this.close();
    callback(null);
  }
}

/**
 * `MssqlDialect` as the example's recipe (`examples/kysely/src/mssql.ts`) builds it: `withEntra`
 * once, tarn with `propagateCreateError`, an {@link EntraConnection} per connection, reset on
 * release. `singleUse` makes each connection a {@link SingleUseConnection}.
 */
function mssqlDialect(
  config: ReturnType<typeof withTediousEntra>,
  size: number,
  singleUse = false,
): MssqlDialect {
  const Connection = singleUse ? SingleUseConnection : EntraConnection;
  return new MssqlDialect({
    tarn: { ...tarn, options: { min: 0, max: size, propagateCreateError: true } },
    tedious: { ...tedious, connectionFactory: () => new Connection(config) },
    resetConnectionsOnRelease: true,
  });
}

/**
 * Kysely over `@org/tedious-entra`: `MssqlDialect` whose `connectionFactory` builds tedious
 * connections from one `withEntra` config, against the emulator's Azure SQL endpoint.
 */
const mssql: KyselyRecipe = {
  name: "kysely (mssql)",
  engine: "sqlserver",
  currentUser: sql<{ name: string }>`SELECT SUSER_SNAME() AS name`,
  dialect(harness, size, { user: _user, ...options } = {}) {
    const config = withTediousEntra(tds(harness), options);
    return { dialect: mssqlDialect(config, size), pool: config };
  },
  singleUseDialect(harness, size) {
    const config = withTediousEntra(tds(harness));
    return { dialect: mssqlDialect(config, size, true), pool: config };
  },
  dialectOver: (config) => mssqlDialect(config as ReturnType<typeof withTediousEntra>, 1),
  plaintextDialect: (harness) =>
    mssqlDialect(
      withTediousEntra({ options: { ...tds(harness).options, encrypt: false } }, { allowInsecure: true }),
      1,
    ),
  driverTarget: tediousTarget,
};

/**
 * One recipe as a conformance target; every query runs through Kysely.
 *
 * - `connectOnce`: a fresh Kysely instance over a pool of one connection, the current user
 *   selected, `destroy()` (which ends the pool).
 * - `createPool(...).cycle()`: `select 1` through a Kysely instance over a pool whose connections
 *   each serve one checkout, so every cycle signs in a new physical connection (no timers involved).
 * - `insecureConfigs`: the driver target's insecure configs, each fed to the recipe's dialect.
 */
function kyselyTarget(recipe: KyselyRecipe): ConformanceTarget {
  return {
    name: recipe.name,
    engine: recipe.engine,
    async connectOnce(harness, options = {}) {
      const db = new Kysely<unknown>({ dialect: recipe.dialect(harness, 1, options).dialect });
      try {
        const { rows } = await recipe.currentUser.execute(db);
        return String(rows[0]?.name);
      } finally {
        await db.destroy();
      }
    },
    createPool(harness, size) {
      const { dialect, pool } = recipe.singleUseDialect(harness, size);
      const db = new Kysely<unknown>({ dialect });
      return {
        native: { db, pool },
        async cycle() {
          await sql`select 1`.execute(db);
        },
        close: () => db.destroy(),
      };
    },
    insecureConfigs: (harness) =>
      Object.fromEntries(
        Object.entries(recipe.driverTarget.insecureConfigs(harness)).map(([name, build]) => [
          name,
          () => new Kysely<unknown>({ dialect: recipe.dialectOver(build()) }),
        ]),
      ),
    async connectPlaintext(harness) {
      const db = new Kysely<unknown>({ dialect: recipe.plaintextDialect(harness) });
      try {
        await sql`select 1`.execute(db);
      } finally {
        await db.destroy();
      }
    },
  };
}

/** Kysely's `PostgresDialect` over `@org/pg-entra`. */
export const kyselyPostgresTarget: ConformanceTarget = kyselyTarget(postgres);

/** Kysely's `MysqlDialect` over `@org/mysql2-entra`. */
export const kyselyMysqlTarget: ConformanceTarget = kyselyTarget(mysql);

/** Kysely's `MssqlDialect` over `@org/tedious-entra` (the emulator's Azure SQL endpoint). */
export const kyselyMssqlTarget: ConformanceTarget = kyselyTarget(mssql);

const RECIPES = { postgresql: postgres, mysql, sqlserver: mssql } as const;

/**
 * A Kysely instance over a pool of at most `size` connections to the harness's gateway for
 * `engine`, built like the example's recipes, for tests that check what an example wrote.
 */
export function createKysely(
  engine: ConformanceTarget["engine"],
  harness: Harness,
  size = 1,
): Kysely<unknown> {
  return new Kysely<unknown>({ dialect: RECIPES[engine].dialect(harness, size).dialect });
}
