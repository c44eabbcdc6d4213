import { createHash } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { startEmulator } from "@org/entra-emulator";
import { type Backend, findBackend } from "./backends.js";
import { workerRetries } from "./child.js";
import { benchConnectionCost } from "./connection-cost.js";
import type { BenchContext, BenchOutcome } from "./context.js";
import { installFakeAz } from "./fake-az.js";
import { benchFirstQuery } from "./first-query.js";
import { benchGatewayThroughput } from "./gateway-throughput.js";
import { benchHookCost } from "./hook-cost.js";
import { benchPoolLifecycle } from "./pool-lifecycle.js";
import { benchProxyRelay } from "./proxy-relay.js";
import { benchRefreshBoundary } from "./refresh-boundary.js";
import { formatTable, machineInfo, versions } from "./report.js";
import { benchTokenBurst } from "./token-burst.js";

const BENCHMARKS: ReadonlyArray<{ id: string; run: (context: BenchContext) => Promise<BenchOutcome> }> = [
  // Ids in table order (0-7); BENCH_ONLY takes a comma list of them.
  { id: "hook-cost", run: benchHookCost },
  { id: "connection-cost", run: benchConnectionCost },
  { id: "token-burst", run: benchTokenBurst },
  { id: "refresh-boundary", run: benchRefreshBoundary },
  { id: "first-query", run: benchFirstQuery },
  { id: "pool-lifecycle", run: benchPoolLifecycle },
  { id: "gateway-throughput", run: benchGatewayThroughput },
  { id: "proxy-relay", run: benchProxyRelay },
];

const RESULTS_FILE = fileURLToPath(new URL("../results.json", import.meta.url));

/**
 * A short hash of the built product code the workers load, so that a run during which another
 * engineer rebuilt the packages says so (rows before and after would measure different code).
 */
async function productFingerprint(): Promise<string> {
  const hash = createHash("sha256");
  for (const name of ["entra-core", "pg-entra"]) {
    const file = fileURLToPath(new URL(`../node_modules/@org/${name}/dist/index.mjs`, import.meta.url));
    hash.update(await readFile(file).catch(() => Buffer.from(`missing ${name}`)));
  }
  return hash.digest("hex").slice(0, 12);
}

/** `postgres://user:secret@host/db` -> `postgres://user:***@host/db`. */
function redact(backend: Backend): Record<string, string> {
  const url = new URL(backend.url);
  if (url.password) url.password = "***";
  return { url: url.toString(), source: backend.source };
}

async function main(): Promise<void> {
  const quick = process.env.BENCH_QUICK === "1";
  const only = process.env.BENCH_ONLY?.split(",").map((id) => id.trim());
  const unknown = only?.filter((id) => !BENCHMARKS.some((benchmark) => benchmark.id === id)) ?? [];
  if (unknown.length) {
    throw new Error(
      `Unknown BENCH_ONLY id(s) ${unknown.join(", ")}; known: ${BENCHMARKS.map((b) => b.id).join(", ")}`,
    );
  }
  const postgresql = await findBackend("postgresql");
  if (!postgresql) {
    throw new Error(
      "No PostgreSQL for the benchmarks: set ENTRA_BENCH_POSTGRES_URL=postgres://user:pass@host:5432/db " +
        "or start the local services (`bash scripts/ensure-services.sh`).",
    );
  }
  const mysql = await findBackend("mysql");
  const started = new Date();
  const fingerprintAtStart = await productFingerprint();
  console.log(
    `Benchmarks${quick ? " (BENCH_QUICK=1)" : ""}: PostgreSQL ${redact(postgresql).url}, MySQL ${mysql ? redact(mysql).url : "none"}`,
  );

  const emulator = await startEmulator({
    tokenLifetimeInSeconds: 3600,
    postgres: { backend: postgresql.url },
    mysql: mysql ? { backend: mysql.url } : false,
  });
  const fakeAz = await installFakeAz({
    identityEndpoint: emulator.identityEndpoint,
    identityHeader: emulator.identityHeader,
    tenantId: emulator.tenantId,
  });
  const context: BenchContext = { emulator, fakeAz, backends: { postgresql, mysql }, quick };
  const results: Array<Record<string, unknown>> = [];
  const failed: string[] = [];
  const interrupted = (signal: NodeJS.Signals) => {
    void Promise.allSettled([emulator.close(), fakeAz.close()]).then(() => process.kill(process.pid, signal));
  };
  process.once("SIGINT", interrupted);
  process.once("SIGTERM", interrupted);
  try {
    for (const benchmark of BENCHMARKS) {
      if (only && !only.includes(benchmark.id)) continue;
      const began = performance.now();
      console.log(`\n... ${benchmark.id}`);
      try {
        const outcome = await benchmark.run(context);
        const seconds = (performance.now() - began) / 1000;
        console.log(`${formatTable(outcome.table)}\n(${seconds.toFixed(1)} s)`);
        results.push(...outcome.results, {
          benchmark: benchmark.id,
          class: "duration",
          seconds: Math.round(seconds * 10) / 10,
        });
      } catch (error) {
        // One broken benchmark (e.g. product code in flux) must not lose the others' numbers.
        console.error(`${benchmark.id} failed:`, error);
        results.push({
          benchmark: benchmark.id,
          error: error instanceof Error ? error.message : String(error),
        });
        failed.push(benchmark.id);
      }
    }
  } finally {
    process.off("SIGINT", interrupted);
    process.off("SIGTERM", interrupted);
    await emulator.close();
    await fakeAz.close();
  }

  const fingerprintAtEnd = await productFingerprint();
  if (fingerprintAtEnd !== fingerprintAtStart) {
    console.error(
      `Warning: the built packages changed during the run (${fingerprintAtStart} -> ${fingerprintAtEnd}); rows may measure different code.`,
    );
  }
  const report = {
    machine: machineInfo(),
    versions: await versions({ postgresql, mysql }),
    run: {
      startedAt: started.toISOString(),
      durationSeconds: Math.round((Date.now() - started.getTime()) / 100) / 10,
      quick,
      only: only ?? null,
      productFingerprint: { atStart: fingerprintAtStart, atEnd: fingerprintAtEnd },
      workerRetries,
      backends: { postgresql: redact(postgresql), mysql: mysql ? redact(mysql) : null },
    },
    results,
  };
  await writeFile(RESULTS_FILE, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`\nWrote ${RESULTS_FILE} (${report.run.durationSeconds} s)`);
  if (failed.length) {
    console.error(`Failed: ${failed.join(", ")}`);
    process.exitCode = 1;
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
