import { readFileSync } from "node:fs";
import type { Socket } from "node:net";
import os from "node:os";
import { createSecureContext, TLSSocket } from "node:tls";
import mysql from "mysql2/promise";
import pg from "pg";
import { gatewayConfig, STATIC_TOKEN_VARIABLE } from "./approaches.js";
import { runWorker } from "./child.js";
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
import { formatInterval, formatSpread, round, roundInterval } from "./stats.js";
import { type Endpoint, listenRelay, type Relay } from "./tcp-relay.js";

type Engine = "postgresql" | "mysql";
/**
 * `direct`: plain TCP to the backend, its own login; `relay`: TLS to a plain Node relay in the
 * orchestrator (TLS terminated, `pipe()` to the backend, no auth logic), the backend's own login;
 * `gateway`: TLS to the emulator's gateway (orchestrator process) with a token.
 */
type Path = "direct" | "relay" | "gateway";

/** Worker task of benchmark 6: one connection per path, `SELECT 1` batches then bulk results, rotating. */
export interface GatewayThroughputTask {
  readonly kind: "gateway-throughput";
  readonly engine: Engine;
  /** Backend URL for `direct` (plain TCP, the backend's own login) and, over TLS, for `relay`. */
  readonly directUrl: string;
  /** The plain relay's port on `localhost`; none leaves the `relay` path out. */
  readonly relayPort?: number | undefined;
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
export interface GatewayThroughputSample {
  readonly paths: readonly Path[];
  readonly select: Partial<Record<Path, SelectOneSample>>;
  readonly bulk: Partial<Record<Path, BulkSample>>;
  readonly bulkQuery: string;
}

/** One open connection. */
interface Session extends PathSession {
  close(): Promise<void>;
}

function staticToken(): string {
  const token = process.env[STATIC_TOKEN_VARIABLE];
  if (!token) throw new Error(`${STATIC_TOKEN_VARIABLE} is not set`);
  return token;
}

/** The emulator's CA, which the workers trust through NODE_EXTRA_CA_CERTS. */
function emulatorCa(): string {
  return readFileSync(process.env.NODE_EXTRA_CA_CERTS ?? "", "utf8");
}

async function openPostgres(task: GatewayThroughputTask, path: Path): Promise<Session> {
  const url = new URL(task.directUrl);
  const config: pg.ClientConfig =
    path === "direct"
      ? { connectionString: task.directUrl }
      : path === "relay"
        ? {
            host: "localhost",
            port: task.relayPort,
            user: decodeURIComponent(url.username),
            password: decodeURIComponent(url.password),
            database: url.pathname.slice(1),
            ssl: { ca: emulatorCa() },
          }
        : { ...gatewayConfig(), password: staticToken() };
  const client = new pg.Client(config);
  await client.connect();
  const socket = () => (client as unknown as { connection: { stream: Socket } }).connection.stream;
  return {
    query: async (sql) => (await client.query({ text: sql, rowMode: "array" })).rowCount ?? 0,
    bytesRead: () => socket().bytesRead,
    close: () => client.end(),
  };
}

async function openMysql(task: GatewayThroughputTask, path: Path): Promise<Session> {
  if (path === "relay") throw new Error("benchmark 6 has no plain relay for MySQL");
  const env = process.env;
  const connection =
    path === "direct"
      ? await mysql.createConnection({ uri: task.directUrl })
      : await mysql.createConnection({
          host: env.AZURE_MYSQL_HOST,
          port: Number(env.AZURE_MYSQL_PORT),
          database: env.AZURE_MYSQL_DATABASE,
          user: env.AZURE_MYSQL_USER,
          ssl: { ca: emulatorCa(), verifyIdentity: true },
          authPlugins: { mysql_clear_password: () => () => Buffer.from(`${staticToken()}\0`) },
        });
  const socket = () => (connection as unknown as { connection: { stream: Socket } }).connection.stream;
  return {
    query: async (sql) => {
      const [rows] = await connection.query({ sql, rowsAsArray: true });
      return Array.isArray(rows) ? rows.length : 0;
    },
    bytesRead: () => socket().bytesRead,
    close: () => connection.end(),
  };
}

/** A bulk query returning `rows` rows of 1000 bytes: generate_series, MariaDB's sequence engine, or a recursive CTE. */
async function bulkQueryFor(session: Session, engine: Engine, rows: number): Promise<string> {
  if (engine === "postgresql") return `select repeat('x', 1000) from generate_series(1, ${rows})`;
  try {
    await session.query("select seq from seq_1_to_3");
    return `select repeat('x', 1000) from seq_1_to_${rows}`;
  } catch {
    await session.query(`set session cte_max_recursion_depth = ${rows + 1}`);
    return `with recursive s(n) as (select 1 union all select n + 1 from s where n < ${rows}) select repeat('x', 1000) from s`;
  }
}

/** Worker side: `SELECT 1` batches (latency-bound), then bulk results (bandwidth-bound), rotating between the paths. */
export async function measureGatewayThroughput(
  task: GatewayThroughputTask,
): Promise<GatewayThroughputSample> {
  const paths: Path[] = task.relayPort === undefined ? ["direct", "gateway"] : ["direct", "relay", "gateway"];
  const sessions = new Map<Path, Session>();
  try {
    for (const path of paths) {
      sessions.set(
        path,
        task.engine === "postgresql" ? await openPostgres(task, path) : await openMysql(task, path),
      );
    }
    const select = await measureSelectOne(sessions, task);
    const bulkQuery = await bulkQueryFor(sessions.get("direct") as Session, task.engine, task.bulkRows);
    const bulk = await measureBulk(sessions, bulkQuery, task.bulkRepeats, task.bulkRows);
    return { paths, select, bulk, bulkQuery };
  } finally {
    await Promise.allSettled([...sessions.values()].map((session) => session.close()));
  }
}

/** PostgreSQL's SSLRequest code (the second int32 of the 8-byte request). */
const PG_SSL_REQUEST_CODE = 80877103;

/**
 * The plain relay of benchmark 6: as fast as a TLS-terminating relay can be in Node, with no auth
 * logic. It answers PostgreSQL's SSLRequest with `S` (PostgreSQL negotiates TLS in-band, so a
 * `tls.createServer` cannot take the connection as is), terminates TLS with the emulator's
 * certificate (a `TLSSocket` over the accepted socket, which is what `tls.createServer` does too),
 * and `pipe()`s both ways to a plain TCP connection to the backend; `noDelay` on every socket.
 */
function startPgTlsRelay(
  upstream: Endpoint,
  tls: { readonly key: string; readonly cert: string },
): Promise<Relay> {
  const secureContext = createSecureContext({ key: tls.key, cert: tls.cert });
  return listenRelay(upstream, (client, backend) => {
    let request = Buffer.alloc(0);
    const onRequest = (chunk: Buffer) => {
      request = Buffer.concat([request, chunk]);
      if (request.length < 8) return;
      client.off("data", onRequest);
      client.pause();
      // The client waits for `S` before its ClientHello, so nothing follows the 8 bytes.
      if (request.length !== 8 || request.readInt32BE(4) !== PG_SSL_REQUEST_CODE) {
        client.destroy();
        return;
      }
      client.write("S");
      const secure = new TLSSocket(client, { isServer: true, secureContext });
      secure.setNoDelay(true);
      secure.on("error", () => client.destroy());
      secure.pipe(backend);
      backend.pipe(secure);
    };
    client.on("data", onRequest);
  });
}

function endpointOf(url: string): Endpoint {
  const parsed = new URL(url);
  return { host: parsed.hostname, port: Number(parsed.port || 5432) };
}

interface Plan {
  readonly queries: number;
  readonly batches: number;
  readonly warmupQueries: number;
  readonly bulkRows: number;
  readonly bulkRepeats: number;
}

function planFor(quick: boolean): Plan {
  return quick
    ? { queries: 3000, batches: 20, warmupQueries: 300, bulkRows: 10_000, bulkRepeats: 4 }
    : { queries: 20_000, batches: 40, warmupQueries: 1000, bulkRows: 20_000, bulkRepeats: 10 };
}

/** `a` against `b` as printed: the `SELECT 1` ratio, the µs added (median and mean) and the bulk ratio. */
function comparisonCells(c: Comparison | undefined): {
  ops: string;
  median: string;
  mean: string;
  bulk: string;
} {
  if (!c) return { ops: "n/a", median: "n/a", mean: "n/a", bulk: "n/a" };
  return {
    ops: formatInterval(c.selectOneRatio),
    median: signed(c.addedMedianUs),
    mean: signed(c.addedMeanUs),
    bulk: formatInterval(c.bulkRatio),
  };
}

/**
 * Benchmark 6: what the emulator's gateway costs on an established session, PostgreSQL and MySQL,
 * next to the floor of any TLS-terminating relay in Node (PostgreSQL): the same client work directly
 * to the backend (plain TCP), through a plain Node relay and through the gateway (both TLS from the
 * client, plain TCP to the backend, both in the orchestrator process). One measuring worker per
 * engine holds one connection per path; batches and bulk results rotate between the paths.
 */
export async function benchGatewayThroughput(context: BenchContext): Promise<BenchOutcome> {
  const engines: Array<{ engine: Engine; url: string }> = [
    { engine: "postgresql", url: context.backends.postgresql.url },
    ...(context.backends.mysql ? [{ engine: "mysql" as const, url: context.backends.mysql.url }] : []),
  ];
  const plan = planFor(context.quick);
  const loadAtStart = os.loadavg()[0] ?? Number.NaN;
  const results: Array<Record<string, unknown>> = [];
  const rows: string[][] = [];
  let bulkQueryText = "";
  let payloadText = "";
  for (const { engine, url } of engines) {
    const relay = engine === "postgresql" ? await startPgTlsRelay(endpointOf(url), context.tls) : undefined;
    let sample: GatewayThroughputSample;
    let relayConnections = 0;
    try {
      sample = await runWorker<GatewayThroughputSample>(
        {
          kind: "gateway-throughput",
          engine,
          directUrl: url,
          relayPort: relay?.port,
          ...plan,
        } satisfies GatewayThroughputTask,
        workerEnv(context),
        { timeoutInMs: 600_000 },
      );
    } finally {
      relayConnections = relay?.connections() ?? 0;
      await relay?.close();
    }
    const at = (path: Path) =>
      sample.select[path] && sample.bulk[path]
        ? { select: sample.select[path] as SelectOneSample, bulk: sample.bulk[path] as BulkSample }
        : undefined;
    const direct = at("direct");
    const gateway = at("gateway");
    if (!direct || !gateway)
      throw new Error(`benchmark 6 (${engine}): the worker did not measure every path`);
    const relayed = at("relay");
    // Payload = the backend's result bytes, measured on the plain direct socket; the same bytes cross every path.
    const payloadMB = direct.bulk.bytesReadPerQuery / 1e6;
    const comparisons = {
      "relay-vs-direct": relayed ? comparePaths(direct, relayed, payloadMB) : undefined,
      "gateway-vs-direct": comparePaths(direct, gateway, payloadMB),
      "gateway-vs-relay": relayed ? comparePaths(relayed, gateway, payloadMB) : undefined,
    };
    for (const path of sample.paths) {
      const measured = at(path);
      if (!measured) continue;
      const mbPerSec = measured.bulk.seconds.map((s) => payloadMB / s);
      results.push({
        benchmark: "gateway-throughput",
        engine,
        target: path,
        selectOne: {
          queries: measured.select.queries,
          batches: measured.select.batchMs.length,
          opsPerSec: round(opsPerSec(measured.select), 1),
          meanUs: round(measured.select.meanUs, 1),
          p50Us: round(measured.select.p50Us, 1),
          p99Us: round(measured.select.p99Us, 1),
        },
        bulk: {
          query: sample.bulkQuery,
          repeats: measured.bulk.seconds.length,
          payloadBytesPerQuery: Math.round(payloadMB * 1e6),
          bytesReadPerQuery: Math.round(measured.bulk.bytesReadPerQuery),
          MBPerSec: mbPerSec.map((value) => round(value, 2)),
        },
        ...(path === "relay" ? { relayConnections } : {}),
      });
    }
    for (const [target, c] of Object.entries(comparisons)) {
      if (!c) continue;
      results.push({
        benchmark: "gateway-throughput",
        engine,
        target,
        selectOneOpsRatio: roundInterval(c.selectOneRatio),
        addedLatencyMedianUs: roundInterval(c.addedMedianUs, 2),
        addedLatencyMeanUs: roundInterval(c.addedMeanUs, 2),
        pooledMedianDifferenceUs: round(c.pooledMedianDifferenceUs, 2),
        bulkMBRatio: roundInterval(c.bulkRatio),
      });
    }
    const relayVsDirect = comparisonCells(comparisons["relay-vs-direct"]);
    const gatewayVsDirect = comparisonCells(comparisons["gateway-vs-direct"]);
    const gatewayVsRelay = comparisonCells(comparisons["gateway-vs-relay"]);
    const g = comparisons["gateway-vs-direct"];
    const r = comparisons["relay-vs-direct"];
    rows.push(
      [
        engine,
        `SELECT 1/s (${gateway.select.queries} per path)`,
        g.opsPerSec.reference.toFixed(0),
        r ? r.opsPerSec.path.toFixed(0) : "n/a",
        g.opsPerSec.path.toFixed(0),
        relayVsDirect.ops,
        gatewayVsDirect.ops,
        gatewayVsRelay.ops,
      ],
      [
        engine,
        "µs per round trip, median",
        direct.select.p50Us.toFixed(1),
        relayed ? relayed.select.p50Us.toFixed(1) : "n/a",
        gateway.select.p50Us.toFixed(1),
        relayVsDirect.median,
        gatewayVsDirect.median,
        gatewayVsRelay.median,
      ],
      [
        engine,
        "µs per round trip, mean",
        direct.select.meanUs.toFixed(1),
        relayed ? relayed.select.meanUs.toFixed(1) : "n/a",
        gateway.select.meanUs.toFixed(1),
        relayVsDirect.mean,
        gatewayVsDirect.mean,
        gatewayVsRelay.mean,
      ],
      [
        engine,
        `bulk MB/s (${gateway.bulk.seconds.length} x ${payloadMB.toFixed(1)} MB per path)`,
        formatSpread(g.bulkMBPerSec.reference, 1),
        r ? formatSpread(r.bulkMBPerSec.path, 1) : "n/a",
        formatSpread(g.bulkMBPerSec.path, 1),
        relayVsDirect.bulk,
        gatewayVsDirect.bulk,
        gatewayVsRelay.bulk,
      ],
    );
    bulkQueryText += `${engine} \`${sample.bulkQuery}\`; `;
    payloadText += `${engine} ${payloadMB.toFixed(1)} MB; `;
  }
  const loadAtEnd = os.loadavg()[0] ?? Number.NaN;
  results.push({
    benchmark: "gateway-throughput",
    target: "plan",
    plan,
    loadAverage1m: { atStart: round(loadAtStart, 2), atEnd: round(loadAtEnd, 2), cores: os.cpus().length },
  });
  return {
    results,
    table: {
      title:
        "6. Gateway vs a plain Node TLS relay vs direct, one established connection per path (SELECT 1 batches and bulk results rotating between the paths)",
      columns: [
        "engine",
        "measure",
        "direct",
        "plain relay",
        "gateway",
        "relay vs direct [95% CI]",
        "gateway vs direct [95% CI]",
        "gateway vs relay [95% CI]",
      ],
      rows,
      notes: [
        "direct = plain TCP to the backend, its own login (the local servers have TLS off); plain relay = TLS to a Node relay that answers the SSLRequest, terminates TLS with the emulator's certificate and `pipe()`s both ways to a plain TCP backend connection, no auth logic, noDelay on every socket (PostgreSQL only: MySQL negotiates TLS inside its handshake, which a bare relay cannot terminate without rewriting the greeting); gateway = TLS to the emulator's gateway with a token. Relay and gateway both run in the orchestrator process; the clients in one measuring worker per engine.",
        `SELECT 1: ${plan.warmupQueries} warm-up queries per path, then ${plan.batches} batches per path, batch j of every path back to back, the order cycling through the rotations of the paths and their reverses. ` +
          "Ratio = queries/s of the path / the reference's, geometric mean of the per-batch-pair ratios, t interval over the pairs; µs rows: the difference is path - reference per batch pair (batch medians, or batch means), averaged, t interval over the pairs.",
        `Bulk: ${bulkQueryText}MB = the result's wire bytes on the direct socket (${payloadText.replace(/; $/, "")}); one warm-up result per path, then results rotating; MB/s median (min-max); ratio = geometric mean of the paired time ratios, t interval over the pairs.`,
        `Every process shares ${os.cpus().length} cores with the backend and anything else running: load average (1 min) ${loadAtStart.toFixed(2)} at the start, ${loadAtEnd.toFixed(2)} at the end.`,
        ...(context.backends.mysql
          ? []
          : ["MySQL: no backend found (ENTRA_BENCH_MYSQL_URL or 127.0.0.1:3306), not measured."]),
      ],
    },
  };
}
