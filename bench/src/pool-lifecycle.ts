import { ManagedIdentityCredential } from "@azure/identity";
import { getSharedTokenProvider } from "@org/entra-core";
import { withEntra } from "@org/pg-entra";
import pg from "pg";
import { gatewayConfig, PG_SCOPE } from "./approaches.js";
import { markPhase, runWorker } from "./child.js";
import { type BenchContext, type BenchOutcome, resetCounters, workerEnv } from "./context.js";
import { round } from "./stats.js";

/** Worker task of the pool-lifecycle benchmark (run with `--expose-gc`). */
export interface PoolLifecycleTask {
  readonly kind: "pool-lifecycle";
  readonly pools: number;
  /** Every `connectEvery`-th pool runs one `SELECT 1` (1 = all of them). */
  readonly connectEvery: number;
  /** Pools created, queried and ended at a time. */
  readonly concurrency: number;
  /** Stop creating pools after this long (reported). */
  readonly deadlineMs: number;
  /** How long to idle after the last pool ended. */
  readonly idleMs: number;
  /** Heap checkpoints (after GC) during creation, as fractions of `pools`. */
  readonly checkpoints: readonly number[];
  /** Pools churned after the first one and before the warm baseline (JIT-compiles the paths). */
  readonly warmupPools: number;
  /** Control: `getToken` calls on one credential (each a real request) to size @azure/identity's own per-request retention. */
  readonly controlRequests: number;
}

/** How many of the churned objects a FinalizationRegistry saw collected. */
export interface Collected {
  readonly pools: number;
  readonly credentials: number;
  readonly providers: number;
}

/** What the pool-lifecycle worker reports (bytes). */
export interface PoolLifecycleSample {
  /** After the imports and one pool (created, queried, ended). */
  readonly baselineHeap: number;
  /** After `warmupPools` more pools: the JIT has compiled the churn path. */
  readonly warmBaselineHeap: number;
  readonly afterEndHeap: number;
  readonly afterIdleHeap: number;
  readonly checkpoints: ReadonlyArray<{ readonly pools: number; readonly heap: number }>;
  readonly poolsCreated: number;
  readonly poolsConnected: number;
  readonly failures: number;
  readonly firstError?: string;
  readonly deadlineHit: boolean;
  readonly createMs: number;
  readonly collectedAfterEnd: Collected;
  readonly collectedAfterIdle: Collected;
  /** Heap retained per identity-endpoint request by @azure/identity itself (control, bytes). */
  readonly controlBytesPerRequest: number;
}

async function settledHeap(): Promise<number> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error("pool-lifecycle needs node --expose-gc");
  // Several rounds with turns of the event loop in between, so that WeakRef targets, FinalizationRegistry
  // callbacks and promise jobs released by one collection are collected by the next.
  for (let i = 0; i < 6; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return process.memoryUsage().heapUsed;
}

/**
 * Worker side: baseline heap after imports and one warm-up pool; then `pools` pg pools, each with
 * its own `ManagedIdentityCredential` (so its own shared provider), created in groups of
 * `concurrency`, each group queried (every `connectEvery`-th pool) and ended; references dropped,
 * heap after GC; then idle and heap again. The parent counts identity-endpoint requests between the
 * phase marks.
 */
export async function measurePoolLifecycle(task: PoolLifecycleTask): Promise<PoolLifecycleSample> {
  let failures = 0;
  let firstError: string | undefined;
  let connected = 0;
  const collected = { pools: 0, credentials: 0, providers: 0 };
  const watch = new FinalizationRegistry<keyof typeof collected>((kind) => {
    collected[kind] += 1;
  });
  let watching = false;
  const onePool = async (connect: boolean) => {
    const credential = new ManagedIdentityCredential();
    const config = withEntra(gatewayConfig(), { credential });
    let pool: pg.Pool | undefined = new pg.Pool(config);
    if (watching) {
      watch.register(pool, "pools");
      watch.register(credential, "credentials");
      // The provider withEntra registered for this credential (returned, not created, here).
      watch.register(getSharedTokenProvider({ credential, scope: PG_SCOPE }), "providers");
    }
    try {
      if (connect) {
        await pool.query("select 1");
        connected += 1;
      }
    } catch (error) {
      failures += 1;
      firstError ??= error instanceof Error ? error.message : String(error);
    } finally {
      await pool.end();
      pool = undefined;
    }
  };
  const churn = async (count: number, onGroup?: (done: number) => Promise<void>) => {
    for (let done = 0; done < count; ) {
      const group = Math.min(task.concurrency, count - done);
      await Promise.all(
        Array.from({ length: group }, (_, i) => onePool((done + i) % task.connectEvery === 0)),
      );
      done += group;
      await onGroup?.(done);
    }
  };
  await onePool(true);
  const baselineHeap = await settledHeap();
  await churn(task.warmupPools);
  connected = 0;
  const warmBaselineHeap = await settledHeap();
  await markPhase("create");
  watching = true;
  const began = performance.now();
  const checkpoints: Array<{ pools: number; heap: number }> = [];
  const marks = task.checkpoints.map((fraction) => Math.round(fraction * task.pools));
  let created = 0;
  let deadlineHit = false;
  while (created < task.pools) {
    if (performance.now() - began > task.deadlineMs) {
      deadlineHit = true;
      break;
    }
    const group = Math.min(task.concurrency, task.pools - created);
    await Promise.all(
      Array.from({ length: group }, (_, i) => onePool((created + i) % task.connectEvery === 0)),
    );
    const before = created;
    created += group;
    if (marks.some((mark) => before < mark && mark <= created) && created < task.pools) {
      checkpoints.push({ pools: created, heap: await settledHeap() });
    }
  }
  const createMs = performance.now() - began;
  await markPhase("ended");
  const afterEndHeap = await settledHeap();
  const collectedAfterEnd = { ...collected };
  await new Promise((resolve) => setTimeout(resolve, task.idleMs));
  const afterIdleHeap = await settledHeap();
  const collectedAfterIdle = { ...collected };
  await markPhase("idle-done");

  // Control: what @azure/identity itself keeps per identity-endpoint request, without pools or
  // providers (the tokens are too short for MSAL to cache, so every call is a request).
  const credential = new ManagedIdentityCredential();
  await credential.getToken(PG_SCOPE);
  const controlBefore = await settledHeap();
  for (let i = 0; i < task.controlRequests; i++) await credential.getToken(PG_SCOPE);
  const controlAfter = await settledHeap();
  return {
    baselineHeap,
    warmBaselineHeap,
    afterEndHeap,
    afterIdleHeap,
    checkpoints,
    poolsCreated: created,
    poolsConnected: connected,
    failures,
    ...(firstError ? { firstError } : {}),
    deadlineHit,
    createMs,
    collectedAfterEnd,
    collectedAfterIdle,
    controlBytesPerRequest: (controlAfter - controlBefore) / Math.max(1, task.controlRequests),
  };
}

const MB = 1024 * 1024;

/**
 * Benchmark 5: 10 000 pools, each with its own credential, created, used and ended in one process:
 * heap before/after (after GC) and identity-endpoint requests during the churn and after the last
 * pool ended, with short tokens so that refreshes would be due while the process idles.
 */
export async function benchPoolLifecycle(context: BenchContext): Promise<BenchOutcome> {
  const lifetime = 8;
  const task: PoolLifecycleTask = {
    kind: "pool-lifecycle",
    pools: Number(process.env.BENCH_POOLS ?? (context.quick ? 1_000 : 10_000)),
    connectEvery: Number(process.env.BENCH_POOLS_CONNECT_EVERY ?? 1),
    concurrency: 50,
    deadlineMs: (context.quick ? 40 : 150) * 1000,
    idleMs: 2 * lifetime * 1000,
    checkpoints: [0.25, 0.5, 0.75],
    warmupPools: context.quick ? 100 : 200,
    controlRequests: context.quick ? 500 : 2_000,
  };
  const counts = new Map<string, number>();
  context.emulator.tokenLifetimeInSeconds = lifetime;
  await resetCounters(context);
  let sample: PoolLifecycleSample;
  try {
    sample = await runWorker<PoolLifecycleSample>(task, workerEnv(context), {
      execArgv: ["--expose-gc"],
      timeoutInMs: task.deadlineMs + task.idleMs + 180_000,
      onMark: (mark) => counts.set(mark, context.emulator.counters.tokenRequests),
    });
  } finally {
    context.emulator.tokenLifetimeInSeconds = 3600;
  }
  const during = (counts.get("ended") ?? 0) - (counts.get("create") ?? 0);
  const afterEnd = (counts.get("idle-done") ?? 0) - (counts.get("ended") ?? 0);
  const delta = sample.afterIdleHeap - sample.warmBaselineHeap;
  const deltaFromOnePool = sample.afterIdleHeap - sample.baselineHeap;
  const upstream = during * sample.controlBytesPerRequest;
  const result = {
    benchmark: "pool-lifecycle",
    pools: sample.poolsCreated,
    poolsRequested: task.pools,
    poolsConnected: sample.poolsConnected,
    connectEvery: task.connectEvery,
    concurrency: task.concurrency,
    warmupPools: task.warmupPools,
    deadlineHit: sample.deadlineHit,
    failures: sample.failures,
    ...(sample.firstError ? { firstError: sample.firstError } : {}),
    createSeconds: round(sample.createMs / 1000, 1),
    tokenLifetimeInSeconds: lifetime,
    idleSeconds: task.idleMs / 1000,
    heapOnePoolBaselineMB: round(sample.baselineHeap / MB, 2),
    heapWarmBaselineMB: round(sample.warmBaselineHeap / MB, 2),
    heapAfterEndMB: round(sample.afterEndHeap / MB, 2),
    heapAfterIdleMB: round(sample.afterIdleHeap / MB, 2),
    heapDeltaMB: round(delta / MB, 2),
    heapDeltaPercent: round((100 * delta) / sample.warmBaselineHeap, 1),
    heapDeltaFromOnePoolBaselineMB: round(deltaFromOnePool / MB, 2),
    heapDeltaFromOnePoolBaselinePercent: round((100 * deltaFromOnePool) / sample.baselineHeap, 1),
    heapDeltaBytesPerPool: round(delta / Math.max(1, sample.poolsCreated), 0),
    heapCheckpointsMB: sample.checkpoints.map((c) => ({ pools: c.pools, heapMB: round(c.heap / MB, 2) })),
    identityRetainedBytesPerRequest: round(sample.controlBytesPerRequest, 0),
    identityRetainedForChurnMB: round(upstream / MB, 2),
    collectedAfterEnd: sample.collectedAfterEnd,
    collectedAfterIdle: sample.collectedAfterIdle,
    tokenRequestsDuringChurn: during,
    tokenRequestsAfterLastEnd: afterEnd,
  };
  const mb = (value: number) => `${value >= 0 ? "" : "-"}${Math.abs(value).toFixed(1)}`;
  const signed = (value: number, digits = 1) => `${value >= 0 ? "+" : "-"}${Math.abs(value).toFixed(digits)}`;
  const n = sample.poolsCreated;
  const collectedText = (c: Collected) =>
    `pools ${c.pools}/${n}, credentials ${c.credentials}/${n}, providers ${c.providers}/${n}`;
  return {
    results: [result],
    table: {
      title: `5. ${task.pools} pools, each with its own ManagedIdentityCredential: create, ${task.connectEvery === 1 ? "SELECT 1" : `SELECT 1 on every ${task.connectEvery}th`}, end (${task.concurrency} at a time), ${lifetime} s tokens, then ${task.idleMs / 1000} s idle`,
      columns: ["measure", "value"],
      rows: [
        [
          "pools created (connected)",
          `${n} (${sample.poolsConnected})${sample.deadlineHit ? `: deadline of ${task.deadlineMs / 1000} s hit` : ""}, ${result.createSeconds.toFixed(1)} s, ${sample.failures} failures`,
        ],
        ["heap after imports + 1 pool (MB)", mb(result.heapOnePoolBaselineMB)],
        [`heap after ${task.warmupPools} more pools: warm baseline (MB)`, mb(result.heapWarmBaselineMB)],
        [
          "heap during the churn (MB)",
          sample.checkpoints.map((c) => `${c.pools} pools: ${mb(c.heap / MB)}`).join(", ") || "n/a",
        ],
        ["heap after the last pool ended (MB)", mb(result.heapAfterEndMB)],
        [`heap after ${task.idleMs / 1000} s idle (MB)`, mb(result.heapAfterIdleMB)],
        [
          "delta vs warm baseline",
          `${signed(result.heapDeltaMB)} MB (${signed(result.heapDeltaPercent)}%), ${result.heapDeltaBytesPerPool} bytes/pool`,
        ],
        [
          "delta vs 1-pool baseline",
          `${signed(result.heapDeltaFromOnePoolBaselineMB)} MB (${signed(result.heapDeltaFromOnePoolBaselinePercent)}%)`,
        ],
        [
          "of which @azure/identity's own per-request retention (control)",
          `~${mb(result.identityRetainedForChurnMB)} MB (${result.identityRetainedBytesPerRequest} bytes x ${during} requests)`,
        ],
        ["collected (FinalizationRegistry) after end", collectedText(sample.collectedAfterEnd)],
        ["collected after idle", collectedText(sample.collectedAfterIdle)],
        ["identity endpoint requests during the churn", String(during)],
        ["identity endpoint requests after the last pool ended (target 0)", String(afterEnd)],
      ],
      notes: [
        "Heap = process.memoryUsage().heapUsed after 6 forced GCs (node --expose-gc). The 1-pool baseline still lacks the JIT code of the churn path (~1-2 MB), so the delta is taken from the warm baseline too.",
        `Control: ${task.controlRequests} getToken calls on one ManagedIdentityCredential (no pool, no provider; each a real request): @azure/identity's IdentityClient keeps an AbortController per managed-identity GET request (abortControllers["noCorrelationId"], never pruned), held by MSAL's process-wide managed-identity source.`,
        `Tokens live ${lifetime} s: a provider still refreshing after its pool ended would call the endpoint about every ${(lifetime * 0.75).toFixed(0)} s.`,
      ],
    },
  };
}
