/** The `todos` table, created by `migrations/2026-01-01T00-00-00_create_todos.ts`. */
export interface TodoTable {
  /** A UUID from the app: the same column type on PostgreSQL, MySQL and Azure SQL. */
  id: string;
  title: string;
}

/** The example's schema, as Kysely types it. */
export interface Database {
  todos: TodoTable;
}
