import type { AccessToken, GetTokenOptions, TokenCredential } from "@azure/identity";
import { DefaultAzureCredential } from "@azure/identity";
import { withEntra } from "@org/pg-entra";
import pg from "pg";
import { gatewayConfig, PG_SCOPE, STATIC_TOKEN_VARIABLE } from "./approaches.js";
import { runWorker } from "./child.js";
import { type BenchContext, type BenchOutcome, readCounters, resetCounters, workerEnv } from "./context.js";
import {
  formatInterval,
  type LatencySummary,
  ratioOfMedians,
  round,
  roundInterval,
  summarize,
} from "./stats.js";

/**
 * How the password is obtained in benchmark 3:
 * - `ours`: `withEntra` (shared provider, background refresh);
 * - `naive`: `credential.getToken()` per connection (control: every hook waits for the endpoint);
 * - `blocking`: a bench-made cache with the failure mode the benchmark looks for: it refreshes on
 *   a timer like ours, but drops its token when the refresh starts, so callers arriving during the
 *   refresh wait for it (control: "during" connections must come out slow).
 */
export type RefreshApproach = "ours" | "naive" | "blocking";

const LABELS: Readonly<Record<RefreshApproach, string>> = {
  ours: "@org/pg-entra withEntra",
  naive: "naive getToken per connection (control)",
  blocking: "blocking refresh cache (control)",
};

/** Worker task of benchmark 3: connect sequentially for `durationMs` while short-lived tokens roll over. */
export interface RefreshBoundaryTask {
  readonly kind: "refresh-boundary";
  readonly approach: RefreshApproach;
  readonly durationMs: number;
  /** Connections at the start that are not classified (cold token, JIT). */
  readonly warmup: number;
  /** A password hook that took longer than this waited for a token. */
  readonly waitThresholdMs: number;
  /**
   * Alternate the approach's connections with static-token connections, classified by the same
   * refresh windows: a control for anything a refresh slows down besides the password hook.
   */
  readonly interleaveStatic: boolean;
}

interface ClassSummary {
  readonly latency: LatencySummary;
  /** Every connection's latency (ms), for the interval of the during/not-during ratio. */
  readonly latencies: number[];
  readonly hook: LatencySummary;
  /** Connections whose password hook took longer than the threshold. */
  readonly waited: number;
}

/** What the refresh-boundary worker reports. */
export interface RefreshBoundarySample {
  /** Connections whose password hook asked for a token while a credential call was in flight. */
  readonly during: ClassSummary;
  /** The other classified connections. */
  readonly notDuring: ClassSummary;
  /** The interleaved static-token connections, same classification (with `interleaveStatic`). */
  readonly staticDuring?: ClassSummary;
  readonly staticNotDuring?: ClassSummary;
  /** The same split by when the connection itself started (socket opened), for comparison. */
  readonly byConnectionStart: { readonly during: ClassSummary; readonly notDuring: ClassSummary };
  readonly credentialCalls: number;
  readonly callDurationMs: LatencySummary;
  /** Milliseconds with a credential call in flight, over the classified part of the run. */
  readonly inFlightMs: number;
  readonly classifiedMs: number;
}

/** `DefaultAzureCredential` that records when each `getToken` started and ended. */
class RecordingCredential implements TokenCredential {
  readonly calls: Array<{ readonly start: number; end: number }> = [];
  readonly #inner = new DefaultAzureCredential();

  async getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken | null> {
    const call = { start: performance.now(), end: Number.POSITIVE_INFINITY };
    this.calls.push(call);
    try {
      return await this.#inner.getToken(scopes, options);
    } finally {
      call.end = performance.now();
    }
  }
}

/**
 * The `blocking` control: refresh when a quarter of the lifetime is left (ours' window for short
 * tokens), but drop the cached token when that refresh starts, so callers wait for the fetch.
 */
function blockingPassword(credential: TokenCredential): () => Promise<string> {
  let cached: AccessToken | undefined;
  let inflight: Promise<AccessToken> | undefined;
  const fetch = (): Promise<AccessToken> => {
    inflight ??= (async () => {
      try {
        const token = await credential.getToken(PG_SCOPE);
        if (!token) throw new Error("no token");
        cached = token;
        const lifetime = token.expiresOnTimestamp - Date.now();
        setTimeout(
          () => {
            cached = undefined;
            void fetch().catch(() => {});
          },
          Math.max(0, lifetime * 0.75),
        ).unref();
        return token;
      } finally {
        inflight = undefined;
      }
    })();
    return inflight;
  };
  return async () => (cached ?? (await fetch())).token;
}

type PasswordHook = (this: unknown) => Promise<string>;

/**
 * Worker side: sequential connect + `SELECT 1` + close for `durationMs`, the password hook timed.
 * Each connection is classified by whether it started while a credential call (timestamped by the
 * recording credential) was in flight.
 */
export async function measureRefreshBoundary(task: RefreshBoundaryTask): Promise<RefreshBoundarySample> {
  const credential = new RecordingCredential();
  const base = gatewayConfig();
  const config: pg.ClientConfig =
    task.approach === "ours"
      ? withEntra(base, { credential })
      : task.approach === "blocking"
        ? { ...base, password: blockingPassword(credential) }
        : {
            ...base,
            password: async () => {
              const token = await credential.getToken(PG_SCOPE);
              if (!token) throw new Error("no token");
              return token.token;
            },
          };
  const inner = config.password as PasswordHook;
  let hookMs = 0;
  let hookStart = Number.NaN;
  const timed: pg.ClientConfig = {
    ...config,
    password: async function (this: unknown) {
      const start = performance.now();
      hookStart = start;
      try {
        return await inner.call(this);
      } finally {
        hookMs = performance.now() - start;
      }
    },
  };
  const token = process.env[STATIC_TOKEN_VARIABLE];
  if (task.interleaveStatic && !token) throw new Error(`${STATIC_TOKEN_VARIABLE} is not set`);
  const staticConfig: pg.ClientConfig = { ...base, password: token };
  type Connection = {
    readonly start: number;
    readonly latency: number;
    readonly hookMs: number;
    /** When the password hook asked for the token (NaN without a hook: the static control). */
    readonly hookStart: number;
    readonly isStatic: boolean;
  };
  const connections: Connection[] = [];
  const begin = performance.now();
  for (let i = 0; performance.now() - begin < task.durationMs; i++) {
    const isStatic = task.interleaveStatic && i % 2 === 1;
    const start = performance.now();
    hookMs = 0;
    hookStart = Number.NaN;
    const client = new pg.Client(isStatic ? staticConfig : timed);
    await client.connect();
    try {
      await client.query("select 1");
    } finally {
      await client.end();
    }
    connections.push({
      start,
      latency: performance.now() - start,
      hookMs,
      hookStart: isStatic ? Number.NaN : hookStart,
      isStatic,
    });
  }
  const end = performance.now();
  const classified = connections.slice(task.warmup);
  const during: Connection[] = [];
  const notDuring: Connection[] = [];
  const staticDuring: Connection[] = [];
  const staticNotDuring: Connection[] = [];
  const byStartDuring: Connection[] = [];
  const byStartNotDuring: Connection[] = [];
  const inFlightAt = (time: number) => credential.calls.some((call) => call.start <= time && time < call.end);
  for (const connection of classified) {
    // The moment the connection needs its token: when its hook asked (a few ms after the socket
    // opened); the static control has no hook, its connection start stands in.
    const asked = Number.isNaN(connection.hookStart) ? connection.start : connection.hookStart;
    const inFlight = inFlightAt(asked);
    if (connection.isStatic) (inFlight ? staticDuring : staticNotDuring).push(connection);
    else {
      (inFlight ? during : notDuring).push(connection);
      (inFlightAt(connection.start) ? byStartDuring : byStartNotDuring).push(connection);
    }
  }
  const from = classified[0]?.start ?? end;
  const inFlightMs = credential.calls.reduce(
    (total, call) => total + Math.max(0, Math.min(call.end, end) - Math.max(call.start, from)),
    0,
  );
  const summary = (list: Connection[]): ClassSummary => ({
    latency: summarize(list.map((c) => c.latency)),
    latencies: list.map((c) => round(c.latency, 3)),
    hook: summarize(list.map((c) => c.hookMs)),
    waited: list.filter((c) => c.hookMs > task.waitThresholdMs).length,
  });
  return {
    during: summary(during),
    notDuring: summary(notDuring),
    byConnectionStart: { during: summary(byStartDuring), notDuring: summary(byStartNotDuring) },
    ...(task.interleaveStatic
      ? { staticDuring: summary(staticDuring), staticNotDuring: summary(staticNotDuring) }
      : {}),
    credentialCalls: credential.calls.length,
    // A refresh may still be in flight when the run ends: only finished calls have a duration.
    callDurationMs: summarize(
      credential.calls.filter((call) => Number.isFinite(call.end)).map((call) => call.end - call.start),
    ),
    inFlightMs,
    classifiedMs: end - from,
  };
}

/**
 * Benchmark 3: connection latency while a token refresh is actually in flight vs the rest, with a
 * slow identity endpoint (every token response delayed by `slowMs`) and tokens living `lifetime`
 * seconds (MSAL cannot cache them: every refresh is a real request). Ours, then two controls that
 * must show the delay: naive (every hook waits) and a blocking cache (hooks during a refresh wait).
 */
export async function benchRefreshBoundary(context: BenchContext): Promise<BenchOutcome> {
  const lifetime = 5;
  const slowMs = 300;
  const waitThresholdMs = 100;
  const runs: ReadonlyArray<{
    approach: RefreshApproach;
    durationMs: number;
    warmup: number;
    interleaveStatic: boolean;
  }> = [
    { approach: "ours", durationMs: context.quick ? 10_000 : 40_000, warmup: 20, interleaveStatic: true },
    { approach: "naive", durationMs: context.quick ? 3_000 : 5_000, warmup: 2, interleaveStatic: false },
    { approach: "blocking", durationMs: context.quick ? 8_000 : 12_000, warmup: 20, interleaveStatic: false },
  ];
  const results: Array<Record<string, unknown>> = [];
  const rows: Array<Array<string>> = [];
  const notes: string[] = [];
  for (const run of runs) {
    const task: RefreshBoundaryTask = { kind: "refresh-boundary", ...run, waitThresholdMs };
    context.emulator.tokenLifetimeInSeconds = lifetime;
    context.emulator.faults.identity.set({ mode: "slow", delayInMs: slowMs });
    await resetCounters(context);
    let sample: RefreshBoundarySample;
    try {
      sample = await runWorker<RefreshBoundarySample>(task, workerEnv(context));
    } finally {
      context.emulator.faults.identity.reset();
      context.emulator.tokenLifetimeInSeconds = 3600;
    }
    const seen = await readCounters(context);
    const groups: Array<{ key: string; label: string; during: ClassSummary; notDuring: ClassSummary }> = [
      { key: run.approach, label: LABELS[run.approach], during: sample.during, notDuring: sample.notDuring },
    ];
    if (sample.staticDuring && sample.staticNotDuring) {
      groups.push({
        key: "static-interleaved",
        label: "static token string, interleaved (control)",
        during: sample.staticDuring,
        notDuring: sample.staticNotDuring,
      });
    }
    const ratios: string[] = [];
    for (const group of groups) {
      const isStatic = group.key === "static-interleaved";
      const row = (label: "during refresh" | "not during", summary: ClassSummary) => ({
        benchmark: "refresh-boundary",
        approach: group.key,
        credential: isStatic ? "none" : "mi",
        class: label,
        tokenLifetimeInSeconds: lifetime,
        identityDelayMs: slowMs,
        durationMs: run.durationMs,
        connections: summary.latency.count,
        waitedForToken: isStatic ? 0 : summary.waited,
        meanMs: round(summary.latency.meanMs),
        p50Ms: round(summary.latency.p50Ms),
        p99Ms: round(summary.latency.p99Ms),
        maxMs: round(summary.latency.maxMs),
        hookP50Ms: isStatic ? null : round(summary.hook.p50Ms),
        hookMaxMs: isStatic ? null : round(summary.hook.maxMs),
      });
      const classes = [row("not during", group.notDuring), row("during refresh", group.during)];
      const medianRatio =
        group.during.latencies.length >= 5 && group.notDuring.latencies.length >= 5
          ? ratioOfMedians(group.during.latencies, group.notDuring.latencies)
          : undefined;
      results.push(...classes);
      if (medianRatio) {
        results.push({
          benchmark: "refresh-boundary",
          approach: group.key,
          class: "during-over-not-during",
          p50Ratio: roundInterval(medianRatio),
          p99Ratio: round(group.during.latency.p99Ms / group.notDuring.latency.p99Ms),
        });
        ratios.push(`${group.label} ${formatInterval(medianRatio)}`);
      }
      for (const r of classes) {
        if (r.connections === 0) {
          rows.push([group.label, r.class, "0", "-", "-", "-", "-", "-", "-"]);
          continue;
        }
        rows.push([
          group.label,
          r.class,
          String(r.connections),
          isStatic ? "(no hook)" : String(r.waitedForToken),
          fixed(r.p50Ms),
          fixed(r.p99Ms),
          fixed(r.maxMs),
          r.hookP50Ms === null ? "-" : fixed(r.hookP50Ms),
          r.hookMaxMs === null ? "-" : fixed(r.hookMaxMs),
        ]);
      }
    }
    results.push({
      benchmark: "refresh-boundary",
      approach: run.approach,
      class: "summary",
      durationMs: run.durationMs,
      credentialCalls: sample.credentialCalls,
      credentialCallP50Ms: round(sample.callDurationMs.p50Ms),
      credentialCallMaxMs: round(sample.callDurationMs.maxMs),
      inFlightShare: round(sample.inFlightMs / sample.classifiedMs, 4),
      tokenRequests: seen.tokenRequests,
    });
    const byStart = sample.byConnectionStart;
    results.push({
      benchmark: "refresh-boundary",
      approach: run.approach,
      class: "by-connection-start",
      during: {
        connections: byStart.during.latency.count,
        waited: byStart.during.waited,
        p50Ms: round(byStart.during.latency.p50Ms),
      },
      notDuring: {
        connections: byStart.notDuring.latency.count,
        waited: byStart.notDuring.waited,
        p50Ms: round(byStart.notDuring.latency.p50Ms),
      },
    });
    notes.push(
      `${LABELS[run.approach]}, split by connection start instead: during ${byStart.during.latency.count} (waited ${byStart.during.waited}${byStart.during.latency.count ? `, p50 ${num(byStart.during.latency.p50Ms, 2)} ms` : ""}), not during ${byStart.notDuring.latency.count} (waited ${byStart.notDuring.waited}).`,
    );
    notes.push(
      `${LABELS[run.approach]}: ${run.durationMs / 1000} s${run.interleaveStatic ? " (its connections alternating with static-token ones)" : ""}, ${sample.credentialCalls} credential calls (p50 ${num(sample.callDurationMs.p50Ms, 0)} ms, max ${num(sample.callDurationMs.maxMs, 0)} ms; a call in flight ${((100 * sample.inFlightMs) / sample.classifiedMs).toFixed(1)}% of the time), ${seen.tokenRequests} identity endpoint requests${ratios.length ? `; p50 during / not during [95% CI, bootstrap]: ${ratios.join("; ")}` : ""}.`,
    );
  }
  return {
    results,
    table: {
      title: `3. Across token refreshes: identity endpoint answering in ${slowMs} ms, ${lifetime} s tokens, sequential connect + SELECT 1 + close; "during refresh" = the connection asked for its token while a credential call was in flight`,
      columns: [
        "approach",
        "class",
        "connections",
        `waited for a token (hook > ${waitThresholdMs} ms)`,
        "p50 ms",
        "p99 ms",
        "max ms",
        "hook p50 ms",
        "hook max ms",
      ],
      rows,
      notes: [
        ...notes,
        "The first connections of each run (20; 2 for naive) are not classified (cold token, JIT). A hook that waits for a token takes about the endpoint's 300 ms; one that does not takes well under 1 ms. The interleaved static-token connections (no hook) share the refresh windows of ours: a control for what a refresh in flight slows down besides the hook.",
        "naive: every hook starts its own credential call, so its connections count as 'not during' (no call was in flight when they asked) and every one waits. blocking: a cache that drops its token when its timed refresh starts, so a connection asking during that refresh waits for it: what 'during refresh' is there to catch.",
      ],
    },
  };
}

/** `value.toFixed(digits)`, or "-" for a missing value (NaN and Infinity arrive as null over IPC). */
function num(value: number | null, digits: number): string {
  return typeof value === "number" && Number.isFinite(value) ? value.toFixed(digits) : "-";
}

function fixed(value: number): string {
  return Number.isFinite(value) ? value.toFixed(2) : "-";
}
