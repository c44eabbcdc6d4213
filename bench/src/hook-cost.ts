import { DefaultAzureCredential, ManagedIdentityCredential } from "@azure/identity";
import { entraTokenProvider } from "@azure/postgresql-auth";
import { getSharedTokenProvider } from "@org/entra-core";
import { withEntra } from "@org/pg-entra";
import pg from "pg";
import { gatewayConfig, PG_SCOPE, STATIC_TOKEN_VARIABLE } from "./approaches.js";
import { runWorker } from "./child.js";
import { type BenchContext, type BenchOutcome, readCounters, resetCounters, workerEnv } from "./context.js";
import {
  formatInterval,
  geometricMeanRatio,
  type Interval,
  mean,
  meanInterval,
  round,
  roundInterval,
} from "./stats.js";

/** Worker task of the hook-cost benchmark: every hook in one warm process, batches interleaved. */
export interface HookCostTask {
  readonly kind: "hook-cost";
  /** Batches per hook. */
  readonly batches: number;
  /** Target duration of one batch; sets each hook's batch size. */
  readonly targetBatchMs: number;
  /** Calls per hook before measuring (after the first, token-fetching call). */
  readonly warmupCalls: number;
}

type HookId =
  | "plain"
  | "ours-hook"
  | "ours-hook-tls"
  | "ours-provider"
  | "msal-dac"
  | "msal-mi"
  | "naive-hook"
  | "ms-hook";

const HOOK_LABELS: Readonly<Record<HookId, string>> = {
  plain: 'plain function `async () => "static"`',
  "ours-hook": "@org/pg-entra `password` hook (withEntra), no `this`",
  "ours-hook-tls": "same, `this` = a client on a live TLS socket (TLS check)",
  "ours-provider": "@org/entra-core shared provider `getToken()`",
  "msal-dac": "MSAL cache hit: DefaultAzureCredential `getToken`",
  "msal-mi": "MSAL cache hit: ManagedIdentityCredential `getToken`",
  "naive-hook": "naive hook `(await credential.getToken(scope)).token`",
  "ms-hook": "@azure/postgresql-auth `entraTokenProvider` hook",
};

/** What the hook-cost worker reports: ns per call of every batch, per hook. */
export interface HookCostSample {
  readonly hooks: ReadonlyArray<{
    readonly id: HookId;
    readonly batchSize: number;
    readonly nsPerCall: number[];
  }>;
  /** Credential calls our provider made during the whole run. */
  readonly oursCredentialCalls: number;
}

type Hook = () => Promise<unknown>;

async function timeCalls(hook: Hook, calls: number): Promise<number> {
  const start = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) await hook();
  return Number(process.hrtime.bigint() - start);
}

/**
 * Worker side: builds every hook over managed identity (emulator, 1 h tokens), makes the first
 * (token-fetching) call of each, warms them up, sizes each hook's batch to ~targetBatchMs, then
 * runs the batches round-robin (hook A batch 1, hook B batch 1, ...), so that machine-load drift
 * hits every hook alike and batch j of one hook can be paired with batch j of another.
 */
export async function measureHookCost(task: HookCostTask): Promise<HookCostSample> {
  const oursCredential = new DefaultAzureCredential();
  const config = withEntra(gatewayConfig(), { credential: oursCredential });
  // Called without `this` (no connecting client): the hook skips its live-socket TLS check.
  const password = config.password as () => Promise<string>;
  const provider = getSharedTokenProvider({ credential: oursCredential, scope: PG_SCOPE });
  const dac = new DefaultAzureCredential();
  const mi = new ManagedIdentityCredential();
  const naiveCredential = new DefaultAzureCredential();
  const msHook = entraTokenProvider(new DefaultAzureCredential());
  // A connecting pg client as pg passes it to the hook (`this`): the gateway's live TLS socket, and
  // no-op listener methods so that the hook's per-connection auth-failure watch does not pile up
  // listeners on one socket over hundreds of thousands of calls.
  const token = process.env[STATIC_TOKEN_VARIABLE];
  if (!token) throw new Error(`${STATIC_TOKEN_VARIABLE} is not set`);
  const live = new pg.Client({ ...gatewayConfig(), password: token });
  await live.connect();
  const connecting = {
    host: gatewayConfig().host,
    user: gatewayConfig().user,
    connection: {
      stream: (live as unknown as { connection: { stream: unknown } }).connection.stream,
      prependListener: () => {},
      removeListener: () => {},
      once: () => {},
    },
  };
  const hooks: Array<{ id: HookId; hook: Hook }> = [
    { id: "plain", hook: async () => "static" },
    { id: "ours-hook", hook: () => password() },
    { id: "ours-hook-tls", hook: () => (password as (this: unknown) => Promise<string>).call(connecting) },
    { id: "ours-provider", hook: () => provider.getToken() },
    { id: "msal-dac", hook: () => dac.getToken(PG_SCOPE) },
    { id: "msal-mi", hook: () => mi.getToken(PG_SCOPE) },
    {
      id: "naive-hook",
      hook: async () => {
        const token = await naiveCredential.getToken(PG_SCOPE);
        if (!token) throw new Error("no token");
        return token.token;
      },
    },
    { id: "ms-hook", hook: msHook },
  ];
  const sized: Array<{ id: HookId; hook: Hook; batchSize: number; nsPerCall: number[] }> = [];
  for (const { id, hook } of hooks) {
    await hook(); // the token fetch (or nothing)
    await timeCalls(hook, task.warmupCalls);
    // Size the batch from a probe, twice (the first probe may still run unoptimized code).
    let batchSize = 2_000;
    for (let i = 0; i < 2; i++) {
      const nsPerCall = (await timeCalls(hook, batchSize)) / batchSize;
      batchSize = Math.max(100, Math.min(200_000, Math.round((task.targetBatchMs * 1e6) / nsPerCall)));
    }
    sized.push({ id, hook, batchSize, nsPerCall: [] });
  }
  for (let batch = 0; batch < task.batches; batch++) {
    for (const entry of sized) {
      entry.nsPerCall.push((await timeCalls(entry.hook, entry.batchSize)) / entry.batchSize);
    }
  }
  await live.end();
  return {
    hooks: sized.map(({ id, batchSize, nsPerCall }) => ({ id, batchSize, nsPerCall })),
    // Expected 1: every call after the first was a cache hit.
    oursCredentialCalls: provider.stats.credentialCalls,
  };
}

/**
 * Headline: the cost of the password hook itself, ns per call in one warm process (token cached),
 * ours vs MSAL's cached `getToken` vs a plain function.
 */
export async function benchHookCost(context: BenchContext): Promise<BenchOutcome> {
  const task: HookCostTask = {
    kind: "hook-cost",
    batches: context.quick ? 20 : 100,
    targetBatchMs: context.quick ? 5 : 10,
    warmupCalls: context.quick ? 5_000 : 20_000,
  };
  context.emulator.tokenLifetimeInSeconds = 3600;
  await resetCounters(context);
  const sample = await runWorker<HookCostSample>(task, workerEnv(context));
  const seen = await readCounters(context);
  const byId = new Map(sample.hooks.map((hook) => [hook.id, hook]));
  const plain = byId.get("plain");
  const msal = byId.get("msal-dac");
  if (!plain || !msal) throw new Error("hook-cost: missing plain or msal-dac samples");
  const results = sample.hooks.map((hook) => {
    const ns: Interval = meanInterval(hook.nsPerCall);
    const xPlain = geometricMeanRatio(hook.nsPerCall, plain.nsPerCall, 1);
    const xMsal = geometricMeanRatio(hook.nsPerCall, msal.nsPerCall, 1);
    return {
      benchmark: "hook-cost",
      hook: hook.id,
      label: HOOK_LABELS[hook.id],
      calls: hook.batchSize * hook.nsPerCall.length,
      batches: hook.nsPerCall.length,
      batchSize: hook.batchSize,
      nsPerCall: roundInterval(ns, 1),
      ratioToPlain: roundInterval(xPlain),
      ratioToMsalCached: roundInterval(xMsal),
      meanNsPerCall: round(mean(hook.nsPerCall), 1),
    };
  });
  return {
    results: [
      ...results,
      {
        benchmark: "hook-cost",
        class: "summary",
        tokenRequests: seen.tokenRequests,
        oursCredentialCalls: sample.oursCredentialCalls,
      },
    ],
    table: {
      title: `0. Cost of the password hook itself, warm process, token cached (ns per call, ${task.batches} batches of ~${task.targetBatchMs} ms each, interleaved)`,
      columns: ["hook", "calls", "ns/call [95% CI]", "x plain function [95% CI]", "x MSAL cached [95% CI]"],
      rows: results.map((r) => [
        r.label,
        String(r.calls),
        formatInterval(r.nsPerCall, 0),
        formatInterval(r.ratioToPlain, 2),
        formatInterval(r.ratioToMsalCached, 3),
      ]),
      notes: [
        "Each call is `await hook()` in a loop, timed per batch with process.hrtime.bigint(); the interval is a t interval over batch means, ratios are geometric means of per-batch ratios (batch j of one hook vs batch j of the other, run back to back).",
        "Called without `this` (no connecting pg client) our hook skips the live-socket TLS check it runs inside pg (TLS up, chain verified, certificate names the host: getPeerCertificate + checkServerIdentity); the second row passes a client on a real TLS socket to the gateway, so it includes that check (the per-connection cost inside pg).",
        `Managed identity via the emulator, 1 h tokens: MSAL answers from its in-memory cache after the first call (identity endpoint requests for the whole run: ${seen.tokenRequests}; credential calls by our provider: ${sample.oursCredentialCalls}).`,
      ],
    },
  };
}
