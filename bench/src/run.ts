import { writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { startEmulator } from "@org/entra-emulator";
import { type Backend, findBackend } from "./backends.js";
import { benchConnectionCost } from "./connection-cost.js";
import type { BenchContext, BenchOutcome } from "./context.js";
import { installFakeAz } from "./fake-az.js";
import { benchGatewayThroughput } from "./gateway-throughput.js";
import { benchRefreshBoundary } from "./refresh-boundary.js";
import { formatTable, machineInfo, versions } from "./report.js";
import { benchTokenBurst } from "./token-burst.js";

const BENCHMARKS: ReadonlyArray<{ id: string; run: (context: BenchContext) => Promise<BenchOutcome> }> = [
  { id: "connection-cost", run: benchConnectionCost },
  { id: "token-burst", run: benchTokenBurst },
  { id: "refresh-boundary", run: benchRefreshBoundary },
  { id: "gateway-throughput", run: benchGatewayThroughput },
];

const RESULTS_FILE = fileURLToPath(new URL("../results.json", import.meta.url));

/** `postgres://user:secret@host/db` -> `postgres://user:***@host/db`. */
function redact(backend: Backend): Record<string, string> {
  const url = new URL(backend.url);
  if (url.password) url.password = "***";
  return { url: url.toString(), source: backend.source };
}

async function main(): Promise<void> {
  const quick = process.env.BENCH_QUICK === "1";
  const only = process.env.BENCH_ONLY?.split(",").map((id) => id.trim());
  const postgresql = await findBackend("postgresql");
  if (!postgresql) {
    throw new Error(
      "No PostgreSQL for the benchmarks: set ENTRA_BENCH_POSTGRES_URL=postgres://user:pass@host:5432/db " +
        "or start the local services (`bash scripts/ensure-services.sh`).",
    );
  }
  const mysql = await findBackend("mysql");
  const started = new Date();
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
      const outcome = await benchmark.run(context);
      const table = formatTable(outcome.table);
      console.log(`${table}\n(${((performance.now() - began) / 1000).toFixed(1)} s)`);
      results.push(...outcome.results);
    }
  } finally {
    process.off("SIGINT", interrupted);
    process.off("SIGTERM", interrupted);
    await emulator.close();
    await fakeAz.close();
  }

  const report = {
    machine: machineInfo(),
    versions: await versions({ postgresql, mysql }),
    run: {
      startedAt: started.toISOString(),
      durationSeconds: Math.round((Date.now() - started.getTime()) / 100) / 10,
      quick,
      backends: { postgresql: redact(postgresql), mysql: mysql ? redact(mysql) : null },
    },
    results,
  };
  await writeFile(RESULTS_FILE, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`\nWrote ${RESULTS_FILE} (${report.run.durationSeconds} s)`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
