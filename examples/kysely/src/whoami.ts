import { currentUser } from "./current-user.js";
import { createDb, dialectName } from "./db.js";

/** Prints the user the database sees: works on all three dialects, before any migration. */
const dialect = dialectName();
const db = createDb(dialect);
try {
  console.log(`${dialect}: signed in as ${await currentUser(db, dialect)}`);
} finally {
  await db.destroy();
}
