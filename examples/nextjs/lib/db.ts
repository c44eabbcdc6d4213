/**
 * One pg pool and Drizzle instance per server process.
 *
 * The one-line change from a password:
 *   before: new pg.Pool({ host, user, database, password: process.env.PGPASSWORD, ssl: true })
 *   after:  new pg.Pool(withEntra())
 * Host, port, database and user come from the Service Connector variables (AZURE_POSTGRESQL_*);
 * every new pooled connection gets a fresh Entra token over verified TLS.
 */
import { warmUp, withEntra } from "@org/pg-entra";
import { drizzle, type NodePgDatabase } from "drizzle-orm/node-postgres";
import pg from "pg";

/** The pool and the Drizzle instance over it. */
export interface Database {
  readonly pool: pg.Pool;
  readonly db: NodePgDatabase;
}

// On globalThis, not in a module variable: instrumentation.ts and each route are bundled apart (each
// with its own copy of this module), and `next dev` re-evaluates modules on every edit.
const key = Symbol.for("@org/example-nextjs/database");
const registry = globalThis as typeof globalThis & { [key]?: Database };

/**
 * The process's database, created on first use: at server start by instrumentation.ts, never during
 * `next build` (which imports the routes but has no database settings).
 */
export function database(): Database {
  if (!registry[key]) {
    const pool = new pg.Pool(withEntra({ max: 5 }));
    registry[key] = { pool, db: drizzle({ client: pool }) };
  }
  return registry[key];
}

/**
 * Fetches the token and opens one connection, so the first request waits for neither. Failures are
 * logged, not thrown: the server still starts, and /api/health says what is wrong.
 */
export async function warmUpDatabase(): Promise<void> {
  try {
    const { pool } = database();
    await warmUp({ timeoutInMs: 30_000 });
    const client = await pool.connect();
    client.release();
  } catch (error) {
    console.error(`warm-up failed, serving anyway (see /api/health): ${(error as Error).message}`);
  }
}
