import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { once } from "node:events";
import path from "node:path";

/** The built `entra-db` bin, as users run it. */
export const ENTRA_DB_BIN = path.resolve(
  import.meta.dirname,
  "..",
  "..",
  "packages",
  "cli",
  "dist",
  "bin.mjs",
);

/** A running `entra-db proxy` child process. */
export interface ProxyProcess {
  /** The port from its ready line (`--json`). */
  readonly port: number;
  readonly child: ChildProcessWithoutNullStreams;
  /** Everything it printed on stderr so far. */
  stderr(): string;
  /** Sends `signal` (unless one was sent already: a second one forces an exit) and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Starts `entra-db proxy <args> --listen 127.0.0.1:0 --json` with exactly `env` (plus PATH) and
 * resolves once it printed its ready line; rejects with its output when it exits first.
 */
export async function startProxyProcess(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): Promise<ProxyProcess> {
  const child = spawn(
    process.execPath,
    [ENTRA_DB_BIN, "proxy", ...args, "--listen", "127.0.0.1:0", "--json"],
    {
      env: { PATH: process.env.PATH, ...env },
      stdio: ["pipe", "pipe", "pipe"],
    },
  );
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`entra-db proxy did not start:\n${stderr}`)), 30_000);
    const onData = () => {
      const line = stdout.split("\n")[0];
      if (!stdout.includes("\n") || line === undefined) return;
      clearTimeout(timer);
      child.stdout.off("data", onData);
      resolve((JSON.parse(line) as { port: number }).port);
    };
    child.stdout.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`entra-db proxy exited with ${code}:\n${stdout}${stderr}`));
    });
  });
  return {
    port,
    child,
    stderr: () => stderr,
    async stop(signal = "SIGTERM") {
      if (child.exitCode !== null) return child.exitCode;
      const exited = once(child, "exit");
      if (!child.killed) child.kill(signal);
      const [code] = await exited;
      return code as number | null;
    },
  };
}
