import type { EntraOptions } from "@org/entra-core";
import { withEntra } from "@org/knex-entra";
import knex, { type Knex } from "knex";
import type { ConformanceTarget } from "../conformance.js";
import type { Harness } from "../start-harness.js";

type KnexClient = "pg" | "mysql2";

const CURRENT_USER: Record<KnexClient, string> = {
  pg: "select current_user as user",
  mysql2: "select substring_index(current_user(), '@', 1) as user",
};

/** knex's `raw` result: pg's `Result`, or mysql2's `[rows, fields]`. */
function firstRow(client: KnexClient, result: unknown): Record<string, unknown> | undefined {
  const rows = client === "pg" ? (result as { rows: unknown[] }).rows : (result as unknown[][])[0];
  return rows?.[0] as Record<string, unknown> | undefined;
}

/** knex's pool logs every failed connect as a warning; the conformance cases provoke many on purpose. */
const quiet: Knex.Logger = { warn() {} };

/**
 * `@org/knex-entra` with knex's own tarn pool, for one client.
 *
 * - `connectOnce`: a fresh knex instance with a pool of at most one connection; the first query
 *   opens it (knex's version check runs on that same connection), `destroy()` closes it.
 * - `createPool(...).cycle()`: checks a connection out with `client.acquireConnection()`, runs a
 *   query on it with the documented `.connection(conn)`, marks it retired and releases it. The
 *   pool's documented `validate` hook rejects retired connections, and tarn validates every free
 *   connection before handing it out, destroying it when invalid: so every checkout opens (and
 *   authenticates) a new physical connection, with no timers involved. tarn only creates a
 *   connection for a waiting checkout, so none is opened that a cycle does not use.
 */
function knexTarget(client: KnexClient, engine: ConformanceTarget["engine"]): ConformanceTarget {
  const connect = (harness: Harness, connection: Record<string, unknown>, options?: EntraOptions) =>
    knex(
      withEntra(
        { client, connection: { ssl: harness.tls, ...connection }, pool: { min: 0, max: 1 }, log: quiet },
        options,
      ),
    );

  return {
    name: `knex (${client})`,
    engine,
    async connectOnce(harness, { user, ...options } = {}) {
      const db = connect(harness, user ? { user } : {}, options);
      try {
        return String(firstRow(client, await db.raw(CURRENT_USER[client]))?.user);
      } finally {
        await db.destroy();
      }
    },
    createPool(harness, size) {
      const retired = new WeakSet<object>();
      const db = knex(
        withEntra({
          client,
          connection: { ssl: harness.tls },
          pool: { min: 0, max: size, validate: (connection: object) => !retired.has(connection) },
          log: quiet,
        }),
      );
      return {
        native: db,
        async cycle() {
          const connection = await db.client.acquireConnection();
          try {
            await db.raw("select 1").connection(connection);
          } finally {
            retired.add(connection);
            await db.client.releaseConnection(connection);
          }
        },
        close: () => db.destroy(),
      };
    },
    insecureConfigs: (harness) => {
      const variable = client === "pg" ? "AZURE_POSTGRESQL_SSL" : "AZURE_MYSQL_SSL";
      const url =
        client === "pg" ? "postgres://localhost/test?sslmode=disable" : "mysql://localhost/test?ssl=false";
      return {
        "ssl: false": () => withEntra({ client, connection: { ssl: false } }),
        "rejectUnauthorized: false": () =>
          withEntra({ client, connection: { ssl: { ...harness.tls, rejectUnauthorized: false } } }),
        [`connection string ${url}`]: () => withEntra({ client, connection: url }),
        [`${variable}=false`]: () => withEntra({ client }, { env: { ...process.env, [variable]: "false" } }),
      };
    },
    async connectPlaintext() {
      const db = knex(
        withEntra(
          { client, connection: { ssl: false }, pool: { min: 0, max: 1 }, log: quiet },
          { allowInsecure: true },
        ),
      );
      try {
        await db.raw("select 1");
      } finally {
        await db.destroy();
      }
    },
  };
}

/** `@org/knex-entra` with `client: "pg"` (knex's pool of `pg.Client`s). */
export const knexPgTarget: ConformanceTarget = knexTarget("pg", "postgresql");

/** `@org/knex-entra` with `client: "mysql2"` (knex's pool of mysql2 connections). */
export const knexMysql2Target: ConformanceTarget = knexTarget("mysql2", "mysql");
