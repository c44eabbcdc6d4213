/**
 * The app: starts MikroORM with Entra sign-in, applies pending migrations, writes a note through the
 * EntityManager and reads the notes back. `DB_ENGINE=mysql` runs it on MySQL.
 */
import { MikroORM } from "@mikro-orm/core";
import type { SqlEntityManager } from "@mikro-orm/postgresql";
import { engineFromEnv, mikroOrmConfig } from "./config/mikro-orm.config.js";
import { Note } from "./entities/note.js";

/** Per engine: its name, and a query answering the session's database user. */
const ENGINES = {
  postgresql: { name: "PostgreSQL", currentUser: "select current_user as user" },
  mysql: { name: "MySQL", currentUser: "select substring_index(current_user(), '@', 1) as user" },
} as const;

const engine = engineFromEnv();
const orm = await MikroORM.init(mikroOrmConfig(engine));
try {
  // Deployments often run this as a separate step: `npm run migrate`.
  await orm.migrator.up();

  const em = orm.em.fork() as SqlEntityManager;
  const [session] = await em.execute<{ user: string }[]>(ENGINES[engine].currentUser);
  console.log(`Signed in to ${ENGINES[engine].name} as ${session?.user} with a Microsoft Entra access token`);

  em.create(Note, { text: `Written by ${session?.user} without a password` });
  await em.flush();

  const notes = await orm.em.fork().findAll(Note, { orderBy: { id: "asc" } });
  console.log(`${notes.length} note(s):`);
  for (const note of notes) console.log(`  #${note.id} ${note.text} (${note.createdAt.toISOString()})`);
} finally {
  await orm.close();
}
