/**
 * Express + knex on Azure Database for PostgreSQL, passwordless.
 *
 * The one-line change from a password:
 *   before: knex({ client: "pg", connection: { host, user, database, password: process.env.PGPASSWORD, ssl: true } })
 *   after:  knex(withEntra({ client: "pg", connection: { ssl: true } }))
 * Host, port, database and user come from the Service Connector variables (AZURE_POSTGRESQL_*).
 */
import { healthCheck, warmUp, withEntra } from "@org/knex-entra";
import express from "express";
import knex from "knex";

const db = knex(withEntra({ client: "pg", connection: { ssl: true }, pool: { min: 0, max: 5 } }));

const app = express();

// Readiness: 503 while no token can be had (the identity is missing, the endpoint is down and the
// cached token ran out); "degraded" still serves, so it answers 200 with the reason.
app.get("/health", (_request, response) => {
  const health = healthCheck();
  response.status(health.status === "unhealthy" ? 503 : 200).json(health);
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

// withEntra already started fetching the token; wait for it so the first request does not.
await warmUp({ timeoutInMs: 30_000 }).catch((error: Error) => {
  console.error(`warm-up failed, serving anyway (see /health): ${error.message}`);
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
