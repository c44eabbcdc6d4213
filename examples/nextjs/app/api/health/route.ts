import { healthCheck } from "@org/pg-entra";

export const dynamic = "force-dynamic";

/**
 * GET /api/health: readiness. 503 while no token can be had (the identity is missing, or the endpoint
 * is down and the cached token ran out); "degraded" still serves, so it answers 200 with the reason.
 */
export function GET(): Response {
  const report = healthCheck();
  return Response.json(report, { status: report.status === "unhealthy" ? 503 : 200 });
}
