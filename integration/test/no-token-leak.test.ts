import { inspect } from "node:util";
import { AzureLogger, setLogLevel } from "@azure/logger";
import { getSharedTokenProvider, resetSharedTokenProviders, scopeFor } from "@org/entra-core";
import { withEntra } from "@org/pg-entra";
import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type Harness, startHarness } from "../src/start-harness.js";

let harness: Harness;
const captured: string[] = [];
const originalLog = AzureLogger.log;
const originalStderrWrite = process.stderr.write.bind(process.stderr);
const originalStdoutWrite = process.stdout.write.bind(process.stdout);

beforeAll(async () => {
  process.env.AZURE_LOG_LEVEL = "verbose";
  setLogLevel("verbose");
  AzureLogger.log = (...args: unknown[]) => {
    captured.push(args.map((a) => (typeof a === "string" ? a : inspect(a, { depth: 6 }))).join(" "));
  };
  const capture = (chunk: unknown) => {
    captured.push(String(chunk));
    return true;
  };
  process.stderr.write = capture as typeof process.stderr.write;
  process.stdout.write = capture as typeof process.stdout.write;
  harness = await startHarness({ tokenLifetimeInSeconds: 3600 });
});

afterAll(async () => {
  AzureLogger.log = originalLog;
  process.stderr.write = originalStderrWrite;
  process.stdout.write = originalStdoutWrite;
  setLogLevel("warning");
  resetSharedTokenProviders();
  await harness?.close();
});

it("7. the real token appears in no verbose log line, error, or inspected config/pool/provider", async () => {
  const config = withEntra(harness.pgConfig({ max: 2 }));
  const pool = new pg.Pool(config);
  const provider = getSharedTokenProvider({ scope: scopeFor("postgresql", "localhost") });
  const surfaces: string[] = [];
  try {
    await pool.query("select 1");
    const { token: canary } = await provider.getToken();
    expect(canary.length).toBeGreaterThan(100);

    // Failure paths with the same (canary) token: the gateway rejects the next logins.
    for (const reason of ["expired", "invalid", "principal"] as const) {
      harness.emulator.faults.postgres.rejectNextLogins(1, reason);
      const client = new pg.Client(config);
      const error = await client.connect().then(
        () => new Error("unexpectedly succeeded"),
        (e: Error) => e,
      );
      await client.end().catch(() => {});
      surfaces.push(inspect(client, { depth: 8 }));
      surfaces.push(error.message, String(error.stack), inspect(error, { depth: 8, showHidden: true }));
      surfaces.push(JSON.stringify(error, Object.getOwnPropertyNames(error)));
    }
    // The expired/invalid rejections made the provider drop the canary; its replacement is the new canary too.
    const { token: current } = await provider.getToken();
    surfaces.push(
      inspect(config, { depth: 8 }),
      inspect(pool, { depth: 8 }),
      inspect(provider, { depth: 8, showHidden: true }),
      JSON.stringify(provider.stats),
    );
    const output = [...captured, ...surfaces].join("\n");
    expect(captured.length).toBeGreaterThan(0); // verbose logging really was on and captured
    for (const secret of [canary, current]) {
      expect(output.includes(secret)).toBe(false);
      // Not even a recognisable piece of the signature.
      expect(output.includes(secret.slice(-40))).toBe(false);
    }
  } finally {
    await pool.end();
  }
});
