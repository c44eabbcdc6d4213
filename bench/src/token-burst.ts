import pg from "pg";
import { APPROACH_LABELS, type Approach, type CredentialKind, pgConfigFor } from "./approaches.js";
import { runWorker } from "./child.js";
import { type BenchContext, type BenchOutcome, readCounters, resetCounters, workerEnv } from "./context.js";
import {
  formatSpread,
  type LatencySummary,
  round,
  Semaphore,
  type Spread,
  spread,
  summarize,
} from "./stats.js";

/** Worker task of benchmark 2: `connections` concurrent new connections in a cold process. */
export interface TokenBurstTask {
  readonly kind: "token-burst";
  readonly approach: Approach;
  readonly credential: CredentialKind;
  readonly connections: number;
  /** Backend sessions allowed at once (PostgreSQL's max_connections is 300 here). */
  readonly maxSessions: number;
}

/** What a burst worker reports. */
export interface TokenBurstSample {
  readonly wallMs: number;
  readonly failures: number;
  readonly firstError?: string;
  /** From the burst start (all `connect()` calls) to each password hook holding its token. */
  readonly passwordReady: LatencySummary;
}

type PasswordHook = (this: unknown) => Promise<string>;

/**
 * Worker side: starts `connections` clients at once. Every client's password hook runs (the
 * approach's own `getToken` path) as soon as the gateway asks for the password, so up to
 * `connections` callers want a token at the same time. Only after a hook has its token does it
 * take one of `maxSessions` slots, released when that client has run `SELECT 1` and closed: this
 * caps the backend sessions the gateway opens, identically for every approach, without limiting
 * the concurrency of the token requests being measured.
 */
export async function measureTokenBurst(task: TokenBurstTask): Promise<TokenBurstSample> {
  const config = pgConfigFor(task.approach, task.credential);
  const inner = config.password;
  const slots = new Semaphore(task.maxSessions);
  const holding = new WeakSet<object>();
  const readyAt: number[] = [];
  let start = 0;
  const password: PasswordHook = async function (this: unknown) {
    const token = typeof inner === "function" ? await (inner as PasswordHook).call(this) : (inner ?? "");
    readyAt.push(performance.now() - start);
    await slots.acquire();
    holding.add(this as object);
    return token;
  };
  const gated: pg.ClientConfig = { ...config, password, connectionTimeoutMillis: 120_000 };

  let failures = 0;
  let firstError: string | undefined;
  const connectOnce = async () => {
    const client = new pg.Client(gated);
    try {
      await client.connect();
      await client.query("select 1");
    } catch (error) {
      failures += 1;
      firstError ??= error instanceof Error ? error.message : String(error);
    } finally {
      await client.end().catch(() => {});
      if (holding.delete(client)) slots.release();
    }
  };
  start = performance.now();
  await Promise.all(Array.from({ length: task.connections }, connectOnce));
  const wallMs = performance.now() - start;
  return { wallMs, failures, ...(firstError ? { firstError } : {}), passwordReady: summarize(readyAt) };
}

interface Combination {
  readonly approach: Approach;
  readonly credential: CredentialKind;
}

const COMBINATIONS: readonly Combination[] = [
  { approach: "static", credential: "mi" },
  { approach: "ours", credential: "mi" },
  { approach: "naive", credential: "mi" },
  { approach: "ms", credential: "mi" },
  { approach: "ours", credential: "az" },
  { approach: "naive", credential: "az" },
  { approach: "ms", credential: "az" },
];

interface Repeat {
  readonly sample: TokenBurstSample;
  readonly tokenRequests: number;
  readonly azSpawns: number;
}

/**
 * Benchmark 2: token requests caused by a cold burst of concurrent new connections, counted at the
 * emulator's identity endpoint and as fake-az spawns. One fresh process per run, 1 h tokens. Every
 * combination runs `repeats` times (round-robin: repeat 1 of every combination, then repeat 2, ...),
 * and the table gives the median and the min-max of the timings over the repeats.
 */
export async function benchTokenBurst(context: BenchContext): Promise<BenchOutcome> {
  const connections = context.quick ? 100 : 500;
  const azConnections = Number(process.env.BENCH_AZ_BURST ?? (context.quick ? 30 : 100));
  const maxSessions = context.quick ? 100 : 250;
  const miRepeats = Number(process.env.BENCH_BURST_REPEATS ?? (context.quick ? 2 : 5));
  const azRepeats = Number(process.env.BENCH_AZ_BURST_REPEATS ?? (context.quick ? 1 : 2));
  const repeatsOf = (c: Combination) => (c.credential === "az" ? azRepeats : miRepeats);
  context.emulator.tokenLifetimeInSeconds = 3600;
  const repeats = new Map<Combination, Repeat[]>(COMBINATIONS.map((c) => [c, []]));
  for (let repeat = 0; repeat < Math.max(miRepeats, azRepeats); repeat++) {
    for (const combination of COMBINATIONS) {
      if (repeat >= repeatsOf(combination)) continue;
      const size = combination.credential === "az" ? azConnections : connections;
      await resetCounters(context);
      const task: TokenBurstTask = { kind: "token-burst", ...combination, connections: size, maxSessions };
      const sample = await runWorker<TokenBurstSample>(task, workerEnv(context));
      const seen = await readCounters(context);
      repeats.get(combination)?.push({ sample, ...seen });
    }
  }
  const results = COMBINATIONS.map((combination) => {
    const runs = repeats.get(combination) ?? [];
    const firstError = runs.find((run) => run.sample.firstError)?.sample.firstError;
    return {
      benchmark: "token-burst",
      approach: combination.approach,
      credential: combination.approach === "static" ? "none" : combination.credential,
      connections: combination.credential === "az" ? azConnections : connections,
      maxBackendSessions: maxSessions,
      repeats: runs.length,
      tokenRequests: spread(runs.map((run) => run.tokenRequests)),
      azSpawns: spread(runs.map((run) => run.azSpawns)),
      failures: runs.reduce((total, run) => total + run.sample.failures, 0),
      ...(firstError ? { firstError } : {}),
      wallMs: roundSpread(spread(runs.map((run) => run.sample.wallMs))),
      passwordReadyP50Ms: roundSpread(spread(runs.map((run) => run.sample.passwordReady.p50Ms))),
      passwordReadyP99Ms: roundSpread(spread(runs.map((run) => run.sample.passwordReady.p99Ms))),
    };
  });
  return {
    results,
    table: {
      title: `2. Cold burst: N concurrent new connections in a fresh process (backend sessions capped at ${maxSessions}); timings: median (min-max) over the repeats`,
      columns: [
        "approach",
        "credential",
        "N",
        "repeats",
        "token requests",
        "az spawns",
        "failures",
        "burst ms",
        "password ready p50 ms",
        "password ready p99 ms",
      ],
      rows: results.map((r) => [
        APPROACH_LABELS[r.approach],
        r.credential,
        String(r.connections),
        String(r.repeats),
        formatSpread(r.tokenRequests),
        formatSpread(r.azSpawns),
        String(r.failures),
        formatSpread(r.wallMs),
        formatSpread(r.passwordReadyP50Ms),
        formatSpread(r.passwordReadyP99Ms),
      ]),
      notes: [
        "All N password hooks run concurrently; a hook takes one of the backend-session slots only after it has its token (PostgreSQL max_connections = 300 here).",
        "token requests = requests at the emulator's identity endpoint (the fake az also calls it, once per spawn); failures = summed over the repeats.",
        "The repeats run round-robin (every combination once, then again), each in a fresh process; with 2 cores shared with other work, burst timings vary by tens of percent between repeats, so compare medians and look at the ranges.",
      ],
    },
  };
}

function roundSpread(s: Spread): Spread {
  return {
    median: round(s.median, 1),
    min: round(s.min, 1),
    max: round(s.max, 1),
    values: s.values.map((value) => round(value, 1)),
  };
}
