import { withEntra as withMysql2Entra } from "@org/mysql2-entra";
import { withEntra as withPgEntra } from "@org/pg-entra";
import { withEntra as withPostgresEntra } from "@org/postgres-entra";
import { DrizzleQueryError, type SQL, sql } from "drizzle-orm";
import { drizzle as drizzleMysql2 } from "drizzle-orm/mysql2";
import { drizzle as drizzleNodePostgres } from "drizzle-orm/node-postgres";
import { drizzle as drizzlePostgresJs } from "drizzle-orm/postgres-js";
import mysql, { type PoolOptions } from "mysql2/promise";
import pg from "pg";
import postgres from "postgres";
import type { ConformanceTarget } from "../conformance.js";
import { mysql2Target } from "./mysql2-target.js";
import { pgTarget } from "./pg-target.js";
import { postgresTarget } from "./postgres-target.js";

/**
 * Runs a Drizzle query and rethrows a failure as the driver's own error. Drizzle wraps every failed
 * query in a `DrizzleQueryError` ("Failed query: <sql>") whose `cause` is the driver's error, which
 * carries the adapter's message (the server's words, the reason code, what to change).
 */
async function unwrapped<T>(query: PromiseLike<T>): Promise<T> {
  try {
    return await query;
  } catch (error) {
    throw error instanceof DrizzleQueryError && error.cause instanceof Error ? error.cause : error;
  }
}

const CURRENT_USER = {
  postgresql: sql`select current_user as user`,
  mysql: sql`select substring_index(current_user(), '@', 1) as user`,
} satisfies Record<string, SQL>;

/**
 * Drizzle on node-postgres over `new pg.Pool(withEntra(...))` from `@org/pg-entra`.
 *
 * - `connectOnce`: Drizzle's `connection` shorthand (Drizzle builds `new pg.Pool(connection)`) with at
 *   most one connection, the current user selected through `db.execute`, the pool ended.
 * - `createPool(...).cycle()`: `select 1` through Drizzle on one pool built with pg-pool's own
 *   `maxUses: 1`, which closes each connection when it is released: every cycle signs in a new
 *   physical connection (no timers involved).
 */
export const drizzleNodePostgresTarget: ConformanceTarget = {
  name: "drizzle (node-postgres)",
  engine: "postgresql",
  async connectOnce(harness, { user, ...options } = {}) {
    const db = drizzleNodePostgres({
      connection: withPgEntra({ ssl: harness.tls, max: 1, ...(user ? { user } : {}) }, options),
    });
    try {
      const { rows } = await unwrapped(db.execute<{ user: string }>(CURRENT_USER.postgresql));
      return String(rows[0]?.user);
    } finally {
      await db.$client.end();
    }
  },
  createPool(harness, size) {
    const db = drizzleNodePostgres({
      client: new pg.Pool(withPgEntra({ ssl: harness.tls, max: size, maxUses: 1 })),
    });
    return {
      native: db,
      async cycle() {
        await db.execute(sql`select 1`);
      },
      close: () => db.$client.end(),
    };
  },
  insecureConfigs: (harness) =>
    Object.fromEntries(
      Object.entries(pgTarget.insecureConfigs(harness)).map(([name, build]) => [
        name,
        () => drizzleNodePostgres({ connection: build() as pg.PoolConfig }),
      ]),
    ),
  async connectPlaintext() {
    const db = drizzleNodePostgres({
      connection: withPgEntra({ ssl: false, max: 1 }, { allowInsecure: true }),
    });
    try {
      await unwrapped(db.execute(sql`select 1`));
    } finally {
      await db.$client.end();
    }
  },
};

/**
 * Drizzle on postgres.js over `postgres(withEntra(...))` from `@org/postgres-entra`.
 *
 * - `connectOnce`: Drizzle's `connection` shorthand (Drizzle calls `postgres(connection)`) with at most
 *   one connection, the current user selected through `db.execute`, `end()`.
 * - `createPool(...).cycle()`: postgres.js cannot close one connection of its pool on demand (no
 *   `release(true)`, no `maxUses`; its `max_lifetime` and `idle_timeout` are timers), so each cycle
 *   runs `select 1` through Drizzle on a one-connection postgres.js client and ends it: every cycle
 *   signs in a new physical connection (no timers involved). At most `size` run at once.
 */
export const drizzlePostgresJsTarget: ConformanceTarget = {
  name: "drizzle (postgres-js)",
  engine: "postgresql",
  async connectOnce(harness, { user, ...options } = {}) {
    const db = drizzlePostgresJs({
      connection: withPostgresEntra({ ssl: harness.tls, max: 1, ...(user ? { user } : {}) }, options),
    });
    try {
      const rows = await unwrapped(db.execute<{ user: string }>(CURRENT_USER.postgresql));
      return String(rows[0]?.user);
    } finally {
      await db.$client.end();
    }
  },
  createPool(harness, size) {
    const options = withPostgresEntra({ ssl: harness.tls, max: 1 });
    let latest = drizzlePostgresJs({ client: postgres(options) });
    let running = 0;
    const waiting: Array<() => void> = [];
    return {
      get native() {
        return latest;
      },
      async cycle() {
        if (running < size) running++;
        else await new Promise<void>((resolve) => waiting.push(resolve)); // a finished cycle hands its slot over
        const db = drizzlePostgresJs({ client: postgres(options) });
        latest = db;
        try {
          await db.execute(sql`select 1`);
        } finally {
          await db.$client.end();
          const next = waiting.shift();
          if (next) next();
          else running--;
        }
      },
      close: () => latest.$client.end(),
    };
  },
  insecureConfigs: (harness) =>
    Object.fromEntries(
      Object.entries(postgresTarget.insecureConfigs(harness)).map(([name, build]) => [
        name,
        () =>
          drizzlePostgresJs({
            connection: build() as postgres.Options<Record<string, postgres.PostgresType>>,
          }),
      ]),
    ),
  async connectPlaintext() {
    const db = drizzlePostgresJs({
      connection: withPostgresEntra({ ssl: false, max: 1 }, { allowInsecure: true }),
    });
    try {
      await unwrapped(db.execute(sql`select 1`));
    } finally {
      await db.$client.end();
    }
  },
};

/**
 * Drizzle on mysql2 over `mysql.createPool(withEntra(...))` from `@org/mysql2-entra`.
 *
 * - `connectOnce`: Drizzle's `connection` shorthand (Drizzle builds mysql2's `createPool(connection)`)
 *   with at most one connection, the current user selected through `db.execute`, the pool ended.
 * - `createPool(...).cycle()`: `select 1` through Drizzle on one `mysql2/promise` pool whose new
 *   connections turn mysql2's `release()` (what the pool calls after Drizzle's query) into its own
 *   `destroy()`, which removes the connection from the pool and closes it: every cycle signs in a new
 *   physical connection (no timers involved).
 */
export const drizzleMysql2Target: ConformanceTarget = {
  name: "drizzle (mysql2)",
  engine: "mysql",
  async connectOnce(harness, { user, ...options } = {}) {
    const db = drizzleMysql2({
      connection: withMysql2Entra(
        { ssl: harness.tls, connectionLimit: 1, ...(user ? { user } : {}) },
        options,
      ),
    });
    try {
      // Drizzle types a raw result as mysql2's ResultSetHeader; a SELECT yields its rows.
      const [rows] = (await unwrapped(db.execute(CURRENT_USER.mysql))) as unknown as [
        Array<{ user: string }>,
      ];
      return String(rows[0]?.user);
    } finally {
      await db.$client.promise().end();
    }
  },
  createPool(harness, size) {
    const pool = mysql.createPool(withMysql2Entra({ ssl: harness.tls, connectionLimit: size }));
    pool.on("connection", (connection) => {
      connection.release = () => connection.destroy();
    });
    // No `mode` without `schema`: drizzle-orm 0.45's config check then takes the object for a client.
    const db = drizzleMysql2({ client: pool });
    return {
      native: db,
      async cycle() {
        await db.execute(sql`select 1`);
      },
      close: () => db.$client.end(),
    };
  },
  insecureConfigs: (harness) =>
    Object.fromEntries(
      Object.entries(mysql2Target.insecureConfigs(harness)).map(([name, build]) => [
        name,
        () => drizzleMysql2({ connection: build() as PoolOptions }),
      ]),
    ),
  async connectPlaintext() {
    const db = drizzleMysql2({
      connection: withMysql2Entra({ ssl: false as never, connectionLimit: 1 }, { allowInsecure: true }),
    });
    try {
      await unwrapped(db.execute(sql`select 1`));
    } finally {
      await db.$client.promise().end();
    }
  },
};
