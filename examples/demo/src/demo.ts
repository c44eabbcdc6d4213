/**
 * The demo: an emulated Azure (managed-identity endpoint + token-validating PostgreSQL gateway in
 * front of an embedded PGlite database) and a small app whose pg pool authenticates with short-lived
 * Entra tokens through `@org/pg-entra`, opening new connections across several token lifetimes.
 *
 * Run it with `npx -y pnpm@12.4.2 demo` from the repository root. Environment knobs:
 * DEMO_SECONDS (default 20), DEMO_TOKEN_LIFETIME_SECONDS (default 5), ENTRA_EMULATOR_POSTGRES_URL
 * (a real PostgreSQL instead of PGlite).
 */

import { getSharedTokenProvider, scopeFor } from "@org/entra-core";
import { startEmulator } from "@org/entra-emulator";
import { withEntra } from "@org/pg-entra";
import pg from "pg";

const seconds = Number(process.env.DEMO_SECONDS ?? 20);
const tokenLifetimeInSeconds = Number(process.env.DEMO_TOKEN_LIFETIME_SECONDS ?? 5);
const backend = process.env.ENTRA_EMULATOR_POSTGRES_URL ?? "pglite";

const emulator = await startEmulator({
  tokenLifetimeInSeconds,
  clockSkewInSeconds: 0,
  postgres: { backend },
});
// What App Service would set: the managed-identity endpoint and the Service Connector variables.
Object.assign(process.env, emulator.env);

console.log(
  `Emulated Azure is up (backend: ${backend === "pglite" ? "embedded PGlite" : "PostgreSQL URL"}).`,
);
console.log(`  managed identity endpoint  ${emulator.identityEndpoint}`);
console.log(`  PostgreSQL gateway (TLS)   ${emulator.postgres?.host}:${emulator.postgres?.port}`);
console.log(`  managed identity           ${emulator.identities[0]?.name} (the database role it logs in as)`);
console.log(`  tokens live                ${tokenLifetimeInSeconds} s (real ones: 1-24 h)\n`);
console.log("The app's only change from a password: new pg.Pool(withEntra({ ssl: { ca } }))\n");

const pool = new pg.Pool(withEntra({ ssl: { ca: emulator.ca }, max: 4 }));
const provider = getSharedTokenProvider({ scope: scopeFor("postgresql", emulator.postgres?.host) });

let connections = 0;
let failures = 0;
const started = Date.now();
const deadline = started + seconds * 1000;

const worker = async () => {
  while (Date.now() < deadline) {
    try {
      const client = await pool.connect();
      try {
        await client.query("select 1");
      } finally {
        client.release(true); // close it: the next checkout is a brand-new physical connection
      }
      connections++;
    } catch (error) {
      failures++;
      console.error(`  connection failed: ${(error as Error).message}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
};

const ticker = setInterval(() => {
  const { counters } = emulator;
  const elapsed = ((Date.now() - started) / 1000).toFixed(0).padStart(3);
  const lifetimes = Math.floor((Date.now() - started) / 1000 / tokenLifetimeInSeconds);
  console.log(
    `t=${elapsed}s  token lifetimes passed ${String(lifetimes).padStart(2)} | tokens issued ${String(counters.tokenRequests).padStart(3)}` +
      ` | new connections ${String(connections).padStart(5)} | auth failures ${failures}`,
  );
}, 1000);

await Promise.all(Array.from({ length: 4 }, worker));
clearInterval(ticker);
await pool.end();

const { counters } = emulator;
const stats = provider.stats;
console.log("\nSummary");
console.log(`  new physical connections       ${connections}`);
console.log(`  authentication failures         ${failures} (gateway rejected ${counters.loginsRejected})`);
console.log(
  `  token requests (ours)           ${counters.tokenRequests} (${stats.refreshes} in the background)`,
);
console.log(`  token requests (naive, 1/conn)  ${connections}`);
console.log(
  `  a token fetched once at start-up would have failed every connection after ${tokenLifetimeInSeconds} s`,
);
await emulator.close();
process.exitCode = failures === 0 && connections > 0 ? 0 : 1;
