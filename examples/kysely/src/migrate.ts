import { promises as fs } from "node:fs";
import path from "node:path";
import { FileMigrationProvider, Migrator } from "kysely/migration";
import { createDb } from "./db.js";

/**
 * Runs Kysely's `Migrator` over `migrations/`: `migrate.ts` migrates to the latest version,
 * `migrate.ts down` undoes the last migration. Every connection it opens signs in with Entra.
 */
const db = createDb();
const migrator = new Migrator({
  db,
  provider: new FileMigrationProvider({
    fs,
    path,
    migrationFolder: path.join(import.meta.dirname, "..", "migrations"),
  }),
});

try {
  const { error, results = [] } =
    process.argv[2] === "down" ? await migrator.migrateDown() : await migrator.migrateToLatest();
  for (const { direction, migrationName, status } of results) {
    console.log(`${migrationName}: ${direction} ${status}`);
  }
  if (results.length === 0 && !error) console.log("No migrations to run.");
  if (error) {
    console.error("Migration failed:", error);
    process.exitCode = 1;
  }
} finally {
  await db.destroy();
}
