import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";

/** Environment variable carrying a worker's task (JSON). */
export const TASK_VARIABLE = "BENCH_TASK";

const WORKER = fileURLToPath(new URL("./worker.ts", import.meta.url));

/** The message a worker sends back: its result, or why it failed. */
export type WorkerReply<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: string };

/** A progress message a worker sends before its reply (see {@link markPhase}). */
export interface WorkerMark {
  readonly mark: string;
}

/** Options of {@link runWorker}. */
export interface RunWorkerOptions {
  /** Kill the worker after this long. Defaults to 180 s. */
  readonly timeoutInMs?: number;
  /** Extra Node flags, e.g. `--expose-gc`. */
  readonly execArgv?: readonly string[];
  /**
   * Called in the parent when the worker reaches a phase (`markPhase(name)`), e.g. to read emulator
   * counters. When it returns a promise, the worker's `markPhase` resolves only once that promise
   * settles (a service worker stays up until the parent is done with it).
   */
  readonly onMark?: (mark: string) => unknown;
}

/**
 * Runs one task in a fresh Node process (`node --import tsx worker.ts`), so that @azure/identity's
 * per-process state (managed-identity source, MSAL token cache) and our shared token provider start
 * cold for every approach/credential combination. Resolves with what the worker sends back.
 *
 * Other work on the machine may rebuild the packages while the bench runs (their `dist/` is briefly
 * missing): a worker that dies with "module not found" before replying is retried after a pause
 * (up to 6 times), and the retries are counted in {@link workerRetries}.
 */
export async function runWorker<T>(
  task: object,
  env: NodeJS.ProcessEnv,
  options: RunWorkerOptions = {},
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await runWorkerOnce<T>(task, env, options);
    } catch (error) {
      if (!(error instanceof ModuleMissingError) || attempt >= 6) throw error;
      workerRetries += 1;
      console.error(`(a package's dist/ is being rebuilt; retrying the worker in 10 s: ${error.message})`);
      await new Promise((resolve) => setTimeout(resolve, 10_000));
    }
  }
}

/** Workers restarted because a package was being rebuilt (see {@link runWorker}). */
export let workerRetries = 0;

class ModuleMissingError extends Error {}

function runWorkerOnce<T>(task: object, env: NodeJS.ProcessEnv, options: RunWorkerOptions): Promise<T> {
  const timeoutInMs = options.timeoutInMs ?? 180_000;
  return new Promise<T>((resolve, reject) => {
    const child = fork(WORKER, [], {
      execArgv: [...(options.execArgv ?? []), "--import", "tsx"],
      env: { ...env, [TASK_VARIABLE]: JSON.stringify(task) },
      stdio: ["ignore", "inherit", "pipe", "ipc"],
    });
    let stderrTail = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      process.stderr.write(chunk);
      stderrTail = (stderrTail + chunk.toString()).slice(-8_000);
    });
    let reply: WorkerReply<T> | undefined;
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`worker timed out after ${timeoutInMs} ms: ${JSON.stringify(task)}`));
    }, timeoutInMs);
    child.on("message", (message) => {
      if (message && typeof message === "object" && "mark" in message) {
        const mark = (message as WorkerMark).mark;
        const handled = options.onMark?.(mark);
        const answer = () => {
          if (child.connected) child.send({ marked: mark });
        };
        if (handled instanceof Promise) void handled.then(answer, answer);
        else answer();
        return;
      }
      reply = message as WorkerReply<T>;
    });
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      if (reply?.ok) resolve(reply.value);
      else if (reply) reject(new Error(`worker failed (${JSON.stringify(task)}): ${reply.error}`));
      else if (/ERR_MODULE_NOT_FOUND|Cannot find module/.test(stderrTail))
        reject(
          new ModuleMissingError(stderrTail.match(/Cannot find module '[^']*'/)?.[0] ?? "module not found"),
        );
      else
        reject(new Error(`worker exited with ${signal ?? code} without a result: ${JSON.stringify(task)}`));
    });
  });
}

/**
 * Worker side: tells the parent that a phase was reached and waits until the parent has handled it
 * (so that counters the parent reads belong to the right phase).
 */
export function markPhase(mark: string): Promise<void> {
  return new Promise<void>((resolve) => {
    const onMessage = (message: unknown) => {
      if (message && typeof message === "object" && (message as { marked?: string }).marked === mark) {
        process.off("message", onMessage);
        resolve();
      }
    };
    process.on("message", onMessage);
    process.send?.({ mark });
  });
}
