import * as entraCore from "@org/entra-core";
import * as pgEntra from "@org/pg-entra";
import pg from "pg";
import { gatewayConfig, STATIC_TOKEN_VARIABLE } from "./approaches.js";
import { runWorker } from "./child.js";
import { type BenchContext, type BenchOutcome, readCounters, resetCounters, workerEnv } from "./context.js";
import { formatInterval, type Interval, median, ratioOfMedians, round, roundInterval } from "./stats.js";

/**
 * - `cold`: `new pg.Pool(withEntra(...))` and the first query right away (the clock starts before
 *   the pool is created: what a request arriving at boot sees);
 * - `warmed`: the pool created, `await warmUp()`, only then the clock and the first query;
 * - `static`: a token minted by the emulator passed as a string.
 */
export type FirstQueryVariant = "cold" | "warmed" | "static";

const LABELS: Readonly<Record<FirstQueryVariant, string>> = {
  cold: "@org/pg-entra withEntra, query at once",
  warmed: "@org/pg-entra withEntra + await warmUp()",
  static: "static token string",
};

/** Worker task: one first query in this fresh process. */
export interface FirstQueryTask {
  readonly kind: "first-query";
  readonly variant: FirstQueryVariant;
}

/** What a first-query worker reports. */
export type FirstQuerySample =
  | {
      readonly available: true;
      /** From the start of the clock to the `SELECT 1` result. */
      readonly firstQueryMs: number;
      /** `warmed`: pool created -> `warmUp()` resolved. */
      readonly warmUpMs?: number;
      /** `warmed`: the package whose `warmUp` was called. */
      readonly warmUpFrom?: string;
    }
  | { readonly available: false; readonly reason: string };

type WarmUp = (options?: { abortSignal?: AbortSignal; timeoutInMs?: number }) => Promise<void>;

/**
 * Worker side, in a process that has only imported its modules ("process ready"): creates one pool
 * the variant's way and times the first `SELECT 1`.
 */
export async function measureFirstQuery(task: FirstQueryTask): Promise<FirstQuerySample> {
  const base = gatewayConfig();
  let pool: pg.Pool;
  let start: number;
  let warmUpMs: number | undefined;
  let warmUpFrom: string | undefined;
  switch (task.variant) {
    case "cold":
      start = performance.now();
      pool = new pg.Pool(pgEntra.withEntra(base));
      break;
    case "warmed": {
      // @org/pg-entra's re-export when it has one, else @org/entra-core's (the same process-wide registry).
      const fromPg = (pgEntra as unknown as { warmUp?: WarmUp }).warmUp;
      const fromCore = (entraCore as unknown as { warmUp?: WarmUp }).warmUp;
      const warmUp = typeof fromPg === "function" ? fromPg : fromCore;
      warmUpFrom = typeof fromPg === "function" ? "@org/pg-entra" : "@org/entra-core";
      if (typeof warmUp !== "function") {
        return {
          available: false,
          reason: "neither @org/pg-entra nor @org/entra-core exports warmUp() (yet)",
        };
      }
      const created = performance.now();
      pool = new pg.Pool(pgEntra.withEntra(base));
      await warmUp({ timeoutInMs: 30_000 });
      start = performance.now();
      warmUpMs = start - created;
      break;
    }
    case "static": {
      const token = process.env[STATIC_TOKEN_VARIABLE];
      if (!token) throw new Error(`${STATIC_TOKEN_VARIABLE} is not set`);
      start = performance.now();
      pool = new pg.Pool({ ...base, password: token });
      break;
    }
  }
  await pool.query("select 1");
  const firstQueryMs = performance.now() - start;
  await pool.end();
  return {
    available: true,
    firstQueryMs,
    ...(warmUpMs !== undefined ? { warmUpMs } : {}),
    ...(warmUpFrom ? { warmUpFrom } : {}),
  };
}

/**
 * Benchmark 4: time to the first query of a freshly started process, identity endpoint answering
 * in `slowMs`. One fresh process per sample, variants interleaved (order rotated per sample).
 */
export async function benchFirstQuery(context: BenchContext): Promise<BenchOutcome> {
  const samplesPerVariant = Number(process.env.BENCH_FIRST_QUERY_SAMPLES ?? (context.quick ? 4 : 16));
  const slowMs = 20;
  const variants: readonly FirstQueryVariant[] = ["cold", "warmed", "static"];
  const samples = new Map<FirstQueryVariant, number[]>(variants.map((v) => [v, []]));
  const warmUps: number[] = [];
  let warmUpFrom: string | undefined;
  const tokenRequests = new Map<FirstQueryVariant, number>(variants.map((v) => [v, 0]));
  const unavailable = new Map<FirstQueryVariant, string>();
  context.emulator.tokenLifetimeInSeconds = 3600;
  context.emulator.faults.identity.set({ mode: "slow", delayInMs: slowMs });
  try {
    for (let i = 0; i < samplesPerVariant; i++) {
      for (let j = 0; j < variants.length; j++) {
        const variant = variants[(i + j) % variants.length] as FirstQueryVariant;
        if (unavailable.has(variant)) continue;
        await resetCounters(context);
        const task: FirstQueryTask = { kind: "first-query", variant };
        const sample = await runWorker<FirstQuerySample>(task, workerEnv(context), { timeoutInMs: 60_000 });
        if (!sample.available) {
          unavailable.set(variant, sample.reason);
          continue;
        }
        samples.get(variant)?.push(sample.firstQueryMs);
        if (sample.warmUpMs !== undefined) warmUps.push(sample.warmUpMs);
        warmUpFrom ??= sample.warmUpFrom;
        tokenRequests.set(
          variant,
          (tokenRequests.get(variant) ?? 0) + (await readCounters(context)).tokenRequests,
        );
      }
    }
  } finally {
    context.emulator.faults.identity.reset();
  }
  const staticSamples = samples.get("static") ?? [];
  const results = variants.map((variant) => {
    const values = samples.get(variant) ?? [];
    const ratio: Interval =
      values.length && staticSamples.length
        ? ratioOfMedians(values, staticSamples)
        : { estimate: Number.NaN, low: Number.NaN, high: Number.NaN };
    return {
      benchmark: "first-query",
      variant,
      label: LABELS[variant],
      identityDelayMs: slowMs,
      processes: values.length,
      ...(unavailable.has(variant) ? { unavailable: unavailable.get(variant) } : {}),
      medianMs: round(median(values), 2),
      minMs: round(Math.min(...values), 2),
      maxMs: round(Math.max(...values), 2),
      ratioToStaticMedian: roundInterval(ratio),
      warmUpMedianMs: variant === "warmed" && warmUps.length ? round(median(warmUps), 2) : undefined,
      ...(variant === "warmed" && warmUpFrom ? { warmUpFrom } : {}),
      tokenRequestsPerProcess: values.length
        ? round((tokenRequests.get(variant) ?? 0) / values.length, 2)
        : 0,
      samplesMs: values.map((value) => round(value, 2)),
    };
  });
  return {
    results,
    table: {
      title: `4. First query after boot: fresh process per sample, identity endpoint answering in ${slowMs} ms (median over processes)`,
      columns: [
        "variant",
        "processes",
        "first query median ms",
        "min-max ms",
        "x static median [95% CI]",
        "warmUp() median ms",
        "token req/process",
      ],
      rows: results.map((r) =>
        r.unavailable
          ? [r.label, "0", `n/a: ${r.unavailable}`, "", "", "", ""]
          : [
              r.label,
              String(r.processes),
              r.medianMs.toFixed(1),
              `${r.minMs.toFixed(1)}-${r.maxMs.toFixed(1)}`,
              r.variant === "static" ? "1 (baseline)" : formatInterval(r.ratioToStaticMedian, 2),
              r.warmUpMedianMs === undefined ? "" : r.warmUpMedianMs.toFixed(1),
              r.tokenRequestsPerProcess.toFixed(2),
            ],
      ),
      notes: [
        "Clock: cold and static start right before the pool is created (the process has imported its modules); warmed starts after `await warmUp()` resolved (warmUp() median = pool created -> resolved).",
        `warmUp() called from ${warmUpFrom ?? "(not run)"}. Every sample is a new process (cold MSAL, cold JIT, first TLS handshake); variants interleaved. CI: percentile bootstrap of the ratio of medians (independent samples).`,
      ],
    },
  };
}
