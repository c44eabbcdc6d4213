import type { Kysely } from "kysely";
import type { Database } from "./database.js";
import { createMssqlDb } from "./mssql.js";
import { createMysqlDb } from "./mysql.js";
import { createPostgresDb } from "./postgres.js";

/** The dialects of this example, chosen with `DB_DIALECT`. */
export type DialectName = "postgres" | "mysql" | "mssql";

/** `DB_DIALECT` (`postgres`, `mysql` or `mssql`); defaults to `postgres`. */
export function dialectName(env: NodeJS.ProcessEnv = process.env): DialectName {
  const name = env.DB_DIALECT ?? "postgres";
  if (name === "postgres" || name === "mysql" || name === "mssql") return name;
  throw new Error(`DB_DIALECT must be postgres, mysql or mssql, not "${name}".`);
}

/** The Kysely instance for `DB_DIALECT`, configured from the Service Connector variables. */
export function createDb(name: DialectName = dialectName()): Kysely<Database> {
  if (name === "mysql") return createMysqlDb();
  if (name === "mssql") return createMssqlDb();
  return createPostgresDb();
}
