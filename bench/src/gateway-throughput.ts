import { readFileSync } from "node:fs";
import type { Socket } from "node:net";
import mysql from "mysql2/promise";
import pg from "pg";
import { gatewayConfig, STATIC_TOKEN_VARIABLE } from "./approaches.js";
import { runWorker } from "./child.js";
import { type BenchContext, type BenchOutcome, workerEnv } from "./context.js";
import { round } from "./stats.js";

type Engine = "postgresql" | "mysql";
type Target = "gateway" | "direct";

/** Worker task of benchmark 6: one connection, `SELECT 1` round trips then a bulk result. */
export interface GatewayThroughputTask {
  readonly kind: "gateway-throughput";
  readonly engine: Engine;
  readonly target: Target;
  /** Backend URL for `direct` (plain TCP, the backend's own login). */
  readonly directUrl: string;
  readonly latencyOps: number;
  readonly bulkRows: number;
  readonly bulkRepeats: number;
}

/** What a throughput worker reports. */
export interface GatewayThroughputSample {
  readonly latencyOpsPerSec: number;
  readonly bulkRowsPerSec: number;
  /** Bytes read from the socket per bulk query (TLS records included on the gateway path). */
  readonly bulkBytesPerQuery: number;
  readonly bulkSecondsPerQuery: number;
  readonly bulkQuery: string;
}

/** One open connection, driver-agnostic. */
interface Session {
  query(sql: string): Promise<number>;
  bytesRead(): number;
  close(): Promise<void>;
}

function staticToken(): string {
  const token = process.env[STATIC_TOKEN_VARIABLE];
  if (!token) throw new Error(`${STATIC_TOKEN_VARIABLE} is not set`);
  return token;
}

async function openPostgres(task: GatewayThroughputTask): Promise<Session> {
  const config: pg.ClientConfig =
    task.target === "direct"
      ? { connectionString: task.directUrl }
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

async function openMysql(task: GatewayThroughputTask): Promise<Session> {
  const env = process.env;
  const connection =
    task.target === "direct"
      ? await mysql.createConnection({ uri: task.directUrl })
      : await mysql.createConnection({
          host: env.AZURE_MYSQL_HOST,
          port: Number(env.AZURE_MYSQL_PORT),
          database: env.AZURE_MYSQL_DATABASE,
          user: env.AZURE_MYSQL_USER,
          ssl: { ca: readFileSync(env.NODE_EXTRA_CA_CERTS ?? "", "utf8"), verifyIdentity: true },
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

/** A bulk query returning `rows` integers: generate_series, MariaDB's sequence engine, or a recursive CTE. */
async function bulkQueryFor(session: Session, engine: Engine, rows: number): Promise<string> {
  if (engine === "postgresql") return `select generate_series(1, ${rows})`;
  try {
    await session.query("select seq from seq_1_to_3");
    return `select seq from seq_1_to_${rows}`;
  } catch {
    await session.query(`set session cte_max_recursion_depth = ${rows + 1}`);
    return `with recursive s(n) as (select 1 union all select n + 1 from s where n < ${rows}) select n from s`;
  }
}

/** Worker side: sequential `SELECT 1` (latency-bound), then the bulk query (bandwidth-bound). */
export async function measureGatewayThroughput(
  task: GatewayThroughputTask,
): Promise<GatewayThroughputSample> {
  const session = task.engine === "postgresql" ? await openPostgres(task) : await openMysql(task);
  try {
    for (let i = 0; i < 200; i++) await session.query("select 1");
    let start = performance.now();
    for (let i = 0; i < task.latencyOps; i++) await session.query("select 1");
    const latencyOpsPerSec = task.latencyOps / ((performance.now() - start) / 1000);

    const bulkQuery = await bulkQueryFor(session, task.engine, task.bulkRows);
    await session.query(bulkQuery); // warm-up
    const bytesBefore = session.bytesRead();
    start = performance.now();
    let rows = 0;
    for (let i = 0; i < task.bulkRepeats; i++) rows += await session.query(bulkQuery);
    const seconds = (performance.now() - start) / 1000;
    return {
      latencyOpsPerSec,
      bulkRowsPerSec: rows / seconds,
      bulkBytesPerQuery: (session.bytesRead() - bytesBefore) / task.bulkRepeats,
      bulkSecondsPerQuery: seconds / task.bulkRepeats,
      bulkQuery,
    };
  } finally {
    await session.close();
  }
}

/**
 * Benchmark 6: what the emulator's gateway costs on an established session, PostgreSQL and MySQL:
 * the same client work through the gateway (TLS to the gateway, plain TCP to the backend) and
 * directly to the backend (plain TCP). Gateway and direct runs alternate over a few rounds; the
 * best round of each counts (least disturbed by other load).
 */
export async function benchGatewayThroughput(context: BenchContext): Promise<BenchOutcome> {
  const engines: Array<{ engine: Engine; url: string }> = [
    { engine: "postgresql", url: context.backends.postgresql.url },
    ...(context.backends.mysql ? [{ engine: "mysql" as const, url: context.backends.mysql.url }] : []),
  ];
  const rounds = context.quick ? 1 : 3;
  const results: Array<Record<string, unknown>> = [];
  const rows: string[][] = [];
  for (const { engine, url } of engines) {
    const best: Partial<Record<Target, GatewayThroughputSample>> = {};
    for (let round = 0; round < rounds; round++) {
      for (const target of round % 2 === 0
        ? (["direct", "gateway"] as const)
        : (["gateway", "direct"] as const)) {
        const task: GatewayThroughputTask = {
          kind: "gateway-throughput",
          engine,
          target,
          directUrl: url,
          latencyOps: context.quick ? 500 : 3000,
          bulkRows: 200_000,
          bulkRepeats: context.quick ? 2 : 5,
        };
        const sample = await runWorker<GatewayThroughputSample>(task, workerEnv(context));
        best[target] = better(best[target], sample);
      }
    }
    const direct = best.direct as GatewayThroughputSample;
    const gateway = best.gateway as GatewayThroughputSample;
    // Payload = the backend's result bytes, measured on the plain direct socket; the same bytes cross the gateway.
    const payloadMB = direct.bulkBytesPerQuery / 1e6;
    for (const [target, sample] of [
      ["direct", direct],
      ["gateway", gateway],
    ] as const) {
      results.push({
        benchmark: "gateway-throughput",
        engine,
        target,
        rounds,
        selectOneOpsPerSec: round(sample.latencyOpsPerSec, 1),
        bulkRowsPerSec: round(sample.bulkRowsPerSec, 0),
        bulkPayloadMBPerSec: round(payloadMB / sample.bulkSecondsPerQuery, 2),
        bulkBytesReadPerQuery: Math.round(sample.bulkBytesPerQuery),
        bulkQuery: sample.bulkQuery,
      });
    }
    const opsRatio = gateway.latencyOpsPerSec / direct.latencyOpsPerSec;
    const mbRatio = direct.bulkSecondsPerQuery / gateway.bulkSecondsPerQuery;
    results.push({
      benchmark: "gateway-throughput",
      engine,
      target: "ratio",
      selectOneOpsRatio: round(opsRatio),
      bulkMBRatio: round(mbRatio),
    });
    rows.push([
      engine,
      direct.latencyOpsPerSec.toFixed(0),
      gateway.latencyOpsPerSec.toFixed(0),
      opsRatio.toFixed(3),
      (payloadMB / direct.bulkSecondsPerQuery).toFixed(1),
      (payloadMB / gateway.bulkSecondsPerQuery).toFixed(1),
      mbRatio.toFixed(3),
    ]);
  }
  return {
    results,
    table: {
      title: `6. Gateway vs direct on one established connection (best of ${rounds} rounds)`,
      columns: [
        "engine",
        "SELECT 1/s direct",
        "SELECT 1/s gateway",
        "ratio",
        "bulk MB/s direct",
        "bulk MB/s gateway",
        "ratio",
      ],
      rows,
      notes: [
        "Gateway = TLS client->gateway + plain TCP gateway->backend; direct = plain TCP (the local servers have TLS off).",
        "Bulk = 200000 integers (PostgreSQL generate_series; MariaDB seq_1_to_200000), MB = the result's wire bytes on the direct socket.",
        ...(context.backends.mysql
          ? []
          : ["MySQL: no backend found (ENTRA_BENCH_MYSQL_URL or 127.0.0.1:3306), not measured."]),
      ],
    },
  };
}

function better(
  current: GatewayThroughputSample | undefined,
  sample: GatewayThroughputSample,
): GatewayThroughputSample {
  if (!current) return sample;
  return {
    ...current,
    latencyOpsPerSec: Math.max(current.latencyOpsPerSec, sample.latencyOpsPerSec),
    bulkRowsPerSec: Math.max(current.bulkRowsPerSec, sample.bulkRowsPerSec),
    bulkSecondsPerQuery: Math.min(current.bulkSecondsPerQuery, sample.bulkSecondsPerQuery),
  };
}
