import { Migration } from "@mikro-orm/migrations";

export class Migration20261201043803 extends Migration {
  override name = "Migration20261201043803";

  override up(): void | Promise<void> {
    this.addSql(
      `create table "note" ("id" serial primary key, "text" varchar(255) not null, "created_at" timestamptz not null);`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "note" cascade;`);
  }
}
