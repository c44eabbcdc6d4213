import type { AccessToken, GetTokenOptions, TokenCredential } from "@azure/identity";
import { DefaultAzureCredential } from "@azure/identity";
import { type EntraTokenProviderStats, getSharedTokenProvider } from "@org/entra-core";
import { withEntra } from "@org/pg-entra";
import pg from "pg";
import { gatewayConfig, PG_SCOPE } from "./approaches.js";
import { runWorker } from "./child.js";
import { type BenchContext, type BenchOutcome, readCounters, resetCounters, workerEnv } from "./context.js";
import { type LatencySummary, round, summarize } from "./stats.js";

/** Worker task of benchmark 3: connect repeatedly for `durationMs` while short-lived tokens roll over. */
export interface RefreshBoundaryTask {
  readonly kind: "refresh-boundary";
  readonly durationMs: number;
  /** A connection starting within ± this of a background refresh counts as "near the boundary". */
  readonly windowMs: number;
  /** Connections at the start that are not classified (cold token, JIT). */
  readonly warmup: number;
}

/** What the refresh-boundary worker reports. */
export interface RefreshBoundarySample {
  readonly near: LatencySummary;
  readonly steady: LatencySummary;
  /** The near connections split: started in the 500 ms before a refresh start, or in the 500 ms after. */
  readonly nearBefore: LatencySummary;
  readonly nearAfter: LatencySummary;
  /** Background refreshes (credential calls after the first one). */
  readonly refreshes: number;
  readonly refreshDurationMs: LatencySummary;
  readonly providerStats: EntraTokenProviderStats;
}

/** `DefaultAzureCredential` that records when each `getToken` started and ended. */
class RecordingCredential implements TokenCredential {
  readonly calls: Array<{ readonly start: number; readonly end: number }> = [];
  readonly #inner = new DefaultAzureCredential();

  async getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken | null> {
    const start = performance.now();
    try {
      return await this.#inner.getToken(scopes, options);
    } finally {
      this.calls.push({ start, end: performance.now() });
    }
  }
}

/**
 * Worker side: `withEntra` with the default provider settings over a recording
 * `DefaultAzureCredential` (managed identity, short tokens), connect + `SELECT 1` + close in a loop.
 * Each connection is classified by its start time: within ±windowMs of the start of a background
 * refresh, or steady state.
 */
export async function measureRefreshBoundary(task: RefreshBoundaryTask): Promise<RefreshBoundarySample> {
  const credential = new RecordingCredential();
  const config = withEntra(gatewayConfig(), { credential });
  const connections: Array<{ readonly start: number; readonly latency: number }> = [];
  const begin = performance.now();
  while (performance.now() - begin < task.durationMs) {
    const start = performance.now();
    const client = new pg.Client(config);
    await client.connect();
    try {
      await client.query("select 1");
    } finally {
      await client.end();
    }
    connections.push({ start, latency: performance.now() - start });
  }
  const refreshes = credential.calls.slice(1);
  const near: number[] = [];
  const steady: number[] = [];
  const before: number[] = [];
  const after: number[] = [];
  for (const connection of connections.slice(task.warmup)) {
    const offsets = refreshes.map((refresh) => connection.start - refresh.start);
    const offset = offsets.find((value) => Math.abs(value) <= task.windowMs);
    if (offset === undefined) {
      steady.push(connection.latency);
      continue;
    }
    near.push(connection.latency);
    (offset < 0 ? before : after).push(connection.latency);
  }
  return {
    near: summarize(near),
    steady: summarize(steady),
    nearBefore: summarize(before),
    nearAfter: summarize(after),
    refreshes: refreshes.length,
    refreshDurationMs: summarize(refreshes.map((refresh) => refresh.end - refresh.start)),
    providerStats: getSharedTokenProvider({ credential, scope: PG_SCOPE }).stats,
  };
}

/**
 * Benchmark 3: connection latency near a background token refresh vs steady state, for
 * `@org/pg-entra`, with emulator tokens living 4 s (MSAL does not cache them, so each refresh is a
 * real request to the identity endpoint).
 */
export async function benchRefreshBoundary(context: BenchContext): Promise<BenchOutcome> {
  const lifetime = 4;
  const task: RefreshBoundaryTask = {
    kind: "refresh-boundary",
    durationMs: context.quick ? 5_000 : 20_000,
    windowMs: 500,
    warmup: 20,
  };
  context.emulator.tokenLifetimeInSeconds = lifetime;
  await resetCounters(context);
  let sample: RefreshBoundarySample;
  try {
    sample = await runWorker<RefreshBoundarySample>(task, workerEnv(context));
  } finally {
    context.emulator.tokenLifetimeInSeconds = 3600;
  }
  const seen = await readCounters(context);
  const ratioP99 = sample.near.p99Ms / sample.steady.p99Ms;
  const ratioP50 = sample.near.p50Ms / sample.steady.p50Ms;
  const row = (label: "near" | "steady", summary: LatencySummary) => ({
    benchmark: "refresh-boundary",
    approach: "ours",
    credential: "mi",
    class: label,
    tokenLifetimeInSeconds: lifetime,
    durationMs: task.durationMs,
    windowMs: task.windowMs,
    connections: summary.count,
    meanMs: round(summary.meanMs),
    p50Ms: round(summary.p50Ms),
    p99Ms: round(summary.p99Ms),
    maxMs: round(summary.maxMs),
  });
  const classes = [row("steady", sample.steady), row("near", sample.near)];
  const summary = {
    benchmark: "refresh-boundary",
    approach: "ours",
    credential: "mi",
    class: "summary",
    nearOverSteadyP50: round(ratioP50),
    nearOverSteadyP99: round(ratioP99),
    backgroundRefreshes: sample.refreshes,
    nearBeforeP50Ms: round(sample.nearBefore.p50Ms),
    nearBeforeP99Ms: round(sample.nearBefore.p99Ms),
    nearAfterP50Ms: round(sample.nearAfter.p50Ms),
    nearAfterP99Ms: round(sample.nearAfter.p99Ms),
    refreshDurationP50Ms: round(sample.refreshDurationMs.p50Ms),
    refreshDurationMaxMs: round(sample.refreshDurationMs.maxMs),
    tokenRequests: seen.tokenRequests,
    providerStats: sample.providerStats,
  };
  return {
    results: [...classes, summary],
    table: {
      title: `3. @org/pg-entra across refresh boundaries (${lifetime} s tokens, ${task.durationMs / 1000} s of sequential connects, near = within ±${task.windowMs} ms of a refresh start)`,
      columns: [
        "class",
        "connections",
        "mean ms",
        "p50 ms",
        "p99 ms",
        "max ms",
        "p50 near/steady",
        "p99 near/steady",
      ],
      rows: [
        ...classes.map((r) => [
          r.class,
          String(r.connections),
          r.meanMs.toFixed(2),
          r.p50Ms.toFixed(2),
          r.p99Ms.toFixed(2),
          r.maxMs.toFixed(2),
          "",
          "",
        ]),
        ["", "", "", "", "", "", ratioP50.toFixed(3), ratioP99.toFixed(3)],
      ],
      notes: [
        `near, split: 500 ms before a refresh start p50 ${sample.nearBefore.p50Ms.toFixed(2)} / p99 ${sample.nearBefore.p99Ms.toFixed(2)} ms (${sample.nearBefore.count}); 500 ms after p50 ${sample.nearAfter.p50Ms.toFixed(2)} / p99 ${sample.nearAfter.p99Ms.toFixed(2)} ms (${sample.nearAfter.count}).`,
        `${sample.refreshes} background refreshes (identity endpoint requests: ${seen.tokenRequests}, refresh call p50 ${sample.refreshDurationMs.p50Ms.toFixed(1)} ms); provider stats: ${sample.providerStats.cacheHits} cache hits, ${sample.providerStats.failures} failures, ${sample.providerStats.sameTokenReturned} same-token refreshes.`,
      ],
    },
  };
}
