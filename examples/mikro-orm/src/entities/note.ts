import { defineEntity, type InferEntity, p } from "@mikro-orm/core";

/** A note, one row of the `note` table that the example's first migration creates. */
export const Note = defineEntity({
  name: "Note",
  properties: {
    id: p.integer().primary(),
    text: p.string(),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
});

/** The entity type `defineEntity` infers from the properties above. */
export type Note = InferEntity<typeof Note>;
