/**
 * MikroORM's migrator from the command line, signed in with Entra ID:
 * `up` (default) applies pending migrations, `down` reverts them all, `create` writes a migration
 * for the difference between the entities and the database. `DB_ENGINE=mysql` for MySQL.
 */
import { MikroORM } from "@mikro-orm/core";
import { mikroOrmConfig } from "./config/mikro-orm.config.js";

const command = process.argv[2] ?? "up";
if (!["up", "down", "create"].includes(command)) {
  console.error(`Unknown command "${command}": use up, down or create.`);
  process.exit(2);
}

const orm = await MikroORM.init(mikroOrmConfig());
try {
  if (command === "create") {
    const { fileName } = await orm.migrator.create();
    console.log(fileName ? `Created ${fileName}` : "No changes: the database matches the entities.");
  } else {
    const done = command === "up" ? await orm.migrator.up() : await orm.migrator.down({ to: 0 });
    console.log(
      `${command}: ${done.length} migration(s)${done.length ? `: ${done.map((m) => m.name).join(", ")}` : ""}`,
    );
  }
} finally {
  await orm.close();
}
