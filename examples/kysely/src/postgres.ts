import { withEntra } from "@org/pg-entra";
import { Kysely, PostgresDialect } from "kysely";
import pg from "pg";
import type { Database } from "./database.js";

/**
 * Kysely on Azure Database for PostgreSQL: `PostgresDialect` over a `pg.Pool` whose every new
 * connection signs in with a current Entra access token over verified TLS.
 *
 * @param config - Your `pg.PoolConfig`. Host, port, database and user default to the Service
 *   Connector variables (`AZURE_POSTGRESQL_*`).
 */
export function createPostgresDb(config: pg.PoolConfig = {}): Kysely<Database> {
  return new Kysely<Database>({
    dialect: new PostgresDialect({ pool: new pg.Pool(withEntra({ max: 10, ...config })) }),
  });
}
