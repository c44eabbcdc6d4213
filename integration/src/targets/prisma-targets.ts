import type { EntraOptions } from "@org/entra-core";
import { createEntraAdapter } from "@org/prisma-entra";
import type { ConformanceTarget } from "../conformance.js";
import type { Harness } from "../start-harness.js";

/** The parts of Prisma's driver adapter contract (`@prisma/driver-adapter-utils`) these targets use. */
interface SqlQuery {
  readonly sql: string;
  readonly args: unknown[];
  readonly argTypes: never[];
}
interface SqlQueryable {
  queryRaw(query: SqlQuery): Promise<{ rows: unknown[][] }>;
  executeRaw(query: SqlQuery): Promise<number>;
}
interface SqlDriverAdapter extends SqlQueryable {
  startTransaction(): Promise<SqlQueryable & { commit(): Promise<void>; rollback(): Promise<void> }>;
  dispose(): Promise<void>;
}
interface SqlDriverAdapterFactory {
  connect(): Promise<SqlDriverAdapter>;
}

/**
 * A query as Prisma's query compiler hands it to a driver adapter: the targets below use the
 * adapter factory exactly the way PrismaClient does (`connect()`, then `queryRaw`,
 * `startTransaction`, `dispose`), without needing a generated client.
 */
function sql(text: string): SqlQuery {
  return { sql: text, args: [], argTypes: [] };
}

async function currentUser(adapter: SqlDriverAdapter, text: string): Promise<string> {
  const result = await adapter.queryRaw(sql(text));
  return String(result.rows[0]?.[0]);
}

/** Opens a factory's adapter once (the way PrismaClient does on its first query). */
function lazyAdapter(factory: SqlDriverAdapterFactory) {
  let adapter: Promise<SqlDriverAdapter> | undefined;
  return {
    get: () => {
      adapter ??= factory.connect();
      return adapter;
    },
    async close() {
      if (adapter) await (await adapter.catch(() => undefined))?.dispose();
    },
  };
}

/**
 * `@org/prisma-entra` with `provider: "postgresql"` (`@prisma/adapter-pg` over the pg config of
 * `@org/pg-entra`).
 *
 * - `connectOnce`: a new factory whose pool holds at most one connection; the query opens it,
 *   `dispose()` ends the pool.
 * - `createPool(...).cycle()`: ONE long-lived adapter. Each cycle runs `select 1` in a transaction
 *   (the adapter checks a connection out of its `pg.Pool` for it). The pool's documented
 *   `maxUses: 1` makes pg-pool close a client when it is released after one use, so every checkout
 *   opens (and authenticates) a new physical connection; pg-pool only opens connections for
 *   waiting checkouts.
 */
export const prismaPostgresTarget: ConformanceTarget = {
  name: "prisma (adapter-pg)",
  engine: "postgresql",
  async connectOnce(harness, { user, ...options } = {}) {
    const factory = createEntraAdapter(
      { provider: "postgresql", ssl: harness.tls, max: 1, ...(user ? { user } : {}) },
      options,
    );
    const adapter = await factory.connect();
    try {
      return await currentUser(adapter, "select current_user");
    } finally {
      await adapter.dispose();
    }
  },
  createPool(harness, size) {
    const factory = createEntraAdapter({ provider: "postgresql", ssl: harness.tls, max: size, maxUses: 1 });
    const adapter = lazyAdapter(factory);
    return {
      native: factory,
      async cycle() {
        const transaction = await (await adapter.get()).startTransaction();
        try {
          await transaction.queryRaw(sql("select 1"));
        } finally {
          await transaction.commit();
        }
      },
      close: () => adapter.close(),
    };
  },
  insecureConfigs: (harness) => ({
    "ssl: false": () => createEntraAdapter({ provider: "postgresql", ssl: false }),
    "rejectUnauthorized: false": () =>
      createEntraAdapter({ provider: "postgresql", ssl: { ...harness.tls, rejectUnauthorized: false } }),
    "sslmode=disable": () =>
      createEntraAdapter({
        provider: "postgresql",
        connectionString: "postgres://localhost/test?sslmode=disable",
      }),
    "AZURE_POSTGRESQL_SSL=false": () =>
      createEntraAdapter(
        { provider: "postgresql" },
        { env: { ...process.env, AZURE_POSTGRESQL_SSL: "false" } },
      ),
  }),
  async connectPlaintext() {
    const adapter = await createEntraAdapter(
      { provider: "postgresql", ssl: false, max: 1 },
      { allowInsecure: true },
    ).connect();
    try {
      await adapter.queryRaw(sql("select 1"));
    } finally {
      await adapter.dispose();
    }
  },
};

const MYSQL_CURRENT_USER = "select substring_index(current_user(), '@', 1)";

/**
 * `@org/prisma-entra` with `provider: "mysql"` (the rotating adapter over `@prisma/adapter-mariadb`).
 *
 * - `connectOnce`: a new factory with `connectionLimit: 1`; `connect()` opens the first inner pool,
 *   whose one connection serves Prisma's version probe and the query; `dispose()` ends the pool.
 * - `createPool(...).cycle()`: ONE long-lived adapter across every token lifetime of the run, so
 *   the churn case exercises the rotation itself (a new inner pool per token, old pools drained).
 *   Each cycle opens a transaction (a connection checked out of the current inner pool), runs
 *   `select 1`, then ends its own session with `KILL CONNECTION_ID()`. The rollback that follows
 *   can only settle once the socket is closed, so the connector then discards the connection
 *   instead of returning it to the pool; no public mariadb or Prisma API closes a pooled
 *   connection otherwise. The inner pools are kept at `connectionLimit: 1` with `idleTimeout: 0`:
 *   the connector tops a pool up to `minimumIdle` (at least 1) after every connection it creates
 *   and on its idle-reaper ticks, which would open spare connections no cycle uses; with one slot
 *   and no reaper it opens a connection exactly when a checkout waits for one. So every cycle
 *   authenticates exactly one new physical connection, with the token of the pool it was routed to.
 */
export const prismaMysqlTarget: ConformanceTarget = {
  name: "prisma (adapter-mariadb, rotating)",
  engine: "mysql",
  // After a cycle KILLs its connection the mariadb pool tops itself up to one idle connection; in
  // the pool that is retired at a rotation that spare is never used (it logs in fine, then closes).
  spareLoginsPerToken: 1,
  async connectOnce(harness, { user, ...options }: EntraOptions & { user?: string } = {}) {
    const factory = createEntraAdapter(
      {
        provider: "mysql",
        ssl: harness.tls,
        connectionLimit: 1,
        idleTimeout: 0,
        pingTimeout: 10_000,
        ...(user ? { user } : {}),
      },
      options,
    );
    const adapter = await factory.connect();
    try {
      return await currentUser(adapter, MYSQL_CURRENT_USER);
    } finally {
      await adapter.dispose();
    }
  },
  createPool(harness: Harness, _size: number) {
    const factory = createEntraAdapter({
      provider: "mysql",
      ssl: harness.tls,
      connectionLimit: 1,
      idleTimeout: 0,
      pingTimeout: 10_000,
    });
    const adapter = lazyAdapter(factory);
    return {
      native: factory,
      async cycle() {
        const transaction = await (await adapter.get()).startTransaction();
        try {
          await transaction.queryRaw(sql("select 1"));
          await transaction.executeRaw(sql("kill connection_id()")).catch(() => {});
        } finally {
          await transaction.rollback().catch(() => {});
        }
      },
      close: () => adapter.close(),
    };
  },
  insecureConfigs: (harness) => ({
    "ssl: false": () => createEntraAdapter({ provider: "mysql", ssl: false }),
    "rejectUnauthorized: false": () =>
      createEntraAdapter({ provider: "mysql", ssl: { ...harness.tls, rejectUnauthorized: false } }),
    "AZURE_MYSQL_SSL=false": () =>
      createEntraAdapter({ provider: "mysql" }, { env: { ...process.env, AZURE_MYSQL_SSL: "false" } }),
  }),
  async connectPlaintext() {
    const adapter = await createEntraAdapter(
      { provider: "mysql", ssl: false, connectionLimit: 1 },
      { allowInsecure: true },
    ).connect();
    try {
      await adapter.queryRaw(sql("select 1"));
    } finally {
      await adapter.dispose();
    }
  },
};
