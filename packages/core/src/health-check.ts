import { liveProviders } from "./process-registry.js";
import type { EntraHealthReport, EntraHealthStatus, EntraTokenHealth } from "./token-health.js";

const RANK: Readonly<Record<EntraHealthStatus, number>> = { healthy: 0, degraded: 1, unhealthy: 2 };

/**
 * The state of every token provider in the process, for a readiness probe or a health endpoint:
 * `healthy` (a valid token, or nothing needs one), `degraded` (connections still get a token but
 * refreshes fail while it nears expiry, or the first token is being fetched), `unhealthy` (no
 * usable token: the last credential call failed), each with a reason. Costs no I/O.
 *
 * @example
 * ```ts
 * app.get("/health", (_req, res) => {
 *   const health = healthCheck();
 *   res.status(health.status === "unhealthy" ? 503 : 200).json(health);
 * });
 * ```
 *
 * @returns The worst status of all providers and each provider's own state (never a token).
 *   `healthy` with no providers.
 */
export function healthCheck(): EntraHealthReport {
  const providers: EntraTokenHealth[] = [];
  for (const { control } of liveProviders()) providers.push(control.health());
  if (providers.length === 0) {
    return Object.freeze({
      status: "healthy",
      reason: "No token provider is in use yet.",
      providers: Object.freeze([]),
    });
  }
  const worst = providers.reduce((a, b) => (RANK[b.status] > RANK[a.status] ? b : a));
  return Object.freeze({ status: worst.status, reason: worst.reason, providers: Object.freeze(providers) });
}
