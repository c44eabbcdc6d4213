import type { Socket } from "node:net";
import os from "node:os";
import type { TLSSocket } from "node:tls";
import type { AccessToken, TokenCredential } from "@azure/identity";
import pg from "pg";
import { STATIC_TOKEN_VARIABLE } from "./approaches.js";
import { markPhase, runWorker } from "./child.js";
import { type BenchContext, type BenchOutcome, workerEnv } from "./context.js";
import {
  type BulkSample,
  type Comparison,
  comparePaths,
  measureBulk,
  measureSelectOne,
  opsPerSec,
  type PathSession,
  type SelectOneSample,
  signed,
} from "./paired-paths.js";
import {
  formatInterval,
  formatSpread,
  type Interval,
  percentile,
  round,
  roundInterval,
  spread,
} from "./stats.js";
import { type Endpoint, listenRelay } from "./tcp-relay.js";

/**
 * Benchmark 7 (`proxy-relay`): the local auth proxy of `@org/entra-db-cli` (`startProxy`) on an
 * established PostgreSQL session, against a pg client talking verified TLS straight to the same
 * server (the emulator's gateway), on loopback and with a simulated one-way network delay.
 *
 * Processes: the emulator's gateway runs in the orchestrator; the proxy in a process of its own
 * (as `entra-db proxy` would), the delaying relay ("the network") in another, the control's bare
 * relays in a third, and the pg clients in a measuring worker per network setting. The services
 * stay up while the parent holds the answer to their `markPhase`.
 */

/**
 * `direct`: verified TLS straight to the server; `proxy`: plain TCP to `startProxy` in a process of
 * its own (like `entra-db proxy`); `inproc`: the same in the client's own process (loopback only);
 * `hop`: the control, a TLS client like `direct` through a bare TCP relay in a process of its own.
 */
type Path = "direct" | "proxy" | "inproc" | "hop";
type Network = "loopback" | "delayed";

/** Worker task: a service (`network` = delaying relay, `proxy`) or the measuring `client`. */
export type ProxyRelayTask =
  | {
      readonly kind: "proxy-relay";
      readonly role: "network";
      /** Where the delaying relay forwards to (the emulator's PostgreSQL gateway). */
      readonly upstream: Endpoint;
      /** Minimum one-way delay per chunk, each direction. */
      readonly delayMs: number;
    }
  | {
      readonly kind: "proxy-relay";
      readonly role: "hop";
      /** One bare relay per upstream, in this order. */
      readonly upstreams: readonly Endpoint[];
    }
  | {
      readonly kind: "proxy-relay";
      readonly role: "proxy";
      /** One proxy per upstream, in this order. */
      readonly upstreams: readonly Endpoint[];
      readonly database: string;
      /** PEM CA of the emulator: the proxy verifies the upstream certificate with it. */
      readonly ca: string;
    }
  | ProxyRelayClientTask;

/** The measuring worker: one direct and one proxied connection, batches interleaved. */
export interface ProxyRelayClientTask {
  readonly kind: "proxy-relay";
  readonly role: "client";
  /** Where the direct client connects with verified TLS (the gateway, or the relay in front of it). */
  readonly direct: Endpoint;
  /** The proxy's port on 127.0.0.1. */
  readonly proxyPort: number;
  /** The bare relay's port on localhost, for the `hop` control. */
  readonly hopPort?: number | undefined;
  /** Start a proxy to this upstream in the measuring worker itself, for the `inproc` path. */
  readonly inProcessProxyUpstream?: Endpoint | undefined;
  readonly database: string;
  readonly ca: string;
  /** `SELECT 1` round trips per path, after `warmupQueries` per path. */
  readonly queries: number;
  readonly batches: number;
  readonly warmupQueries: number;
  /** Rows of 1000 bytes per bulk result. */
  readonly bulkRows: number;
  /** Bulk results per path (after one warm-up each). */
  readonly bulkRepeats: number;
}

/** What the measuring worker reports. */
export interface ProxyRelayClientSample {
  readonly paths: readonly Path[];
  readonly select: Partial<Record<Path, SelectOneSample>>;
  readonly bulk: Partial<Record<Path, BulkSample>>;
  readonly bulkQuery: string;
  readonly directTls: { readonly authorized: boolean; readonly protocol: string | null };
  /** `current_user` on each path (the proxy signs in as the token's identity). */
  readonly users: Partial<Record<Path, string>>;
}

/** Applied delay per chunk, arrival to write (ms). */
interface DelaySummary {
  readonly chunks: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

/** What the delaying relay reports when it stops. */
interface NetworkStats {
  readonly connections: number;
  readonly chunks: number;
  readonly bytes: number;
  /** Chunks under 1 KiB (the SELECT 1 round trips, TLS records included) and the others (bulk). */
  readonly appliedDelayMs: { readonly small: DelaySummary; readonly large: DelaySummary };
}

/** What the proxy service reports when it stops. */
interface ProxyServiceStats {
  readonly proxies: ReadonlyArray<{
    readonly upstream: string;
    readonly accepted: number;
    readonly refused: number;
  }>;
}

// ---------------------------------------------------------------------------------------------
// Worker side

/** Runs one role of the benchmark in a worker process. */
export function runProxyRelayRole(task: ProxyRelayTask): Promise<unknown> {
  switch (task.role) {
    case "network":
      return serveNetwork(task.upstream, task.delayMs);
    case "hop":
      return serveHops(task.upstreams);
    case "proxy":
      return serveProxies(task.upstreams, task.database, task.ca);
    case "client":
      return measureProxyRelay(task);
  }
}

/** Announces the listening ports, then stays up until the parent answers (its measurements are done). */
async function announce(ports: readonly number[]): Promise<void> {
  // An orchestrator that dies (Ctrl-C) must not leave listening services behind.
  const orphaned = () => process.exit(1);
  process.once("disconnect", orphaned);
  try {
    await markPhase(`listening ${ports.join(",")}`);
  } finally {
    process.off("disconnect", orphaned);
  }
}

async function serveNetwork(upstream: Endpoint, delayMs: number): Promise<NetworkStats> {
  const relay = await startDelayRelay(upstream, delayMs);
  try {
    await announce([relay.port]);
  } finally {
    await relay.close();
  }
  return relay.stats();
}

async function serveHops(upstreams: readonly Endpoint[]): Promise<{ connections: number[] }> {
  const relays: Array<Awaited<ReturnType<typeof startBareRelay>>> = [];
  try {
    for (const upstream of upstreams) relays.push(await startBareRelay(upstream));
    await announce(relays.map((relay) => relay.port));
    return { connections: relays.map((relay) => relay.connections()) };
  } finally {
    await Promise.allSettled(relays.map((relay) => relay.close()));
  }
}

type EntraProxy = Awaited<ReturnType<typeof import("@org/entra-db-cli").startProxy>>;

/**
 * Proxies (`startProxy`, listening on 127.0.0.1) to `upstreams`, whose credential returns the
 * token the emulator minted for the workers (1 h): the login is not what is measured here.
 */
async function startProxies(
  upstreams: readonly Endpoint[],
  database: string,
  ca: string,
): Promise<EntraProxy[]> {
  const startProxy = await loadStartProxy();
  const token = process.env[STATIC_TOKEN_VARIABLE];
  if (!token) throw new Error(`${STATIC_TOKEN_VARIABLE} is not set`);
  const credential: TokenCredential = {
    getToken: async (): Promise<AccessToken> => ({ token, expiresOnTimestamp: Date.now() + 50 * 60_000 }),
  };
  const proxies: EntraProxy[] = [];
  try {
    for (const upstream of upstreams) {
      proxies.push(
        await startProxy({
          engine: "postgresql",
          host: upstream.host,
          port: upstream.port,
          database,
          ca,
          credential,
          env: {},
          listen: { host: "127.0.0.1", port: 0 },
        }),
      );
    }
    return proxies;
  } catch (error) {
    await Promise.allSettled(proxies.map((proxy) => proxy.close()));
    throw error;
  }
}

async function serveProxies(
  upstreams: readonly Endpoint[],
  database: string,
  ca: string,
): Promise<ProxyServiceStats> {
  const proxies = await startProxies(upstreams, database, ca);
  try {
    await announce(proxies.map((proxy) => proxy.port));
    return {
      proxies: proxies.map((proxy) => ({
        upstream: proxy.upstream,
        accepted: proxy.stats.accepted,
        refused: proxy.stats.refused,
      })),
    };
  } finally {
    await Promise.allSettled(proxies.map((proxy) => proxy.close()));
  }
}

/**
 * `startProxy` from the built `@org/entra-db-cli`, imported only when a proxy starts (proxy service,
 * in-process path) so that the other benchmarks' workers do not need the CLI package. A missing
 * `dist/` (being rebuilt) makes the worker exit without a reply, which `runWorker` retries after a pause.
 */
async function loadStartProxy(): Promise<typeof import("@org/entra-db-cli").startProxy> {
  let cli: typeof import("@org/entra-db-cli");
  try {
    cli = await import("@org/entra-db-cli");
  } catch (error) {
    if ((error as { code?: string }).code === "ERR_MODULE_NOT_FOUND") {
      console.error(`proxy-relay: Cannot find module @org/entra-db-cli (${(error as Error).message})`);
      process.exit(1);
    }
    throw error;
  }
  if (typeof cli.startProxy !== "function") {
    throw new Error(
      "@org/entra-db-cli does not export startProxy: its dist/ predates the proxy; build it first",
    );
  }
  return cli.startProxy;
}

/** A TCP relay that forwards every chunk, each direction, at least `delayMs` after it arrived, in order. */
async function startDelayRelay(
  upstream: Endpoint,
  delayMs: number,
): Promise<{ port: number; close(): Promise<void>; stats(): NetworkStats }> {
  const delays = { small: [] as number[], large: [] as number[] };
  let chunks = 0;
  let bytes = 0;
  const record = (appliedMs: number, length: number) => {
    chunks += 1;
    bytes += length;
    const list = length < 1024 ? delays.small : delays.large;
    if (list.length < 1_000_000) list.push(appliedMs);
  };
  const line = new DelayLine(delayMs, record);
  const relay = await listenRelay(upstream, (client, server) => {
    line.pipe(client, server);
    line.pipe(server, client);
  });
  const summary = (values: number[]): DelaySummary => {
    const sorted = values.sort((a, b) => a - b);
    return {
      chunks: sorted.length,
      p50: round(percentile(sorted, 50), 3),
      p99: round(percentile(sorted, 99), 3),
      max: round(sorted[sorted.length - 1] ?? Number.NaN, 3),
    };
  };
  return {
    port: relay.port,
    close: relay.close,
    stats: () => ({
      connections: relay.connections(),
      chunks,
      bytes,
      appliedDelayMs: { small: summary(delays.small), large: summary(delays.large) },
    }),
  };
}

/** The control's relay: `pipe()` both ways, no delay. */
function startBareRelay(
  upstream: Endpoint,
): Promise<{ port: number; connections(): number; close(): Promise<void> }> {
  return listenRelay(upstream, (client, server) => {
    client.pipe(server);
    server.pipe(client);
  });
}

/** Up to this many bytes wait in the relay per direction before it stops reading (a window of sorts). */
const RELAY_HIGH_WATER = 4 * 1024 * 1024;

/** The last stretch of a delay (ms) is slept with `Atomics.wait`, not a timer (1 ms granularity)... */
const PRECISE_WAIT_MS = 2;
/** ...while the line holds at most this many chunks (round trips); a backlog (bulk) waits on timers, reading on. */
const PRECISE_MAX_CHUNKS = 2;

/** One direction of one relayed connection: a FIFO of chunks waiting for their time. */
interface DelayedPipe {
  readonly queue: Array<{ readonly chunk: Buffer; readonly due: number; readonly arrived: number }>;
  forward(): void;
}

/**
 * Forwards chunks once `delayMs` have passed since they arrived, each direction of every
 * connection in order. Node's timers have millisecond granularity (a chunk would wait between
 * `delayMs` and `delayMs + 1`, phase-locked to the timer grid, which would hide or amplify the
 * sub-millisecond differences measured here), so while only a chunk or two are in flight (a round
 * trip) the last stretch of the wait is slept with `Atomics.wait` (no spinning; it overshoots by
 * ~0.1 ms, the timer slack). That blocks the relay's thread, so with a backlog (a bulk result, where
 * more data keeps arriving and a millisecond more or less does not matter) it waits on timers instead.
 */
class DelayLine {
  readonly #pipes = new Set<DelayedPipe>();
  readonly #sleeper = new Int32Array(new SharedArrayBuffer(4));
  #scheduled = false;
  #queuedChunks = 0;

  constructor(
    readonly delayMs: number,
    readonly record: (appliedMs: number, length: number) => void,
  ) {}

  /** Relays `from` to `to` through the line; stops reading while `to` is backed up or too much is queued. */
  pipe(from: Socket, to: Socket): void {
    let queuedBytes = 0;
    let ended = false;
    let blocked = false;
    const updateFlow = () => {
      const hold = blocked || queuedBytes > RELAY_HIGH_WATER;
      if (hold && !from.isPaused()) from.pause();
      else if (!hold && from.isPaused()) from.resume();
    };
    const pipe: DelayedPipe = {
      queue: [],
      forward: () => {
        const head = pipe.queue.shift();
        if (!head) return;
        this.#queuedChunks -= 1;
        queuedBytes -= head.chunk.length;
        this.record(performance.now() - head.arrived, head.chunk.length);
        if (!to.write(head.chunk)) blocked = true;
        updateFlow();
        if (ended && pipe.queue.length === 0) to.end();
      },
    };
    this.#pipes.add(pipe);
    from.on("data", (chunk: Buffer) => {
      const arrived = performance.now();
      pipe.queue.push({ chunk, arrived, due: arrived + this.delayMs });
      this.#queuedChunks += 1;
      queuedBytes += chunk.length;
      updateFlow();
      this.#schedule();
    });
    from.on("end", () => {
      ended = true;
      if (pipe.queue.length === 0) to.end();
    });
    from.on("close", () => this.#pipes.delete(pipe));
    to.on("drain", () => {
      blocked = false;
      updateFlow();
    });
  }

  /** The pipe whose head chunk is due first. */
  #next(): DelayedPipe | undefined {
    let next: DelayedPipe | undefined;
    for (const pipe of this.#pipes) {
      const head = pipe.queue[0];
      if (head && (!next || head.due < (next.queue[0]?.due ?? Number.POSITIVE_INFINITY))) next = pipe;
    }
    return next;
  }

  #schedule(): void {
    if (this.#scheduled) return;
    const due = this.#next()?.queue[0]?.due;
    if (due === undefined) return;
    this.#scheduled = true;
    const run = () => {
      this.#scheduled = false;
      this.#run();
    };
    const wait = due - performance.now();
    if (this.#queuedChunks > PRECISE_MAX_CHUNKS) setTimeout(run, Math.max(1, Math.ceil(wait)));
    else if (wait > PRECISE_WAIT_MS) setTimeout(run, Math.floor(wait - PRECISE_WAIT_MS / 2));
    else setImmediate(run);
  }

  /** Forwards every due chunk, sleeping through short waits of a round trip; leaves the rest to a timer. */
  #run(): void {
    for (let pipe = this.#next(); pipe; pipe = this.#next()) {
      const wait = (pipe.queue[0]?.due ?? 0) - performance.now();
      if (wait > 0) {
        if (wait > PRECISE_WAIT_MS || this.#queuedChunks > PRECISE_MAX_CHUNKS) break;
        Atomics.wait(this.#sleeper, 0, 0, wait);
      }
      pipe.forward();
    }
    this.#schedule();
  }
}

/** The measuring worker: SELECT 1 batches rotating between the paths, then bulk results rotating. */
async function measureProxyRelay(task: ProxyRelayClientTask): Promise<ProxyRelayClientSample> {
  const token = process.env[STATIC_TOKEN_VARIABLE];
  if (!token) throw new Error(`${STATIC_TOKEN_VARIABLE} is not set`);
  // A verified TLS session to the server (straight, or through the bare relay), as an app with a token hook would have.
  const tlsClient = (endpoint: Endpoint) =>
    new pg.Client({
      host: endpoint.host,
      port: endpoint.port,
      database: task.database,
      user: process.env.AZURE_POSTGRESQL_USER,
      password: token,
      ssl: { ca: task.ca, servername: "localhost" },
    });
  // No TLS, no token: the proxy signs in upstream.
  const proxyClient = (port: number) =>
    new pg.Client({ host: "127.0.0.1", port, database: task.database, user: "bench", ssl: false });
  const inProcess = task.inProcessProxyUpstream
    ? (await startProxies([task.inProcessProxyUpstream], task.database, task.ca))[0]
    : undefined;
  const clients = new Map<Path, pg.Client>([
    ["direct", tlsClient(task.direct)],
    ["proxy", proxyClient(task.proxyPort)],
  ]);
  if (inProcess) clients.set("inproc", proxyClient(inProcess.port));
  if (task.hopPort !== undefined) clients.set("hop", tlsClient({ host: "localhost", port: task.hopPort }));
  const paths = [...clients.keys()];
  const client = (path: Path) => clients.get(path) as pg.Client;
  const socket = (path: Path) =>
    (client(path) as unknown as { connection: { stream: Socket } }).connection.stream;
  const query = async (path: Path, text: string) =>
    (await client(path).query({ text, rowMode: "array" })).rowCount ?? 0;
  try {
    await Promise.all(paths.map((path) => client(path).connect()));
    const directSocket = socket("direct") as TLSSocket;
    const directTls = {
      authorized: directSocket.authorized === true,
      protocol: typeof directSocket.getProtocol === "function" ? directSocket.getProtocol() : null,
    };
    const users: Partial<Record<Path, string>> = {};
    for (const path of paths)
      users[path] = String((await client(path).query("select current_user as u")).rows[0]?.u);

    const sessions = new Map<Path, PathSession>(
      paths.map((path) => [
        path,
        { query: (text: string) => query(path, text), bytesRead: () => socket(path).bytesRead },
      ]),
    );
    const select = await measureSelectOne(sessions, {
      queries: task.queries,
      batches: task.batches,
      warmupQueries: task.warmupQueries,
    });
    const bulkQuery = `select repeat('x', 1000) from generate_series(1, ${task.bulkRows})`;
    const bulk = await measureBulk(sessions, bulkQuery, task.bulkRepeats, task.bulkRows);
    return { paths, select, bulk, bulkQuery, directTls, users };
  } finally {
    await Promise.allSettled(paths.map((path) => client(path).end()));
    await inProcess?.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Parent side

/** A worker that stays up (listening) until {@link Service.stop}. */
interface Service<T> {
  readonly ports: readonly number[];
  stop(): Promise<T>;
}

async function startService<T>(task: ProxyRelayTask, env: NodeJS.ProcessEnv): Promise<Service<T>> {
  let release!: () => void;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let listening!: (ports: number[]) => void;
  const announced = new Promise<number[]>((resolve) => {
    listening = resolve;
  });
  const done = runWorker<T>(task, env, {
    timeoutInMs: 900_000,
    onMark: (mark) => {
      listening(
        mark
          .replace(/^listening /, "")
          .split(",")
          .map(Number),
      );
      return released;
    },
  });
  done.catch(() => {}); // awaited by stop(); avoids an unhandled rejection before that
  const ports = await Promise.race([
    announced,
    done.then(() => {
      throw new Error(`the ${task.role} service ended before listening`);
    }),
  ]);
  return {
    ports,
    stop: () => {
      release();
      return done;
    },
  };
}

interface Plan {
  readonly delayMs: number;
  readonly loopbackQueries: number;
  readonly delayedQueries: number;
  readonly batches: { readonly loopback: number; readonly delayed: number };
  readonly warmup: { readonly loopback: number; readonly delayed: number };
  readonly bulkRows: number;
  readonly bulkRepeats: number;
}

function positive(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!(value > 0)) throw new Error(`${name} must be a positive number (got ${raw})`);
  return value;
}

function planFor(quick: boolean): Plan {
  return {
    delayMs: positive("BENCH_PROXY_DELAY_MS", 1),
    loopbackQueries: Math.round(positive("BENCH_PROXY_QUERIES", quick ? 2000 : 10_000)),
    delayedQueries: Math.round(positive("BENCH_PROXY_DELAYED_QUERIES", quick ? 300 : 1200)),
    batches: { loopback: quick ? 20 : 40, delayed: quick ? 10 : 30 },
    warmup: { loopback: quick ? 300 : 1000, delayed: quick ? 20 : 50 },
    bulkRows: Math.round(positive("BENCH_PROXY_BULK_ROWS", quick ? 10_000 : 50_000)),
    bulkRepeats: Math.round(positive("BENCH_PROXY_BULK_REPEATS", quick ? 3 : 5)),
  };
}

interface Goal {
  readonly op: ">=" | "<=";
  readonly value: number;
  readonly unit?: string;
}

const GOALS = {
  loopbackSelectOneRatio: { op: ">=", value: 0.65 },
  loopbackAddedLatencyUs: { op: "<=", value: 50, unit: " µs" },
  loopbackBulkRatio: { op: ">=", value: 0.9 },
  delayedSelectOneRatio: { op: ">=", value: 0.95 },
  delayedBulkRatio: { op: ">=", value: 0.95 },
} as const satisfies Record<string, Goal>;

/** `pass`/`MISS` by the point estimate; the CI note says when the interval does not decide it. */
function verdict(interval: Interval, goal: Goal): { met: boolean; ciStraddlesGoal: boolean; text: string } {
  const met = goal.op === ">=" ? interval.estimate >= goal.value : interval.estimate <= goal.value;
  const ciStraddlesGoal =
    Number.isFinite(interval.low) && interval.low < goal.value && goal.value < interval.high;
  return {
    met,
    ciStraddlesGoal,
    text: `${met ? "pass" : "MISS"}${ciStraddlesGoal ? " (CI straddles goal)" : ""}`,
  };
}

function goalText(goal: Goal | undefined): string {
  return goal ? `${goal.op === ">=" ? "≥" : "≤"} ${goal.value}${goal.unit ?? ""}` : "-";
}

/** The result's PostgreSQL wire bytes (MB), as read on the proxy client's plain socket. */
function payloadMB(sample: ProxyRelayClientSample): number {
  return (sample.bulk.proxy?.bytesReadPerQuery ?? Number.NaN) / 1e6;
}

function compare(sample: ProxyRelayClientSample, path: Path): Comparison {
  const at = (p: Path) => ({
    select: sample.select[p] as SelectOneSample,
    bulk: sample.bulk[p] as BulkSample,
  });
  return comparePaths(at("direct"), at(path), payloadMB(sample));
}

const PATH_LABELS: Readonly<Record<Path, string>> = {
  direct: "direct (TLS to the gateway)",
  proxy: "proxy (own process)",
  inproc: "proxy in the client's process",
  hop: "control: bare TCP hop",
};

const RESULT_TARGETS: Readonly<Record<Exclude<Path, "direct">, string>> = {
  proxy: "ratio",
  inproc: "ratio-in-process",
  hop: "control-ratio",
};

/** Benchmark 7: the local auth proxy vs a direct verified-TLS session, loopback and 1 ms away. */
export async function benchProxyRelay(context: BenchContext): Promise<BenchOutcome> {
  const gateway = context.emulator.postgres;
  if (!gateway) throw new Error("the emulator has no PostgreSQL gateway");
  const plan = planFor(context.quick);
  const env = workerEnv(context);
  const ca = context.emulator.ca;
  const gatewayEndpoint = { host: gateway.host, port: gateway.port };
  const loadAtStart = os.loadavg()[0] ?? Number.NaN;

  const services: Array<Service<unknown>> = [];
  const samples: Partial<Record<Network, ProxyRelayClientSample>> = {};
  let stopped: Array<PromiseSettledResult<unknown>> = [];
  try {
    const network = await startService<NetworkStats>(
      { kind: "proxy-relay", role: "network", upstream: gatewayEndpoint, delayMs: plan.delayMs },
      env,
    );
    services.push(network);
    const relay = { host: "localhost", port: network.ports[0] as number };
    // The proxy and the control's hop sit on the app's side of the "network": with the delay their
    // upstream is the delaying relay, by the name the emulator certificate carries.
    const hop = await startService<{ connections: number[] }>(
      { kind: "proxy-relay", role: "hop", upstreams: [gatewayEndpoint, relay] },
      env,
    );
    services.push(hop);
    const proxy = await startService<ProxyServiceStats>(
      {
        kind: "proxy-relay",
        role: "proxy",
        upstreams: [gatewayEndpoint, relay],
        database: gateway.database,
        ca,
      },
      env,
    );
    services.push(proxy);
    const common = {
      kind: "proxy-relay",
      role: "client",
      database: gateway.database,
      ca,
      bulkRows: plan.bulkRows,
      bulkRepeats: plan.bulkRepeats,
    } as const;
    samples.loopback = await runWorker<ProxyRelayClientSample>(
      {
        ...common,
        direct: gatewayEndpoint,
        proxyPort: proxy.ports[0] as number,
        hopPort: hop.ports[0] as number,
        inProcessProxyUpstream: gatewayEndpoint,
        queries: plan.loopbackQueries,
        batches: plan.batches.loopback,
        warmupQueries: plan.warmup.loopback,
      } satisfies ProxyRelayClientTask,
      env,
    );
    samples.delayed = await runWorker<ProxyRelayClientSample>(
      {
        ...common,
        direct: relay,
        proxyPort: proxy.ports[1] as number,
        hopPort: hop.ports[1] as number,
        queries: plan.delayedQueries,
        batches: plan.batches.delayed,
        warmupQueries: plan.warmup.delayed,
      } satisfies ProxyRelayClientTask,
      env,
    );
  } finally {
    stopped = await Promise.allSettled(services.map((service) => service.stop()));
  }
  const failedService = stopped.find((outcome) => outcome.status === "rejected");
  if (failedService) throw failedService.reason;
  const [networkStats, hopStats, proxyStats] = stopped.map((outcome) =>
    outcome.status === "fulfilled" ? outcome.value : undefined,
  ) as [NetworkStats, { connections: number[] }, ProxyServiceStats];

  const loadAtEnd = os.loadavg()[0] ?? Number.NaN;
  const loopback = samples.loopback as ProxyRelayClientSample;
  const delayed = samples.delayed as ProxyRelayClientSample;
  const networkLabel: Record<Network, string> = {
    loopback: "loopback",
    delayed: `+${plan.delayMs} ms one way`,
  };
  const results: Array<Record<string, unknown>> = [];
  const rows: string[][] = [];
  for (const [network, sample] of [
    ["loopback", loopback],
    ["delayed", delayed],
  ] as const) {
    const oneWayDelayMs = network === "loopback" ? 0 : plan.delayMs;
    const mb = payloadMB(sample);
    for (const path of sample.paths) {
      const select = sample.select[path] as SelectOneSample;
      const bulk = sample.bulk[path] as BulkSample;
      const mbPerSec = spread(bulk.seconds.map((s) => mb / s));
      results.push({
        benchmark: "proxy-relay",
        network,
        oneWayDelayMs,
        target: path,
        selectOne: {
          queries: select.queries,
          batches: select.batchMs.length,
          opsPerSec: round(opsPerSec(select), 1),
          meanUs: round(select.meanUs, 1),
          p50Us: round(select.p50Us, 1),
          p99Us: round(select.p99Us, 1),
        },
        bulk: {
          query: sample.bulkQuery,
          repeats: bulk.seconds.length,
          payloadBytesPerQuery: Math.round(mb * 1e6),
          bytesReadPerQuery: Math.round(bulk.bytesReadPerQuery),
          MBPerSec: {
            median: round(mbPerSec.median, 2),
            min: round(mbPerSec.min, 2),
            max: round(mbPerSec.max, 2),
          },
        },
        ...(path === "direct" ? { tls: sample.directTls } : {}),
        user: sample.users[path],
      });
    }
    for (const path of sample.paths.filter((p) => p !== "direct")) {
      const c = compare(sample, path);
      const goals =
        path === "hop"
          ? { selectOneRatio: undefined, addedLatencyUs: undefined, bulkRatio: undefined }
          : network === "loopback"
            ? {
                selectOneRatio: GOALS.loopbackSelectOneRatio,
                addedLatencyUs: GOALS.loopbackAddedLatencyUs,
                bulkRatio: GOALS.loopbackBulkRatio,
              }
            : {
                selectOneRatio: GOALS.delayedSelectOneRatio,
                addedLatencyUs: undefined,
                bulkRatio: GOALS.delayedBulkRatio,
              };
      const check = (interval: Interval, goal: Goal | undefined) =>
        goal ? verdict(interval, goal) : undefined;
      const verdicts = {
        selectOneRatio: check(c.selectOneRatio, goals.selectOneRatio),
        addedLatencyMeanUs: check(c.addedMeanUs, goals.addedLatencyUs),
        addedLatencyMedianUs: check(c.addedMedianUs, goals.addedLatencyUs),
        bulkRatio: check(c.bulkRatio, goals.bulkRatio),
      };
      const select = {
        direct: sample.select.direct as SelectOneSample,
        path: sample.select[path] as SelectOneSample,
      };
      const label = [networkLabel[network], PATH_LABELS[path]];
      rows.push(
        [
          ...label,
          `SELECT 1/s (${select.path.queries} per path)`,
          c.opsPerSec.reference.toFixed(0),
          c.opsPerSec.path.toFixed(0),
          formatInterval(c.selectOneRatio),
          goalText(goals.selectOneRatio),
          verdicts.selectOneRatio?.text ?? "-",
        ],
        [
          ...label,
          "µs per round trip, mean",
          select.direct.meanUs.toFixed(1),
          select.path.meanUs.toFixed(1),
          signed(c.addedMeanUs),
          goalText(goals.addedLatencyUs),
          verdicts.addedLatencyMeanUs?.text ?? "-",
        ],
        [
          ...label,
          "µs per round trip, median",
          select.direct.p50Us.toFixed(1),
          select.path.p50Us.toFixed(1),
          signed(c.addedMedianUs),
          goalText(goals.addedLatencyUs),
          verdicts.addedLatencyMedianUs?.text ?? "-",
        ],
        [
          ...label,
          `bulk MB/s (${c.bulkMBPerSec.path.values.length} x ${mb.toFixed(1)} MB per path)`,
          formatSpread(c.bulkMBPerSec.reference, 1),
          formatSpread(c.bulkMBPerSec.path, 1),
          formatInterval(c.bulkRatio),
          goalText(goals.bulkRatio),
          verdicts.bulkRatio?.text ?? "-",
        ],
      );
      results.push({
        benchmark: "proxy-relay",
        network,
        oneWayDelayMs,
        target: RESULT_TARGETS[path],
        versus: "direct",
        selectOneOpsRatio: roundInterval(c.selectOneRatio),
        addedLatencyMeanUs: roundInterval(c.addedMeanUs, 2),
        addedLatencyMedianUs: roundInterval(c.addedMedianUs, 2),
        pooledMedianDifferenceUs: round(c.pooledMedianDifferenceUs, 2),
        bulkMBRatio: roundInterval(c.bulkRatio),
        ...(path !== "hop"
          ? {
              goals: Object.fromEntries(Object.entries(goals).filter(([, goal]) => goal !== undefined)),
              met: Object.fromEntries(
                Object.entries(verdicts)
                  .filter(([, v]) => v !== undefined)
                  .map(([key, v]) => [key, { met: v?.met, ciStraddlesGoal: v?.ciStraddlesGoal }]),
              ),
            }
          : {}),
      });
    }
  }
  results.push({
    benchmark: "proxy-relay",
    target: "services",
    network: networkStats,
    proxies: proxyStats.proxies,
    hopConnections: hopStats.connections,
    plan,
    loadAverage1m: { atStart: round(loadAtStart, 2), atEnd: round(loadAtEnd, 2), cores: os.cpus().length },
  });

  const delay = networkStats.appliedDelayMs;
  const delayText = (d: DelaySummary | undefined) =>
    d && d.chunks > 0 ? `p50 ${d.p50} ms, p99 ${d.p99} ms, max ${d.max} ms (${d.chunks} chunks)` : "n/a";
  return {
    results,
    table: {
      title:
        "7. Local auth proxy (`startProxy`: plain TCP client -> proxy -> verified TLS) vs a direct verified-TLS session, one established connection per path",
      columns: ["network", "path", "measure", "direct", "this path", "vs direct [95% CI]", "goal", "verdict"],
      rows,
      notes: [
        'direct = pg client with `ssl: { ca, servername: "localhost" }` and a minted token, straight to the emulator\'s PostgreSQL gateway ' +
          `(TLS ${loopback.directTls.protocol ?? "?"}, certificate verified: ${loopback.directTls.authorized}); proxy = pg client without TLS or token to \`startProxy\` on 127.0.0.1 ` +
          "(in a process of its own, like `entra-db proxy`), which opened verified TLS to the same gateway and signed in with a token; " +
          `users: ${loopback.paths.map((path) => `${path} ${loopback.users[path]}`).join(", ")}. Gateway (orchestrator process) and backend are the same for every path.`,
        "proxy in the client's process (loopback only) = the same `startProxy`, started in the measuring worker: the proxy's own cost without a process hop (the goals are shown for it too; the headline is the own-process proxy). " +
          "control: bare TCP hop = a TLS client like direct, through a bare TCP relay (`pipe()` both ways, noDelay) in a process of its own where the proxy sits: " +
          "what one extra process hop costs on this machine, a floor for any out-of-process proxy here.",
        `SELECT 1: one worker per network setting; ${plan.warmup.loopback} (delayed: ${plan.warmup.delayed}) warm-up queries per path, then ${plan.batches.loopback} ` +
          `(delayed: ${plan.batches.delayed}) batches per path, batch j of every path back to back, the order cycling through the rotations of the paths and their reverses. ` +
          "Ratio = queries/s of the path / direct, geometric mean of the per-batch-pair ratios, t interval over the pairs. " +
          "µs rows: mean and median of each path's per-query latencies; the difference is path - direct per batch pair (batch means, or batch medians), averaged, t interval over the pairs.",
        `Bulk: \`${loopback.bulkQuery}\` (rows as arrays); MB = the result's PostgreSQL wire bytes as read on the proxy client's plain socket; ` +
          "one warm-up result per path, then results rotating between the paths; MB/s median (min-max); ratio = geometric mean of the paired time ratios, t interval over the pairs.",
        `+${plan.delayMs} ms one way: a delaying TCP relay (own process) in front of the gateway, listening on localhost, used by the direct client and as the upstream of the own-process proxy and of the control's hop ` +
          '(they sit on the app side of the "network"); every chunk is forwarded, in order, once it has waited the delay (the last stretch slept with `Atomics.wait`, not a 1 ms-granular timer). Applied delay per chunk: ' +
          `under 1 KiB (SELECT 1) ${delayText(delay?.small)}; larger (bulk) ${delayText(delay?.large)}. ` +
          "No bandwidth limit: the relay adds latency, not a window.",
        `Every process shares ${os.cpus().length} cores with the backend and anything else running: load average (1 min) ${loadAtStart.toFixed(2)} at the start, ${loadAtEnd.toFixed(2)} at the end.`,
        'verdict: pass/MISS by the point estimate; "CI straddles goal" = the 95 % interval contains the goal, so this run does not decide it. Goals are printed, never asserted.',
      ],
    },
  };
}
