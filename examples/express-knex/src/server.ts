/**
 * Express + knex on Azure Database for PostgreSQL, passwordless.
 *
 * The one-line change from a password:
 *   before: knex({ client: "pg", connection: { host, user, database, password: process.env.PGPASSWORD, ssl: true } })
 *   after:  knex(withEntra({ client: "pg", connection: { ssl: true } }))
 * Host, port, database and user come from the Service Connector variables (AZURE_POSTGRESQL_*).
 */
import { withEntra } from "@org/knex-entra";
import express from "express";
import knex from "knex";

const db = knex(withEntra({ client: "pg", connection: { ssl: true }, pool: { min: 0, max: 5 } }));

const app = express();

app.get("/health", (_request, response) => {
  response.json({ ok: true });
});

app.get("/whoami", async (_request, response, next) => {
  try {
    const { rows } = await db.raw<{ rows: Array<{ user: string; now: Date }> }>(
      "select current_user as user, now() as now",
    );
    response.json(rows[0]);
  } catch (error) {
    next(error);
  }
});

const port = Number(process.env.PORT ?? 3000);
const server = app.listen(port, "127.0.0.1", () => {
  const address = server.address();
  const actual = typeof address === "object" && address ? address.port : port;
  console.log(`listening on http://127.0.0.1:${actual}`);
});

async function shutdown(signal: string): Promise<void> {
  console.log(`${signal}: shutting down`);
  server.close();
  await db.destroy();
}

process.once("SIGTERM", () => void shutdown("SIGTERM"));
process.once("SIGINT", () => void shutdown("SIGINT"));
