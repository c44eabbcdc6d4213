import type { Knex } from "knex";

export async function seed(knex: Knex): Promise<void> {
  await knex("todos").del();
  await knex("todos").insert([
    { title: "Give the app a managed identity", done: true },
    { title: "Create its database role with pgaadauth_create_principal", done: true },
    { title: "Delete the database password", done: false },
  ]);
}
