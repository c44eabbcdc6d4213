import { fileURLToPath } from "node:url";

// Applies the checked-in migrations with Drizzle's own migrator over the Entra pool of a db module:
// no static credentials and no proxy, and a failing statement is printed with the server's words.
// `node-postgres` (default), `postgres-js` or `mysql2`.
const driver = process.argv[2] ?? "node-postgres";
const folder = (dialect: string) => fileURLToPath(new URL(`../drizzle/${dialect}`, import.meta.url));
if (driver === "node-postgres") {
  const { db } = await import("./db-node-postgres.js");
  const { migrate } = await import("drizzle-orm/node-postgres/migrator");
  await migrate(db, { migrationsFolder: folder("postgresql") }).finally(() => db.$client.end());
} else if (driver === "postgres-js") {
  const { db } = await import("./db-postgres-js.js");
  const { migrate } = await import("drizzle-orm/postgres-js/migrator");
  await migrate(db, { migrationsFolder: folder("postgresql") }).finally(() => db.$client.end());
} else if (driver === "mysql2") {
  const { db } = await import("./db-mysql2.js");
  const { migrate } = await import("drizzle-orm/mysql2/migrator");
  await migrate(db, { migrationsFolder: folder("mysql") }).finally(() => db.$client.end());
} else {
  throw new Error(`Unknown driver "${driver}": use node-postgres, postgres-js or mysql2.`);
}
console.log(`migrations applied through ${driver}`);
