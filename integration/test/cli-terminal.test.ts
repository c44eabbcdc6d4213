import { execFile } from "node:child_process";
import { once } from "node:events";
import { createServer, type Server, type Socket } from "node:net";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type Harness, startHarness } from "../src/start-harness.js";

// entra-db on a real terminal: util-linux `script` runs it in a pseudo-terminal (stdout.isTTY true).
const bin = path.resolve(import.meta.dirname, "..", "..", "packages", "cli", "dist", "bin.mjs");

let harness: Harness;
let silent: Server;
let silentPort: number;
const sockets: Socket[] = [];

beforeAll(async () => {
  harness = await startHarness({ engines: ["postgresql"] });
  silent = createServer((socket) => sockets.push(socket));
  silent.listen(0, "127.0.0.1");
  await once(silent, "listening");
  silentPort = (silent.address() as { port: number }).port;
});

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  silent?.close();
  await harness?.close();
});

const quote = (arg: string) => `'${arg.replaceAll("'", "'\\''")}'`;

/** Runs the built bin inside a pseudo-terminal; `script -e` returns its exit status. */
function onTerminal(args: string[], env: Record<string, string | undefined> = {}) {
  const childEnv: Record<string, string> = { SHELL: "/bin/sh", TERM: "xterm" };
  for (const [key, value] of Object.entries({ PATH: process.env.PATH, ...harness.emulator.env, ...env })) {
    if (value !== undefined) childEnv[key] = value;
  }
  const command = [process.execPath, bin, ...args].map(quote).join(" ");
  return new Promise<{ code: number; output: string }>((resolve) => {
    const child = execFile(
      "script",
      ["-q", "-e", "-c", command, "/dev/null"],
      { env: childEnv, timeout: 25_000 },
      (error, stdout) => {
        const code = error ? ((error as { code?: number }).code ?? -1) : 0;
        resolve({ code: typeof code === "number" ? code : -1, output: stdout });
      },
    );
    child.stdin?.end();
  });
}

it("doctor on a terminal: a spinner with the elapsed time for the running check; no colour with NO_COLOR", async () => {
  const { code, output } = await onTerminal(
    ["doctor", "-e", "postgresql", "--host", "127.0.0.1", "--port", String(silentPort), "--timeout", "2"],
    { NO_COLOR: "1" },
  );
  expect(code).toBe(1);
  // The spinner line of the slow network check, redrawn with a growing time...
  const times = [...output.matchAll(/\r[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] network {4}running (\d+\.\d) s/g)].map((m) =>
    Number(m[1]),
  );
  expect(times.length).toBeGreaterThan(5);
  expect(Math.max(...times)).toBeGreaterThanOrEqual(1.5);
  // ...then blanked and overwritten by the result.
  expect(output).toMatch(/\r +\r✗ network {4}TCP 127\.0\.0\.1:\d+ open/);
  expect(output).toMatch(/✓ settings/);
  expect(output).toMatch(/✓ credential/);
  expect(output).not.toContain("\u001b");
});

it("doctor on a terminal without NO_COLOR colours the marks", async () => {
  const { code, output } = await onTerminal(["doctor", "-e", "postgresql"]);
  expect(code).toBe(0);
  expect(output).toContain("\u001b[32m✓\u001b[0m settings");
  expect(output).toMatch(/All checks passed\./);
});

it("token refuses a terminal: SECRET_TO_TERMINAL, exit 1, the hint on its own line, no token", async () => {
  const { code, output } = await onTerminal(["token", "-e", "postgresql"]);
  expect(code).toBe(1);
  expect(output).toMatch(
    /entra-db: Refusing to print an access token to a terminal\. \[SECRET_TO_TERMINAL\]\r?\n {2}hint: Use --force or pipe it/,
  );
  expect(output).not.toMatch(/eyJ[\w-]{20,}/);
});
