import pg from "pg";
import { APPROACH_LABELS, type Approach, type CredentialKind, pgConfigFor } from "./approaches.js";
import { runWorker } from "./child.js";
import { type BenchContext, type BenchOutcome, readCounters, resetCounters, workerEnv } from "./context.js";
import {
  formatInterval,
  geometricMeanRatio,
  type Interval,
  ratioOfMeans,
  relativeHalfWidth,
  round,
  roundInterval,
  summarize,
  variance,
} from "./stats.js";

/** Worker task of benchmark 1: `pairs` x (one approach connection + one static-token connection). */
export interface ConnectionCostTask {
  readonly kind: "connection-cost";
  readonly approach: Approach;
  readonly credential: CredentialKind;
  /** Pairs before measuring (cold token, JIT, TLS session setup). */
  readonly warmup: number;
  readonly pairs: number;
}

/** What a connection-cost worker reports, in milliseconds per connection. */
export interface ConnectionCostSample {
  readonly approach: number[];
  /** The static-token baseline through the gateway; `paired[i]` ran right before or after `approach[i]`. */
  readonly paired: number[];
}

/**
 * Worker side: one connection at a time, timed from `new Client` to `end()` resolved. Each
 * approach connection is paired with a static-token connection through the gateway (order
 * alternating within the worker), so every pair is measured under the same machine load and the
 * ratio is a paired comparison.
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
  for (let i = 0; i < task.pairs; i++) {
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
  /**
   * `sequential`: sampled until the interval is narrow enough (the rows whose effect is a few %);
   * `fixed`: smallWorkers x smallPairs pairs (the direct floor and the 4 min naive row: large effects);
   * `spawner`: one worker of spawnerPairs pairs (the `az` spawners, 6-8x).
   */
  readonly sampling: "sequential" | "fixed" | "spawner";
}

const LONG = 3600;
/** Under MSAL's 5 min renewal offset: MSAL cannot cache these, every credential call hits the endpoint. */
const SHORT = 240;

const COMBINATIONS: readonly Combination[] = [
  { approach: "direct", credential: "mi", tokenLifetimeInSeconds: LONG, sampling: "fixed" },
  { approach: "staticFn", credential: "mi", tokenLifetimeInSeconds: LONG, sampling: "sequential" },
  { approach: "ours", credential: "mi", tokenLifetimeInSeconds: LONG, sampling: "sequential" },
  { approach: "naive", credential: "mi", tokenLifetimeInSeconds: LONG, sampling: "sequential" },
  { approach: "ms", credential: "mi", tokenLifetimeInSeconds: LONG, sampling: "sequential" },
  { approach: "ours", credential: "mi", tokenLifetimeInSeconds: SHORT, sampling: "sequential" },
  { approach: "naive", credential: "mi", tokenLifetimeInSeconds: SHORT, sampling: "fixed" },
  { approach: "ours", credential: "az", tokenLifetimeInSeconds: LONG, sampling: "sequential" },
  { approach: "naive", credential: "az", tokenLifetimeInSeconds: LONG, sampling: "spawner" },
  { approach: "ms", credential: "az", tokenLifetimeInSeconds: LONG, sampling: "spawner" },
];

/** How the sequential design samples. */
interface Plan {
  /** Stop a row once the geometric-mean ratio's 95 % interval is within ± this (0.015 = ±1.5 %). */
  readonly targetHalfWidth: number;
  readonly firstRoundPairs: number;
  readonly minRoundPairs: number;
  readonly maxRoundPairs: number;
  /** At least this many worker processes per sequential row (process-to-process variation). */
  readonly minRounds: number;
  /** Pairs per sequential row at most. */
  readonly capPairs: number;
  /** Pairs of the `spawner` rows, in one worker. */
  readonly spawnerPairs: number;
  /** Workers and pairs per worker of the `fixed` rows. */
  readonly smallWorkers: number;
  readonly smallPairs: number;
  readonly warmup: number;
  /** Stop starting new rounds after this long (the rows still open are reported as capped). */
  readonly budgetMs: number;
}

function planFor(context: BenchContext): Plan {
  const budget = Number(process.env.BENCH_CONNECTION_BUDGET_S ?? Number.NaN);
  return context.quick
    ? {
        targetHalfWidth: 0.015,
        firstRoundPairs: 60,
        minRoundPairs: 60,
        maxRoundPairs: 60,
        minRounds: 1,
        capPairs: 60,
        spawnerPairs: 10,
        smallWorkers: 1,
        smallPairs: 60,
        warmup: 3,
        budgetMs: (Number.isFinite(budget) ? budget : 60) * 1000,
      }
    : {
        targetHalfWidth: 0.015,
        firstRoundPairs: 300,
        minRoundPairs: 200,
        maxRoundPairs: 1500,
        minRounds: 2,
        capPairs: 3000,
        spawnerPairs: 100,
        smallWorkers: 2,
        smallPairs: 400,
        warmup: 20,
        budgetMs: (Number.isFinite(budget) ? budget : 360) * 1000,
      };
}

interface RowState {
  readonly combination: Combination;
  readonly approach: number[];
  readonly paired: number[];
  rounds: number;
  tokenRequests: number;
  azSpawns: number;
  /** Approach connections made, warm-up included (the denominator of the per-connection counters). */
  connections: number;
  done: boolean;
  /** Reached capPairs with the interval still wider than the target. */
  capped: boolean;
  /** Stopped by the time budget with the interval still wider than the target. */
  budgetHit: boolean;
}

/**
 * Pairs the next round of `row` should add: enough to reach the target from the current
 * interval (n * (halfWidth / target)^2, +10 %), within the round and cap limits.
 */
function nextRoundPairs(row: RowState, plan: Plan): number {
  const n = row.approach.length;
  if (row.combination.sampling === "spawner") return plan.spawnerPairs;
  if (row.combination.sampling === "fixed") return plan.smallPairs;
  if (n === 0) return plan.firstRoundPairs;
  const halfWidth = relativeHalfWidth(geometricMeanRatio(row.approach, row.paired));
  const needed = Number.isFinite(halfWidth)
    ? Math.ceil(n * (halfWidth / plan.targetHalfWidth) ** 2 * 1.1) - n
    : plan.minRoundPairs;
  return Math.min(plan.capPairs - n, plan.maxRoundPairs, Math.max(plan.minRoundPairs, needed));
}

/**
 * Benchmark 1: cost per new physical connection through the emulator's PostgreSQL gateway, per
 * approach and credential, each worker in its own process, every connection paired with a static
 * token connection. Sequential design: rounds of workers (row order rotated every round); after
 * each round a row whose geometric-mean-ratio interval is within ±targetHalfWidth (and that has
 * run at least minRounds workers) stops, the others get a worker sized to reach the target, until
 * capPairs or the time budget.
 */
export async function benchConnectionCost(context: BenchContext): Promise<BenchOutcome> {
  const plan = planFor(context);
  const selected = process.env.BENCH_CONNECTION_ROWS?.split(",").map((key) => key.trim());
  const combinations = selected
    ? COMBINATIONS.filter((c) => selected.includes(rowKey(c)))
    : COMBINATIONS.filter((c) => c.approach !== "staticFn" || process.env.BENCH_STATIC_FN === "1");
  const rows: RowState[] = combinations.map((combination) => ({
    combination,
    approach: [],
    paired: [],
    rounds: 0,
    tokenRequests: 0,
    azSpawns: 0,
    connections: 0,
    done: false,
    capped: false,
    budgetHit: false,
  }));
  const began = performance.now();
  for (let round = 0; rows.some((row) => !row.done); round++) {
    const open = rows.filter((row) => !row.done);
    const order = open.map((_, i) => open[(i + round * 3) % open.length] as RowState);
    for (const row of order) {
      const { combination } = row;
      if (
        combination.sampling === "sequential" &&
        row.rounds > 0 &&
        performance.now() - began > plan.budgetMs
      ) {
        row.done = true;
        row.budgetHit =
          relativeHalfWidth(geometricMeanRatio(row.approach, row.paired)) >= plan.targetHalfWidth;
        continue;
      }
      const pairs = nextRoundPairs(row, plan);
      context.emulator.tokenLifetimeInSeconds = combination.tokenLifetimeInSeconds;
      await resetCounters(context);
      const task: ConnectionCostTask = {
        kind: "connection-cost",
        approach: combination.approach,
        credential: combination.credential,
        warmup: plan.warmup,
        pairs,
      };
      const result = await runWorker<ConnectionCostSample>(task, workerEnv(context), {
        timeoutInMs: 300_000,
      });
      row.approach.push(...result.approach);
      row.paired.push(...result.paired);
      row.rounds += 1;
      const seen = await readCounters(context);
      row.tokenRequests += seen.tokenRequests;
      row.azSpawns += seen.azSpawns;
      row.connections += plan.warmup + pairs; // static connections request no token
      const n = row.approach.length;
      if (combination.sampling === "spawner") row.done = true;
      else if (combination.sampling === "fixed") row.done = row.rounds >= plan.smallWorkers;
      else if (n >= plan.capPairs) {
        row.done = true;
        row.capped = relativeHalfWidth(geometricMeanRatio(row.approach, row.paired)) >= plan.targetHalfWidth;
      } else if (
        row.rounds >= plan.minRounds &&
        relativeHalfWidth(geometricMeanRatio(row.approach, row.paired)) < plan.targetHalfWidth
      ) {
        row.done = true;
      }
    }
  }
  context.emulator.tokenLifetimeInSeconds = LONG;

  const staticSummary = summarize(rows.flatMap((row) => row.paired));
  const staticRow = {
    benchmark: "connection-cost",
    approach: "static" as Approach,
    credential: "none",
    tokenLifetimeInSeconds: 3600,
    connections: staticSummary.count,
    workers: rows.reduce((total, row) => total + row.rounds, 0),
    warmupPerWorker: plan.warmup,
    meanMs: round(staticSummary.meanMs),
    p50Ms: round(staticSummary.p50Ms),
    p99Ms: round(staticSummary.p99Ms),
    geometricMeanRatio: { estimate: 1, low: 1, high: 1 } as Interval,
    ratioOfMeans: { estimate: 1, low: 1, high: 1 } as Interval,
    halfWidth: 0,
    capped: false,
    budgetHit: false,
    sampling: "baseline",
    tokenRequestsPerConnection: 0,
    azSpawnsPerConnection: 0,
  };
  const results = [
    staticRow,
    ...rows.map((row) => {
      const { combination } = row;
      const summary = summarize(row.approach);
      const gmr = geometricMeanRatio(row.approach, row.paired);
      const rom = ratioOfMeans(row.approach, row.paired);
      return {
        benchmark: "connection-cost",
        approach: combination.approach,
        credential: combination.approach === "direct" ? "none" : (combination.credential as string),
        tokenLifetimeInSeconds: combination.tokenLifetimeInSeconds,
        connections: summary.count,
        workers: row.rounds,
        warmupPerWorker: plan.warmup,
        meanMs: round(summary.meanMs),
        p50Ms: round(summary.p50Ms),
        p99Ms: round(summary.p99Ms),
        geometricMeanRatio: roundInterval(gmr),
        ratioOfMeans: roundInterval(rom),
        halfWidth: round(relativeHalfWidth(gmr), 4),
        sdLogRatioPerPair: round(
          Math.sqrt(variance(row.approach.map((a, i) => Math.log(a / (row.paired[i] as number))))),
          4,
        ),
        capped: row.capped,
        budgetHit: row.budgetHit,
        sampling: combination.sampling as string,
        tokenRequestsPerConnection: round(row.tokenRequests / Math.max(1, row.connections), 4),
        azSpawnsPerConnection: round(row.azSpawns / Math.max(1, row.connections), 4),
      };
    }),
  ];
  const seconds = ((performance.now() - began) / 1000).toFixed(0);
  return {
    results,
    table: {
      title: `1. Cost per new connection (connect + SELECT 1 + close, sequential, paired with a static-token connection through the gateway; ${seconds} s)`,
      columns: [
        "approach",
        "credential",
        "token life",
        "pairs (workers)",
        "mean ms",
        "p50 ms",
        "p99 ms",
        "x static, geo mean [95% CI]",
        "x static, mean [95% CI]",
        "token req/conn",
        "az spawns/conn",
      ],
      rows: results.map((r) => [
        APPROACH_LABELS[r.approach],
        r.credential,
        r.approach === "static"
          ? "1 h (minted once)"
          : r.approach === "direct"
            ? "(no token)"
            : lifetimeLabel(r.tokenLifetimeInSeconds),
        r.approach === "static" ? `${r.connections} (all)` : `${r.connections} (${r.workers})`,
        r.meanMs.toFixed(2),
        r.p50Ms.toFixed(2),
        r.p99Ms.toFixed(2),
        r.approach === "static"
          ? "1 (baseline)"
          : `${formatInterval(r.geometricMeanRatio)}${r.capped ? " (cap hit)" : r.budgetHit ? " (time budget hit)" : ""}`,
        r.approach === "static" ? "1 (baseline)" : formatInterval(r.ratioOfMeans),
        r.tokenRequestsPerConnection.toFixed(3),
        r.azSpawnsPerConnection.toFixed(3),
      ]),
      notes: [
        "x static = paired ratio to the static-token connection made right before or after it (same worker, same machine load). geo mean = exp(mean(ln(approach/static))) per pair; mean = mean(approach)/mean(static). 95% CIs: t intervals over batches of 20 consecutive pairs (delta method for the ratio of means).",
        `Sequential design: a row is sampled in workers of ${plan.firstRoundPairs}-${plan.maxRoundPairs} pairs until its geo-mean CI is within ±${(plan.targetHalfWidth * 100).toFixed(1)}% (at least ${plan.minRounds} workers) or it reaches ${plan.capPairs} pairs ("cap hit" when the CI was still wider) or the ${plan.budgetMs / 1000} s budget runs out ("time budget hit"); the direct floor and the 4 min naive row (large effects) get ${plan.smallWorkers} x ${plan.smallPairs} pairs, the az spawner rows ${plan.spawnerPairs} pairs in one worker.`,
        "The static row pools every paired static connection. static password, direct = the backend's own login straight to 127.0.0.1:5432 over plain TCP (trust auth, no TLS, no gateway): a floor, not something Azure offers.",
        "credential mi = DefaultAzureCredential -> managed identity (emulator App Service endpoint); az = AzureCliCredential -> fake `az` (a Node script) on PATH. MSAL caches managed-identity tokens only when they live > 5 min; with 4 min tokens every naive connection goes to the endpoint.",
      ],
    },
  };
}

/** `ours/mi/3600`: how BENCH_CONNECTION_ROWS names a row. */
function rowKey(c: Combination): string {
  return `${c.approach}/${c.credential}/${c.tokenLifetimeInSeconds}`;
}

function lifetimeLabel(seconds: number): string {
  return seconds % 3600 === 0 ? `${seconds / 3600} h` : `${seconds / 60} min`;
}
