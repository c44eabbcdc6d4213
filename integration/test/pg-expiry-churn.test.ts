import { getSharedTokenProvider, resetSharedTokenProviders, scopeFor } from "@org/entra-core";
import { withEntra } from "@org/pg-entra";
import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type Harness, startHarness } from "../src/start-harness.js";

const TOKEN_LIFETIME_IN_SECONDS = 3;
const RUN_FOR_IN_MS = 24_000;

let harness: Harness;

beforeAll(async () => {
  // No clock-skew allowance at the gateway: a token handed out even slightly expired is rejected.
  harness = await startHarness({ tokenLifetimeInSeconds: TOKEN_LIFETIME_IN_SECONDS, clockSkewInSeconds: 0 });
});

afterAll(async () => {
  resetSharedTokenProviders();
  await harness?.close();
});

it("2. a busy pool opening new connections across many token lifetimes has zero auth failures", async () => {
  const pool = new pg.Pool(withEntra(harness.pgConfig({ max: 4 })));
  const errors: Error[] = [];
  let connections = 0;
  const deadline = Date.now() + RUN_FOR_IN_MS;
  const worker = async () => {
    while (Date.now() < deadline) {
      try {
        const client = await pool.connect();
        try {
          await client.query("select 1");
        } finally {
          client.release(true); // destroy, so every checkout authenticates a new physical connection
        }
        connections++;
      } catch (error) {
        errors.push(error as Error);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  try {
    await Promise.all(Array.from({ length: 4 }, worker));
  } finally {
    await pool.end();
  }

  const { counters } = harness.emulator;
  const lifetimes = RUN_FOR_IN_MS / 1000 / TOKEN_LIFETIME_IN_SECONDS;
  const stats = getSharedTokenProvider({ scope: scopeFor("postgresql", "localhost") }).stats;
  console.info(
    `expiry churn: ${connections} connections over ${lifetimes} token lifetimes, ` +
      `${counters.tokenRequests} token requests, ${stats.refreshes} background refreshes, ` +
      `${counters.loginsRejected} rejected logins`,
  );
  expect(errors).toEqual([]);
  expect(counters.loginsRejected).toBe(0);
  expect(counters.loginsAccepted).toBe(connections);
  expect(connections).toBeGreaterThan(lifetimes * 10);
  // About one token request per lifetime (refreshing at half-life can double it), never one per connection.
  expect(counters.tokenRequests).toBeGreaterThanOrEqual(lifetimes - 1);
  expect(counters.tokenRequests).toBeLessThanOrEqual(lifetimes * 2 + 2);
});
