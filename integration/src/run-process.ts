import { type SpawnOptionsWithStdioTuple, spawn } from "node:child_process";

/** Options for {@link runProcess}. */
export interface RunProcessOptions {
  /** The working directory, e.g. an example's folder. */
  readonly cwd: string;
  /** The child's whole environment (nothing is inherited unless passed). */
  readonly env: NodeJS.ProcessEnv;
  /** Kills the child with SIGKILL after this long. Defaults to `60_000`. */
  readonly timeoutInMs?: number;
  /** Runs `command` through a shell, e.g. a package.json script line. Defaults to `false`. */
  readonly shell?: boolean;
}

/** How a child process ended, with what it printed. */
export interface ProcessResult {
  /** The exit code, or `null` when a signal (e.g. the timeout) ended it. */
  readonly code: number | null;
  /** stdout and stderr interleaved as they arrived. */
  readonly output: string;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs `command args` to the end with its output captured, as a user would run an example's CLI.
 * Rejects only if the process cannot be started; a failing exit code resolves.
 */
export function runProcess(
  command: string,
  args: readonly string[],
  { cwd, env, timeoutInMs = 60_000, shell = false }: RunProcessOptions,
): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const options: SpawnOptionsWithStdioTuple<"ignore", "pipe", "pipe"> = {
      cwd,
      env,
      shell,
      stdio: ["ignore", "pipe", "pipe"],
    };
    // A shell command line comes whole: args with `shell: true` are deprecated (DEP0190).
    const child = args.length > 0 ? spawn(command, args, options) : spawn(command, options);
    let output = "";
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8");
    child.stderr.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => {
      output += chunk;
      stdout += chunk;
    });
    child.stderr.on("data", (chunk: string) => {
      output += chunk;
      stderr += chunk;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutInMs);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, output, stdout, stderr });
    });
  });
}
