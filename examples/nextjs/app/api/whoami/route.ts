import { sql } from "drizzle-orm";
import { database } from "../../../lib/db";

// Queries on every request: never prerendered at build time (when there is no database to ask).
export const dynamic = "force-dynamic";

/** GET /api/whoami: the database role this app signs in as (the managed identity's name on Azure). */
export async function GET(): Promise<Response> {
  const { rows } = await database().db.execute<{ user: string }>(sql`select current_user as "user"`);
  return Response.json(rows[0]);
}
