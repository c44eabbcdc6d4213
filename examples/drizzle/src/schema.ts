import { boolean, pgTable, serial, text } from "drizzle-orm/pg-core";

/** To-do items in Azure Database for PostgreSQL (`drizzle/postgresql` holds its migration). */
export const tasks = pgTable("tasks", {
  id: serial("id").primaryKey(),
  title: text("title").notNull(),
  done: boolean("done").notNull().default(false),
});
