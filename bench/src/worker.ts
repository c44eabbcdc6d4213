import { TASK_VARIABLE, type WorkerReply } from "./child.js";
import { type ConnectionCostTask, measureConnectionCost } from "./connection-cost.js";
import { type GatewayThroughputTask, measureGatewayThroughput } from "./gateway-throughput.js";
import { measureRefreshBoundary, type RefreshBoundaryTask } from "./refresh-boundary.js";
import { measureTokenBurst, type TokenBurstTask } from "./token-burst.js";

/** Every task a worker process can run; one task per process. */
export type WorkerTask = ConnectionCostTask | TokenBurstTask | RefreshBoundaryTask | GatewayThroughputTask;

function run(task: WorkerTask): Promise<unknown> {
  switch (task.kind) {
    case "connection-cost":
      return measureConnectionCost(task);
    case "token-burst":
      return measureTokenBurst(task);
    case "refresh-boundary":
      return measureRefreshBoundary(task);
    case "gateway-throughput":
      return measureGatewayThroughput(task);
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
