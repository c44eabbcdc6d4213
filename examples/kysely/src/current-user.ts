import { type Kysely, sql } from "kysely";
import type { Database } from "./database.js";
import type { DialectName } from "./db.js";

const QUERIES = {
  postgres: sql<{ name: string }>`select current_user as name`,
  mysql: sql<{ name: string }>`select current_user() as name`,
  mssql: sql<{ name: string }>`select suser_sname() as name`,
};

/** The database user the session signed in as: the Entra identity's name. */
export async function currentUser(db: Kysely<Database>, dialect: DialectName): Promise<string> {
  const { rows } = await QUERIES[dialect].execute(db);
  return String(rows[0]?.name);
}
