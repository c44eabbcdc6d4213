/** Summary of a sample of durations in milliseconds. */
export interface LatencySummary {
  readonly count: number;
  readonly meanMs: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly minMs: number;
  readonly maxMs: number;
}

/** Nearest-rank percentile of an ascending sorted array (`p` in 0..100). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}

/** Mean, p50, p99, min and max of `samples` (milliseconds). */
export function summarize(samples: readonly number[]): LatencySummary {
  const sorted = [...samples].sort((a, b) => a - b);
  const sum = sorted.reduce((total, value) => total + value, 0);
  return {
    count: sorted.length,
    meanMs: sorted.length ? sum / sorted.length : Number.NaN,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    minMs: sorted[0] ?? Number.NaN,
    maxMs: sorted[sorted.length - 1] ?? Number.NaN,
  };
}

/** Rounds to `digits` decimals (keeps the JSON readable). */
export function round(value: number, digits = 3): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

/** A counting semaphore: at most `size` holders at a time, FIFO. */
export class Semaphore {
  #free: number;
  readonly #waiting: Array<() => void> = [];

  constructor(size: number) {
    this.#free = size;
  }

  async acquire(): Promise<void> {
    if (this.#free > 0) {
      this.#free -= 1;
      return;
    }
    await new Promise<void>((resolve) => this.#waiting.push(resolve));
  }

  release(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#free += 1;
  }
}

/** Two-sided 95 % quantile of Student's t with `df` degrees of freedom (Cornish-Fisher, exact to ~1e-3). */
export function t975(df: number): number {
  if (!(df >= 1)) return Number.NaN;
  const small = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228];
  if (df <= small.length) return small[Math.floor(df) - 1] as number;
  const z = 1.959964;
  return z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df ** 2);
}

/** A point estimate with its 95 % confidence interval. */
export interface Interval {
  readonly estimate: number;
  readonly low: number;
  readonly high: number;
}

/** Mean of `values`. */
export function mean(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0) / values.length;
}

/** Sample variance (n - 1). */
export function variance(values: readonly number[]): number {
  const m = mean(values);
  return values.reduce((total, value) => total + (value - m) ** 2, 0) / (values.length - 1);
}

/** Mean with a 95 % t interval, treating `values` as independent. */
export function meanInterval(values: readonly number[]): Interval {
  const m = mean(values);
  const half = t975(values.length - 1) * Math.sqrt(variance(values) / values.length);
  return { estimate: m, low: m - half, high: m + half };
}

/**
 * Means of consecutive batches of `size` values (a trailing partial batch is dropped). Confidence
 * intervals over batch means stay honest when neighbouring samples are correlated (machine load
 * drifts), which per-sample intervals are not.
 */
export function batchMeans(values: readonly number[], size: number): number[] {
  const batches: number[] = [];
  for (let start = 0; start + size <= values.length; start += size) {
    batches.push(mean(values.slice(start, start + size)));
  }
  return batches;
}

/** The batch size for `n` samples: `preferred`, shrunk so that there are at least `minBatches` batches. */
export function batchSizeFor(n: number, preferred = 20, minBatches = 10): number {
  return Math.max(1, Math.min(preferred, Math.floor(n / minBatches)));
}

/**
 * Geometric mean of the paired ratios `a[i] / b[i]` with a 95 % interval: the mean of
 * `ln(a[i] / b[i])` over batches of consecutive pairs (t interval over batch means), exponentiated.
 */
export function geometricMeanRatio(a: readonly number[], b: readonly number[], batch = 20): Interval {
  const logs = a.map((value, i) => Math.log(value / (b[i] as number)));
  const batches = batchMeans(logs, batchSizeFor(logs.length, batch));
  if (batches.length < 2) {
    const estimate = Math.exp(mean(logs));
    return { estimate, low: Number.NaN, high: Number.NaN };
  }
  const interval = meanInterval(batches);
  return {
    estimate: Math.exp(mean(logs)),
    low: Math.exp(interval.low),
    high: Math.exp(interval.high),
  };
}

/**
 * Ratio of means `mean(a) / mean(b)` of paired samples with a 95 % interval by the delta method
 * over batch means: with batch means A_j, B_j and R = mean(A) / mean(B), the residuals
 * A_j - R * B_j give Var(R) ~ var(residuals) / (k * mean(B)^2).
 */
export function ratioOfMeans(a: readonly number[], b: readonly number[], batch = 20): Interval {
  const size = batchSizeFor(a.length, batch);
  const batchesA = batchMeans(a, size);
  const batchesB = batchMeans(b, size);
  const estimate = mean(a) / mean(b);
  if (batchesA.length < 2) return { estimate, low: Number.NaN, high: Number.NaN };
  const meanB = mean(batchesB);
  const residuals = batchesA.map((value, i) => value - estimate * (batchesB[i] as number));
  const half = (t975(residuals.length - 1) * Math.sqrt(variance(residuals) / residuals.length)) / meanB;
  return { estimate, low: estimate - half, high: estimate + half };
}

/** Largest relative distance from the estimate to an end of its interval (0.012 = ±1.2 %). */
export function relativeHalfWidth(interval: Interval): number {
  return Math.max(interval.high / interval.estimate - 1, 1 - interval.low / interval.estimate);
}

/** `1.012 [1.001, 1.024]`. */
export function formatInterval(interval: Interval, digits = 3): string {
  if (!Number.isFinite(interval.low)) return `${interval.estimate.toFixed(digits)} [n/a]`;
  return `${interval.estimate.toFixed(digits)} [${interval.low.toFixed(digits)}, ${interval.high.toFixed(digits)}]`;
}

/** An interval rounded for the JSON output. */
export function roundInterval(interval: Interval, digits = 4): Interval {
  return {
    estimate: round(interval.estimate, digits),
    low: round(interval.low, digits),
    high: round(interval.high, digits),
  };
}

/** Median of `values`. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  const middle = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return Number.NaN;
  return sorted.length % 2
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** Median, min and max of repeated measurements. */
export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly values: readonly number[];
}

/** The spread of repeated measurements. */
export function spread(values: readonly number[]): Spread {
  return { median: median(values), min: Math.min(...values), max: Math.max(...values), values };
}

/** `1234 (1100-1400)`: median (min-max); just the value when every repeat gave the same. */
export function formatSpread(s: Spread, digits = 0): string {
  if (s.values.length === 1 || s.min === s.max) return s.median.toFixed(digits);
  return `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}-${s.max.toFixed(digits)})`;
}

/** A small seeded PRNG (mulberry32), so bootstrap intervals are reproducible. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Ratio of the medians of two independent samples with a 95 % percentile-bootstrap interval
 * (`resamples` resamples of each sample, seeded).
 */
export function ratioOfMedians(a: readonly number[], b: readonly number[], resamples = 4000): Interval {
  const random = seededRandom(0x5eed);
  const draw = (values: readonly number[]) =>
    median(Array.from(values, () => values[Math.floor(random() * values.length)] as number));
  const ratios: number[] = [];
  for (let i = 0; i < resamples; i++) ratios.push(draw(a) / draw(b));
  ratios.sort((x, y) => x - y);
  return {
    estimate: median(a) / median(b),
    low: ratios[Math.floor(resamples * 0.025)] as number,
    high: ratios[Math.ceil(resamples * 0.975) - 1] as number,
  };
}
