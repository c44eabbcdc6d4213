import {
  geometricMeanRatio,
  type Interval,
  mean,
  meanInterval,
  median,
  percentile,
  type Spread,
  spread,
} from "./stats.js";

/**
 * Paired measurements of several paths to a database on established connections, shared by
 * benchmark 6 (`gateway-throughput`) and benchmark 7 (`proxy-relay`): `SELECT 1` batches and bulk
 * results rotating between the paths in one process, so that load drift hits every path alike, and
 * the comparison of a path against a reference with t intervals over the batch pairs.
 */

/** One open connection as the measuring loops see it, whatever the driver. */
export interface PathSession {
  /** Runs `sql` and resolves with the number of rows. */
  query(sql: string): Promise<number>;
  /** Bytes read from the connection's socket so far. */
  bytesRead(): number;
}

/** One path's `SELECT 1` round trips. */
export interface SelectOneSample {
  readonly queries: number;
  /** Wall time of each batch (ms), batch j of every path measured back to back. */
  readonly batchMs: number[];
  readonly batchMeanUs: number[];
  readonly batchMedianUs: number[];
  readonly meanUs: number;
  readonly p50Us: number;
  readonly p99Us: number;
}

/** One path's bulk results. */
export interface BulkSample {
  readonly seconds: number[];
  /** Bytes the path's socket read per result (a TLS socket counts the decrypted bytes). */
  readonly bytesReadPerQuery: number;
}

/** How many `SELECT 1` round trips {@link measureSelectOne} makes. */
export interface SelectOnePlan {
  /** Round trips per path, split into `batches`. */
  readonly queries: number;
  readonly batches: number;
  /** Round trips per path before measuring. */
  readonly warmupQueries: number;
}

/**
 * The orders batch rounds cycle through: every rotation of `paths` and its reverse, so that over
 * 2n rounds each path runs in each position equally often, and after each other path as often as before it.
 */
export function rotations<T>(paths: readonly T[]): T[][] {
  return paths.flatMap((_, k) => {
    const rotated = [...paths.slice(k), ...paths.slice(0, k)];
    return [rotated, [...rotated].reverse()];
  });
}

/** `SELECT 1`: warm-up, then batch j of every path back to back, the order rotating. */
export async function measureSelectOne<P extends string>(
  sessions: ReadonlyMap<P, PathSession>,
  plan: SelectOnePlan,
): Promise<Record<P, SelectOneSample>> {
  const paths = [...sessions.keys()];
  const session = (path: P) => sessions.get(path) as PathSession;
  const orders = rotations(paths);
  for (let i = 0; i < plan.warmupQueries; i++)
    for (const path of paths) await session(path).query("select 1");
  const batchSize = Math.max(1, Math.floor(plan.queries / plan.batches));
  const perPath = new Map(
    paths.map((path) => [
      path,
      {
        latencies: new Float64Array(batchSize * plan.batches),
        batchMs: [] as number[],
        batchMeanUs: [] as number[],
        batchMedianUs: [] as number[],
      },
    ]),
  );
  for (let batch = 0; batch < plan.batches; batch++) {
    for (const path of orders[batch % orders.length] as P[]) {
      const record = perPath.get(path);
      if (!record) continue;
      const offset = batch * batchSize;
      const began = performance.now();
      for (let i = 0; i < batchSize; i++) {
        const start = performance.now();
        await session(path).query("select 1");
        record.latencies[offset + i] = (performance.now() - start) * 1000;
      }
      record.batchMs.push(performance.now() - began);
      const values = Array.from(record.latencies.subarray(offset, offset + batchSize));
      record.batchMeanUs.push(mean(values));
      record.batchMedianUs.push(median(values));
    }
  }
  const select = {} as Record<P, SelectOneSample>;
  for (const [path, record] of perPath) {
    const sorted = Array.from(record.latencies).sort((a, b) => a - b);
    select[path] = {
      queries: sorted.length,
      batchMs: record.batchMs,
      batchMeanUs: record.batchMeanUs,
      batchMedianUs: record.batchMedianUs,
      meanUs: mean(sorted),
      p50Us: percentile(sorted, 50),
      p99Us: percentile(sorted, 99),
    };
  }
  return select;
}

/**
 * Bulk: one warm-up result per path, then `repeats` results per path rotating between the paths.
 * Throws when a result does not have `expectedRows` rows.
 */
export async function measureBulk<P extends string>(
  sessions: ReadonlyMap<P, PathSession>,
  bulkQuery: string,
  repeats: number,
  expectedRows: number,
): Promise<Record<P, BulkSample>> {
  const paths = [...sessions.keys()];
  const session = (path: P) => sessions.get(path) as PathSession;
  const orders = rotations(paths);
  for (const path of paths) await session(path).query(bulkQuery);
  const seconds = new Map(paths.map((path) => [path, [] as number[]]));
  const bytesRead = new Map(paths.map((path) => [path, 0]));
  for (let repeat = 0; repeat < repeats; repeat++) {
    for (const path of orders[repeat % orders.length] as P[]) {
      const before = session(path).bytesRead();
      const start = performance.now();
      const rows = await session(path).query(bulkQuery);
      seconds.get(path)?.push((performance.now() - start) / 1000);
      bytesRead.set(path, (bytesRead.get(path) ?? 0) + session(path).bytesRead() - before);
      if (rows !== expectedRows)
        throw new Error(`bulk result on ${path}: ${rows} rows, expected ${expectedRows}`);
    }
  }
  const bulk = {} as Record<P, BulkSample>;
  for (const path of paths) {
    bulk[path] = {
      seconds: seconds.get(path) ?? [],
      bytesReadPerQuery: (bytesRead.get(path) ?? 0) / repeats,
    };
  }
  return bulk;
}

/** `SELECT 1` queries per second over a path's batches. */
export function opsPerSec(sample: SelectOneSample): number {
  return sample.queries / (sample.batchMs.reduce((sum, ms) => sum + ms, 0) / 1000);
}

/** One path against a reference path: the ratios and differences, with their intervals. */
export interface Comparison {
  readonly opsPerSec: { readonly reference: number; readonly path: number };
  /** Queries/s of the path over the reference's, geometric mean of the per-batch-pair ratios. */
  readonly selectOneRatio: Interval;
  /** µs the path adds per round trip: per batch pair, path - reference of the batch means. */
  readonly addedMeanUs: Interval;
  /** The same with the batch medians. */
  readonly addedMedianUs: Interval;
  /** Median of all the path's latencies - median of all the reference's. */
  readonly pooledMedianDifferenceUs: number;
  readonly bulkMBPerSec: { readonly reference: Spread; readonly path: Spread };
  /** Bulk throughput of the path over the reference's (paired time ratios). */
  readonly bulkRatio: Interval;
}

/** Compares `path` with `reference` (batches and bulk results paired by position); `payloadMB` per bulk result. */
export function comparePaths(
  reference: { readonly select: SelectOneSample; readonly bulk: BulkSample },
  path: { readonly select: SelectOneSample; readonly bulk: BulkSample },
  payloadMB: number,
): Comparison {
  const differences = (a: number[], b: number[]) => a.map((value, i) => value - (b[i] as number));
  return {
    opsPerSec: { reference: opsPerSec(reference.select), path: opsPerSec(path.select) },
    // Per batch pair: path queries/s over reference queries/s = reference time / path time.
    selectOneRatio: geometricMeanRatio(reference.select.batchMs, path.select.batchMs, 1),
    addedMeanUs: meanInterval(differences(path.select.batchMeanUs, reference.select.batchMeanUs)),
    addedMedianUs: meanInterval(differences(path.select.batchMedianUs, reference.select.batchMedianUs)),
    pooledMedianDifferenceUs: path.select.p50Us - reference.select.p50Us,
    bulkMBPerSec: {
      reference: spread(reference.bulk.seconds.map((s) => payloadMB / s)),
      path: spread(path.bulk.seconds.map((s) => payloadMB / s)),
    },
    bulkRatio: geometricMeanRatio(reference.bulk.seconds, path.bulk.seconds, 1),
  };
}

/** `+12.3 [+10.1, +14.5]`: an interval of differences with signs. */
export function signed(interval: Interval, digits = 1): string {
  const sign = (value: number) => `${value >= 0 ? "+" : ""}${value.toFixed(digits)}`;
  if (!Number.isFinite(interval.low)) return `${sign(interval.estimate)} [n/a]`;
  return `${sign(interval.estimate)} [${sign(interval.low)}, ${sign(interval.high)}]`;
}
