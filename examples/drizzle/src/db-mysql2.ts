import { withEntra } from "@org/mysql2-entra";
import { drizzle } from "drizzle-orm/mysql2";
import mysql from "mysql2/promise";
import * as schema from "./schema-mysql.js";

/**
 * Drizzle on a mysql2 pool. `withEntra()` reads the Service Connector variables (`AZURE_MYSQL_HOST`,
 * `_DATABASE`, `_USER`, ...) and answers Azure's clear-password request of every new connection with a
 * current Entra access token, over TLS with the host name verified. `mode: "default"` (Drizzle
 * requires a mode with `schema`) is the one for MySQL; `"planetscale"` is for PlanetScale only.
 * `await db.$client.end()` closes the pool.
 */
export const db = drizzle({ client: mysql.createPool(withEntra()), schema, mode: "default" });
