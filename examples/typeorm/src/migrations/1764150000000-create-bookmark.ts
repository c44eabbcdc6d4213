import type { MigrationInterface, QueryRunner } from "typeorm";

/** Creates the `bookmark` table of the {@link Bookmark} entity. */
export class CreateBookmark1764150000000 implements MigrationInterface {
  name = "CreateBookmark1764150000000";

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `create table "bookmark" (
        "id" serial primary key,
        "url" text not null,
        "title" text,
        "created_at" timestamptz not null default now()
      )`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`drop table "bookmark"`);
  }
}
