import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";

/** Environment variable carrying a worker's task (JSON). */
export const TASK_VARIABLE = "BENCH_TASK";

const WORKER = fileURLToPath(new URL("./worker.ts", import.meta.url));

/** The message a worker sends back: its result, or why it failed. */
export type WorkerReply<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: string };

/**
 * Runs one task in a fresh Node process (`node --import tsx worker.ts`), so that @azure/identity's
 * per-process state (managed-identity source, MSAL token cache) and our shared token provider start
 * cold for every approach/credential combination. Resolves with what the worker sends back.
 */
export function runWorker<T>(task: object, env: NodeJS.ProcessEnv, timeoutInMs = 180_000): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const child = fork(WORKER, [], {
      execArgv: ["--import", "tsx"],
      env: { ...env, [TASK_VARIABLE]: JSON.stringify(task) },
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    let reply: WorkerReply<T> | undefined;
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`worker timed out after ${timeoutInMs} ms: ${JSON.stringify(task)}`));
    }, timeoutInMs);
    child.on("message", (message) => {
      reply = message as WorkerReply<T>;
    });
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      if (reply?.ok) resolve(reply.value);
      else if (reply) reject(new Error(`worker failed (${JSON.stringify(task)}): ${reply.error}`));
      else
        reject(new Error(`worker exited with ${signal ?? code} without a result: ${JSON.stringify(task)}`));
    });
  });
}
