import { withEntra } from "@org/pg-entra";
import { drizzle } from "drizzle-orm/node-postgres";
import pg from "pg";
import * as schema from "./schema.js";

/**
 * Drizzle on a node-postgres pool. `withEntra()` reads the Service Connector variables
 * (`AZURE_POSTGRESQL_HOST`, `_DATABASE`, `_USER`, ...) and gives the pool a password function: every
 * new physical connection signs in with a current Entra access token, over verified TLS.
 * `await db.$client.end()` closes the pool.
 */
export const db = drizzle({ client: new pg.Pool(withEntra()), schema });
