import { defineConfig } from "drizzle-kit";

/**
 * drizzle-kit for Azure Database for MySQL (`--config drizzle-mysql.config.ts`). As in
 * `drizzle.config.ts`, `DATABASE_URL` points at `entra-db proxy -e mysql` with no password, or holds a
 * current token from `entra-db url -e mysql --format mysql2` (drizzle-kit hands the URL to mysql2).
 */
export default defineConfig({
  dialect: "mysql",
  schema: "./src/schema-mysql.ts",
  out: "./drizzle/mysql",
  dbCredentials: { url: process.env.DATABASE_URL ?? "" },
});
