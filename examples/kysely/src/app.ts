import { randomUUID } from "node:crypto";
import { currentUser } from "./current-user.js";
import { createDb, dialectName } from "./db.js";

/** Adds a todo (the title is the first argument) and lists them all; run `migrate.ts` first. */
const dialect = dialectName();
const db = createDb(dialect);
try {
  console.log(`${dialect}: signed in as ${await currentUser(db, dialect)}`);
  const title = process.argv[2] ?? "Delete the database password";
  await db.insertInto("todos").values({ id: randomUUID(), title }).execute();
  const todos = await db.selectFrom("todos").select("title").orderBy("title").execute();
  for (const todo of todos) console.log(`- ${todo.title}`);
} finally {
  await db.destroy();
}
