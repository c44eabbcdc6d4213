import { withEntra } from "@org/mysql2-entra";
import { Kysely, MysqlDialect } from "kysely";
import { createPool, type PoolOptions } from "mysql2"; // the callback API, which MysqlDialect wants
import type { Database } from "./database.js";

/**
 * Kysely on Azure Database for MySQL: `MysqlDialect` over a mysql2 pool whose every new
 * connection answers the server's clear-password request with a current Entra access token over
 * verified TLS.
 *
 * @param config - Your mysql2 `PoolOptions`. Host, port, database and user default to the Service
 *   Connector variables (`AZURE_MYSQL_*`).
 */
export function createMysqlDb(config: PoolOptions = {}): Kysely<Database> {
  return new Kysely<Database>({
    dialect: new MysqlDialect({ pool: createPool(withEntra({ connectionLimit: 10, ...config })) }),
  });
}
