import { Migration } from "@mikro-orm/migrations";

export class Migration20261201043815 extends Migration {
  override name = "Migration20261201043815";

  override up(): void | Promise<void> {
    this.addSql(
      `create table \`note\` (\`id\` int unsigned not null auto_increment primary key, \`text\` varchar(255) not null, \`created_at\` datetime not null) default character set utf8mb4 engine = InnoDB;`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists \`note\`;`);
  }
}
