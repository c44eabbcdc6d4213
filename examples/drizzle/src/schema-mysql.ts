import { boolean, int, mysqlTable, varchar } from "drizzle-orm/mysql-core";

/** To-do items in Azure Database for MySQL (`drizzle/mysql` holds its migration). */
export const tasks = mysqlTable("tasks", {
  // Not `serial`: Drizzle writes `serial AUTO_INCREMENT`, which MariaDB (this example's CI backend) refuses.
  id: int("id").autoincrement().primaryKey(),
  title: varchar("title", { length: 200 }).notNull(),
  done: boolean("done").notNull().default(false),
});
