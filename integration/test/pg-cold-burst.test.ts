import { resetSharedTokenProviders } from "@org/entra-core";
import { withEntra } from "@org/pg-entra";
import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type Harness, startHarness } from "../src/start-harness.js";

const BURST = 200;

let harness: Harness;

beforeAll(async () => {
  harness = await startHarness({ tokenLifetimeInSeconds: 3600 });
});

afterAll(async () => {
  resetSharedTokenProviders();
  await harness?.close();
});

it(`3. ${BURST} concurrent new connections at a cold start cause exactly one token request`, async () => {
  const config = withEntra(harness.pgConfig({ connectionTimeoutMillis: 30_000 }));
  const clients = Array.from({ length: BURST }, () => new pg.Client(config));
  try {
    const results = await Promise.allSettled(
      clients.map(async (client) => {
        await client.connect();
        return (await client.query<{ one: number }>("select 1 as one")).rows[0]?.one;
      }),
    );
    const failures = results.filter((r) => r.status === "rejected");
    expect(failures).toEqual([]);
    expect(results.every((r) => r.status === "fulfilled" && r.value === 1)).toBe(true);
  } finally {
    await Promise.all(clients.map((client) => client.end().catch(() => {})));
  }
  console.info(
    `cold burst: ${BURST} connections, ${harness.emulator.counters.tokenRequests} token request(s)`,
  );
  expect(harness.emulator.counters.tokenRequests).toBe(1);
  expect(harness.emulator.counters.loginsAccepted).toBe(BURST);
});
