import { withEntra } from "@org/postgres-entra";
import { drizzle } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import * as schema from "./schema.js";

/**
 * Drizzle on postgres.js. `withEntra()` reads the Service Connector variables (`AZURE_POSTGRESQL_*`)
 * and gives postgres.js a password function: every new connection signs in with a current Entra
 * access token, over verified TLS. `await db.$client.end()` closes the connections.
 */
export const db = drizzle({ client: postgres(withEntra()), schema });
