/**
 * The app's knex instance, shared by every function in the worker process.
 *
 * The one-line change from a password:
 *   before: knex({ client: "pg", connection: { host, user, database, password: process.env.PGPASSWORD, ssl: true } })
 *   after:  knex(withEntra({ client: "pg", connection: { ssl: true } }))
 * Host, port, database and user come from the Service Connector variables (AZURE_POSTGRESQL_*, app
 * settings on Azure, local.settings.json locally); every new pooled connection gets a fresh token.
 */
import { withEntra } from "@org/knex-entra";
import knex from "knex";

/** Starts fetching the token now; the `appStart` hook in index.ts waits for it. */
export const db = knex(withEntra({ client: "pg", connection: { ssl: true }, pool: { min: 0, max: 5 } }));
