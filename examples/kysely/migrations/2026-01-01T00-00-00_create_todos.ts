import type { Kysely } from "kysely";

/** Creates `todos` with column types PostgreSQL, MySQL and Azure SQL share. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("todos")
    .addColumn("id", "varchar(36)", (column) => column.primaryKey())
    .addColumn("title", "varchar(200)", (column) => column.notNull())
    .execute();
}

/** Drops `todos`. */
export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable("todos").execute();
}
