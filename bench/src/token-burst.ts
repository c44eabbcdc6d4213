import pg from "pg";
import { APPROACH_LABELS, type Approach, type CredentialKind, pgConfigFor } from "./approaches.js";
import { runWorker } from "./child.js";
import { type BenchContext, type BenchOutcome, readCounters, resetCounters, workerEnv } from "./context.js";
import { type LatencySummary, round, Semaphore, summarize } from "./stats.js";

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

/**
 * Benchmark 2: token requests caused by a cold burst of concurrent new connections, counted at the
 * emulator's identity endpoint and as fake-az spawns. One fresh process per combination, 1 h tokens.
 */
export async function benchTokenBurst(context: BenchContext): Promise<BenchOutcome> {
  const connections = context.quick ? 100 : 500;
  const azConnections = Number(process.env.BENCH_AZ_BURST ?? (context.quick ? 30 : 100));
  const maxSessions = context.quick ? 100 : 250;
  context.emulator.tokenLifetimeInSeconds = 3600;
  const results: Array<Record<string, unknown> & { approach: Approach; credential: string }> = [];
  for (const combination of COMBINATIONS) {
    const size = combination.credential === "az" ? azConnections : connections;
    await resetCounters(context);
    const task: TokenBurstTask = { kind: "token-burst", ...combination, connections: size, maxSessions };
    const sample = await runWorker<TokenBurstSample>(task, workerEnv(context));
    const seen = await readCounters(context);
    results.push({
      benchmark: "token-burst",
      approach: combination.approach,
      credential: combination.approach === "static" ? "none" : combination.credential,
      connections: size,
      maxBackendSessions: maxSessions,
      tokenRequests: seen.tokenRequests,
      azSpawns: seen.azSpawns,
      failures: sample.failures,
      ...(sample.firstError ? { firstError: sample.firstError } : {}),
      wallMs: round(sample.wallMs, 1),
      passwordReadyP50Ms: round(sample.passwordReady.p50Ms, 1),
      passwordReadyP99Ms: round(sample.passwordReady.p99Ms, 1),
    });
  }
  return {
    results,
    table: {
      title: `2. Cold burst: N concurrent new connections in a fresh process (backend sessions capped at ${maxSessions})`,
      columns: [
        "approach",
        "credential",
        "N",
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
        String(r.tokenRequests),
        String(r.azSpawns),
        String(r.failures),
        String(r.wallMs),
        String(r.passwordReadyP50Ms),
        String(r.passwordReadyP99Ms),
      ]),
      notes: [
        "All N password hooks run concurrently; a hook takes one of the backend-session slots only after it has its token (PostgreSQL max_connections = 300 here).",
        "token requests = requests at the emulator's identity endpoint (the fake az also calls it, once per spawn).",
      ],
    },
  };
}
