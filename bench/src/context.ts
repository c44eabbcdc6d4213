import type { Emulator, TlsAuthority } from "@org/entra-emulator";
import { DIRECT_URL_VARIABLE, STATIC_TOKEN_VARIABLE } from "./approaches.js";
import type { Backend } from "./backends.js";
import type { FakeAz } from "./fake-az.js";

/** What every benchmark gets from the orchestrator. */
export interface BenchContext {
  /** The emulator (identity endpoint + PostgreSQL gateway, + MySQL gateway when a backend exists). */
  readonly emulator: Emulator;
  /** The emulator's TLS key, certificate and CA (its gateways present this certificate). */
  readonly tls: TlsAuthority;
  readonly fakeAz: FakeAz;
  readonly backends: { readonly postgresql: Backend; readonly mysql: Backend | undefined };
  /** `BENCH_QUICK=1`: a ~30 s smoke run with small sample sizes. */
  readonly quick: boolean;
}

/** A printable table of one benchmark. */
export interface BenchTable {
  readonly title: string;
  readonly columns: readonly string[];
  readonly rows: ReadonlyArray<ReadonlyArray<string | number>>;
  readonly notes?: readonly string[];
}

/** What a benchmark returns: rows for `results.json` and a table for the console and the README. */
export interface BenchOutcome {
  readonly results: ReadonlyArray<Record<string, unknown>>;
  readonly table: BenchTable;
}

/**
 * The environment of a worker process: the parent's, minus anything Azure-ish it may carry,
 * plus the emulator's variables, the fake `az` first in PATH, a fresh 1 h static token and the
 * PostgreSQL backend's own URL (for the direct baseline).
 */
export function workerEnv(context: BenchContext): NodeJS.ProcessEnv {
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(
      ([name]) => !/^(AZURE_|IDENTITY_|MSI_|IMDS_|PGPASSWORD$|PGUSER$)/.test(name),
    ),
  );
  return {
    ...inherited,
    ...context.emulator.env,
    PATH: `${context.fakeAz.dir}:${process.env.PATH ?? ""}`,
    [STATIC_TOKEN_VARIABLE]: context.emulator.mintToken({ lifetimeInSeconds: 3600 }),
    [DIRECT_URL_VARIABLE]: context.backends.postgresql.url,
  };
}

/** Resets the emulator's counters and the fake-az spawn counter. */
export async function resetCounters(context: BenchContext): Promise<void> {
  context.emulator.resetCounters();
  await context.fakeAz.reset();
}

/** Token requests seen by the emulator and `az` spawns since the last reset. */
export async function readCounters(
  context: BenchContext,
): Promise<{ tokenRequests: number; azSpawns: number }> {
  return {
    tokenRequests: context.emulator.counters.tokenRequests,
    azSpawns: await context.fakeAz.invocations(),
  };
}
