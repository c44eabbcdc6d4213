import { defineConfig } from "drizzle-kit";

/**
 * drizzle-kit for Azure Database for PostgreSQL. drizzle-kit connects with static credentials only
 * (no token hook), so `DATABASE_URL` is either `entra-db proxy`'s loopback address with no password
 * (the proxy signs every connection in with a fresh Entra token) or a URL that holds a current token,
 * from `entra-db url` (README: "Migrations with drizzle-kit"). `generate` needs no database.
 */
export default defineConfig({
  dialect: "postgresql",
  schema: "./src/schema.ts",
  out: "./drizzle/postgresql",
  dbCredentials: { url: process.env.DATABASE_URL ?? "" },
});
