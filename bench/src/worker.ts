import { TASK_VARIABLE, type WorkerReply } from "./child.js";
import { type ConnectionCostTask, measureConnectionCost } from "./connection-cost.js";
import { type FirstQueryTask, measureFirstQuery } from "./first-query.js";
import { type GatewayThroughputTask, measureGatewayThroughput } from "./gateway-throughput.js";
import { type HookCostTask, measureHookCost } from "./hook-cost.js";
import { measurePoolLifecycle, type PoolLifecycleTask } from "./pool-lifecycle.js";
import { type ProxyRelayTask, runProxyRelayRole } from "./proxy-relay.js";
import { measureRefreshBoundary, type RefreshBoundaryTask } from "./refresh-boundary.js";
import { measureTokenBurst, type TokenBurstTask } from "./token-burst.js";

/** Every task a worker process can run; one task per process. */
export type WorkerTask =
  | HookCostTask
  | ConnectionCostTask
  | TokenBurstTask
  | RefreshBoundaryTask
  | FirstQueryTask
  | PoolLifecycleTask
  | GatewayThroughputTask
  | ProxyRelayTask;

function run(task: WorkerTask): Promise<unknown> {
  switch (task.kind) {
    case "hook-cost":
      return measureHookCost(task);
    case "connection-cost":
      return measureConnectionCost(task);
    case "token-burst":
      return measureTokenBurst(task);
    case "refresh-boundary":
      return measureRefreshBoundary(task);
    case "first-query":
      return measureFirstQuery(task);
    case "pool-lifecycle":
      return measurePoolLifecycle(task);
    case "gateway-throughput":
      return measureGatewayThroughput(task);
    case "proxy-relay":
      return runProxyRelayRole(task);
  }
}

async function main(): Promise<void> {
  const task = JSON.parse(process.env[TASK_VARIABLE] ?? "null") as WorkerTask | null;
  if (!task) throw new Error(`${TASK_VARIABLE} is not set: this script is started by run.ts`);
  const value = await run(task);
  send({ ok: true, value });
}

function send(reply: WorkerReply<unknown>): void {
  // Exit once the reply is flushed: pools, timers and sockets must not keep the worker alive.
  process.send?.(reply, () => process.exit(0));
}

main().catch((error: unknown) => {
  process.send?.(
    { ok: false, error: error instanceof Error ? (error.stack ?? error.message) : String(error) },
    () => process.exit(1),
  );
});
