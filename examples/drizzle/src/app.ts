import { eq, sql } from "drizzle-orm";
import type { MySql2Database } from "drizzle-orm/mysql2";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import * as pgSchema from "./schema.js";
import * as mysqlSchema from "./schema-mysql.js";

/** Adds a task through Drizzle (PostgreSQL, either driver) and reads it back with `current_user`. */
async function addPostgresTask(db: PgDatabase<PgQueryResultHKT, typeof pgSchema>, title: string) {
  const { tasks } = pgSchema;
  const [added] = await db.insert(tasks).values({ title }).returning({ id: tasks.id });
  const [task] = await db
    .select({ id: tasks.id, title: tasks.title, user: sql<string>`current_user` })
    .from(tasks)
    .where(eq(tasks.id, added?.id ?? -1));
  return task;
}

/** Adds a task through Drizzle (MySQL) and reads it back with the user part of `current_user()`. */
async function addMysqlTask(db: MySql2Database<typeof mysqlSchema>, title: string) {
  const { tasks } = mysqlSchema;
  const [added] = await db.insert(tasks).values({ title }).$returningId();
  const [task] = await db
    .select({ id: tasks.id, title: tasks.title, user: sql<string>`substring_index(current_user(), '@', 1)` })
    .from(tasks)
    .where(eq(tasks.id, added?.id ?? -1));
  return task;
}

// `node-postgres` (default), `postgres-js` or `mysql2`. A db module reads its engine's variables when
// imported, so only the chosen one is. `$client.end()` closes the pool and stops token refreshes.
const driver = process.argv[2] ?? "node-postgres";
const title = `Signed in with Microsoft Entra ID (${driver})`;
let task: { id: number; title: string; user: string } | undefined;
if (driver === "node-postgres") {
  const { db } = await import("./db-node-postgres.js");
  task = await addPostgresTask(db, title).finally(() => db.$client.end());
} else if (driver === "postgres-js") {
  const { db } = await import("./db-postgres-js.js");
  task = await addPostgresTask(db, title).finally(() => db.$client.end());
} else if (driver === "mysql2") {
  const { db } = await import("./db-mysql2.js");
  task = await addMysqlTask(db, title).finally(() => db.$client.end());
} else {
  throw new Error(`Unknown driver "${driver}": use node-postgres, postgres-js or mysql2.`);
}
console.log(`task ${task?.id}: ${task?.title} (as ${task?.user})`);
