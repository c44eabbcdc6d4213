import { app, type HttpResponseInit } from "@azure/functions";
import { healthCheck } from "@org/knex-entra";

/**
 * GET /api/health: readiness. 503 while no token can be had (the identity is missing, or the endpoint
 * is down and the cached token ran out); "degraded" still serves, so it answers 200 with the reason.
 */
app.http("health", {
  methods: ["GET"],
  authLevel: "anonymous",
  handler: (): HttpResponseInit => {
    const report = healthCheck();
    return { status: report.status === "unhealthy" ? 503 : 200, jsonBody: report };
  },
});
