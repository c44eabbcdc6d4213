import pg from "pg";
import { APPROACH_LABELS, type Approach, type CredentialKind, pgConfigFor } from "./approaches.js";
import { runWorker } from "./child.js";
import { type BenchContext, type BenchOutcome, readCounters, resetCounters, workerEnv } from "./context.js";
import { round, summarize } from "./stats.js";

/** Worker task of benchmark 1: `iterations` sequential connect + `SELECT 1` + close. */
export interface ConnectionCostTask {
  readonly kind: "connection-cost";
  readonly approach: Approach;
  readonly credential: CredentialKind;
  readonly warmup: number;
  readonly iterations: number;
}

/** What a connection-cost worker reports, in milliseconds per connection. */
export interface ConnectionCostSample {
  readonly approach: number[];
  /** The static-token baseline, interleaved with the approach in the same process (paired). */
  readonly paired: number[];
}

/**
 * Worker side: one connection at a time, timed from `new Client` to `end()` resolved. Each
 * iteration also opens one static-token connection (order alternating), so every process carries
 * its own baseline measured under the same machine load: the ratio is a paired comparison.
 */
export async function measureConnectionCost(task: ConnectionCostTask): Promise<ConnectionCostSample> {
  const config = pgConfigFor(task.approach, task.credential);
  const baseline = pgConfigFor("static", task.credential);
  const once = async (clientConfig: pg.ClientConfig) => {
    const start = performance.now();
    const client = new pg.Client(clientConfig);
    await client.connect();
    try {
      await client.query("select 1");
    } finally {
      await client.end();
    }
    return performance.now() - start;
  };
  for (let i = 0; i < task.warmup; i++) {
    await once(config);
    await once(baseline);
  }
  const sample: ConnectionCostSample = { approach: [], paired: [] };
  for (let i = 0; i < task.iterations; i++) {
    if (i % 2 === 0) {
      sample.approach.push(await once(config));
      sample.paired.push(await once(baseline));
    } else {
      sample.paired.push(await once(baseline));
      sample.approach.push(await once(config));
    }
  }
  return sample;
}

interface Combination {
  readonly approach: Approach;
  readonly credential: CredentialKind;
  /** Lifetime of the emulator's identity-endpoint tokens for this run. */
  readonly tokenLifetimeInSeconds: number;
}

const LONG = 3600;
/** Under MSAL's 5 min renewal offset: MSAL cannot cache these, every credential call hits the endpoint. */
const SHORT = 240;

const COMBINATIONS: readonly Combination[] = [
  { approach: "ours", credential: "mi", tokenLifetimeInSeconds: LONG },
  { approach: "naive", credential: "mi", tokenLifetimeInSeconds: LONG },
  { approach: "ms", credential: "mi", tokenLifetimeInSeconds: LONG },
  { approach: "ours", credential: "mi", tokenLifetimeInSeconds: SHORT },
  { approach: "naive", credential: "mi", tokenLifetimeInSeconds: SHORT },
  { approach: "ours", credential: "az", tokenLifetimeInSeconds: LONG },
  { approach: "naive", credential: "az", tokenLifetimeInSeconds: LONG },
  { approach: "ms", credential: "az", tokenLifetimeInSeconds: LONG },
];

/**
 * Benchmark 1: cost per new physical connection through the emulator's PostgreSQL gateway, per
 * approach and credential, each in its own process. Runs in rounds (combination order rotated each
 * round) so that machine noise spreads over all combinations; samples of all rounds are pooled.
 */
export async function benchConnectionCost(context: BenchContext): Promise<BenchOutcome> {
  const total = context.quick ? 30 : 300;
  const rounds = context.quick ? 1 : 3;
  const warmup = context.quick ? 3 : 20;
  const iterations = Math.ceil(total / rounds);
  // Spawning `az` per connection costs ~100x more; fewer samples are plenty there.
  const iterationsFor = (c: Combination) =>
    c.credential === "az" && c.approach !== "ours" ? Math.ceil(iterations / 3) : iterations;
  const samples = new Map<Combination, ConnectionCostSample>(
    COMBINATIONS.map((c) => [c, { approach: [], paired: [] }]),
  );
  const counters = new Map(COMBINATIONS.map((c) => [c, { tokenRequests: 0, azSpawns: 0, connections: 0 }]));

  for (let round = 0; round < rounds; round++) {
    const order = COMBINATIONS.map(
      (_, i) => COMBINATIONS[(i + round * 3) % COMBINATIONS.length] as Combination,
    );
    for (const combination of order) {
      context.emulator.tokenLifetimeInSeconds = combination.tokenLifetimeInSeconds;
      await resetCounters(context);
      const task: ConnectionCostTask = {
        kind: "connection-cost",
        approach: combination.approach,
        credential: combination.credential,
        warmup,
        iterations: iterationsFor(combination),
      };
      const result = await runWorker<ConnectionCostSample>(task, workerEnv(context));
      samples.get(combination)?.approach.push(...result.approach);
      samples.get(combination)?.paired.push(...result.paired);
      const seen = await readCounters(context);
      const sum = counters.get(combination);
      if (sum) {
        sum.tokenRequests += seen.tokenRequests;
        sum.azSpawns += seen.azSpawns;
        sum.connections += warmup + iterationsFor(combination); // static connections request no token
      }
    }
  }
  context.emulator.tokenLifetimeInSeconds = LONG;

  const all = [...samples.values()];
  const staticSummary = summarize(all.flatMap((sample) => sample.paired));
  const staticRow = {
    benchmark: "connection-cost",
    approach: "static" as Approach,
    credential: "none",
    tokenLifetimeInSeconds: 3600,
    connections: staticSummary.count,
    rounds,
    warmupPerRound: warmup,
    meanMs: round(staticSummary.meanMs),
    p50Ms: round(staticSummary.p50Ms),
    p99Ms: round(staticSummary.p99Ms),
    ratioToStaticMean: 1,
    ratioToStaticP50: 1,
    tokenRequestsPerConnection: 0,
    azSpawnsPerConnection: 0,
  };
  const results = [
    staticRow,
    ...COMBINATIONS.map((combination) => {
      const sample = samples.get(combination) ?? { approach: [], paired: [] };
      const summary = summarize(sample.approach);
      const paired = summarize(sample.paired);
      const seen = counters.get(combination) ?? { tokenRequests: 0, azSpawns: 0, connections: 1 };
      return {
        benchmark: "connection-cost",
        approach: combination.approach,
        credential: combination.credential as string,
        tokenLifetimeInSeconds: combination.tokenLifetimeInSeconds,
        connections: summary.count,
        rounds,
        warmupPerRound: warmup,
        meanMs: round(summary.meanMs),
        p50Ms: round(summary.p50Ms),
        p99Ms: round(summary.p99Ms),
        ratioToStaticMean: round(summary.meanMs / paired.meanMs),
        ratioToStaticP50: round(summary.p50Ms / paired.p50Ms),
        tokenRequestsPerConnection: round(seen.tokenRequests / seen.connections, 4),
        azSpawnsPerConnection: round(seen.azSpawns / seen.connections, 4),
      };
    }),
  ];
  return {
    results,
    table: {
      title: `1. Cost per new connection (connect + SELECT 1 + close, ${rounds} rounds x ${iterations} sequential after ${warmup} warm-up, via the TLS gateway)`,
      columns: [
        "approach",
        "credential",
        "token life",
        "mean ms",
        "p50 ms",
        "p99 ms",
        "x static mean",
        "x static p50",
        "token req/conn",
        "az spawns/conn",
      ],
      rows: results.map((r) => [
        APPROACH_LABELS[r.approach],
        r.credential,
        r.approach === "static" ? "1 h (minted once)" : lifetimeLabel(r.tokenLifetimeInSeconds),
        r.meanMs.toFixed(2),
        r.p50Ms.toFixed(2),
        r.p99Ms.toFixed(2),
        r.ratioToStaticMean.toFixed(3),
        r.ratioToStaticP50.toFixed(3),
        r.tokenRequestsPerConnection.toFixed(3),
        r.azSpawnsPerConnection.toFixed(3),
      ]),
      notes: [
        "x static = paired ratio: every worker interleaves its connections with static-token connections (the static row pools those), so both see the same machine load.",
        "credential mi = DefaultAzureCredential -> managed identity (emulator App Service endpoint); az = AzureCliCredential -> fake `az` (a Node script) on PATH.",
        "MSAL caches managed-identity tokens only when they live > 5 min; with 4 min tokens every naive connection goes to the endpoint.",
      ],
    },
  };
}

function lifetimeLabel(seconds: number): string {
  return seconds % 3600 === 0 ? `${seconds / 3600} h` : `${seconds / 60} min`;
}
