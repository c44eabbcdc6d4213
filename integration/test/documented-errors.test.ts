import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { runProcess } from "../src/run-process.js";

// Every row of docs/troubleshooting.md "Command-line errors" is run as documented: the command with
// exactly the environment the row gives (plus PATH), against the built bins. The row's exit status
// and quoted stderr text must be what happens. A row with `{busy port}` gets a port this test holds.

const root = path.join(import.meta.dirname, "..", "..");
const doc = readFileSync(path.join(root, "docs", "troubleshooting.md"), "utf8");
const BINS: Record<string, string> = {
  "entra-db": path.join(root, "packages", "cli", "dist", "bin.mjs"),
  "entra-emulator": path.join(root, "packages", "emulator", "dist", "bin.mjs"),
};

interface DocumentedError {
  readonly command: string;
  readonly environment: string;
  readonly exit: number;
  readonly stderr: string;
}

/** The rows of the "Command-line errors" table: | `command` | `VAR=value ...` | exit | `text` |. */
function documentedErrors(markdown: string): DocumentedError[] {
  const section = /^## Command-line errors\n([\s\S]*?)(?=^## )/m.exec(markdown)?.[1];
  if (!section) throw new Error('docs/troubleshooting.md has no "## Command-line errors" section');
  const code = (cell: string) => /^`(.*)`$/.exec(cell.trim())?.[1] ?? cell.trim();
  return section
    .split("\n")
    .filter((line) => line.startsWith("| `"))
    .map((line) => {
      const cells = line.split(/(?<!\\)\|/).slice(1, -1);
      if (cells.length !== 4) throw new Error(`malformed row: ${line}`);
      const [command, environment, exit, stderr] = cells as [string, string, string, string];
      return {
        command: code(command),
        environment: code(environment),
        exit: Number(exit),
        stderr: code(stderr),
      };
    });
}

const rows = documentedErrors(doc);
let busy: Server | undefined;
let busyPort = 0;

beforeAll(async () => {
  busy = createServer();
  await new Promise<void>((resolve) => busy?.listen(0, "127.0.0.1", resolve));
  busyPort = (busy.address() as { port: number }).port;
});

afterAll(async () => {
  await new Promise<void>((resolve) => (busy ? busy.close(() => resolve()) : resolve()));
});

it("the table documents at least the usage, engine and credential errors", () => {
  expect(rows.length).toBeGreaterThanOrEqual(8);
  expect(rows.map((row) => row.exit)).toEqual(expect.arrayContaining([1, 2]));
});

it.each(rows.map((row) => [row.command, row]))("%s", async (_label, row) => {
  const substitute = (text: string) => text.replaceAll("{busy port}", String(busyPort));
  const [bin, ...args] = substitute(row.command).split(/\s+/);
  const script = BINS[bin as string];
  if (!script) throw new Error(`unknown command in docs/troubleshooting.md: ${row.command}`);
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME };
  for (const pair of substitute(row.environment).split(/\s+/).filter(Boolean)) {
    const at = pair.indexOf("=");
    env[pair.slice(0, at)] = pair.slice(at + 1);
  }
  const result = await runProcess(process.execPath, [script, ...args], {
    cwd: root,
    env,
    timeoutInMs: 30_000,
  });
  expect(result.stderr, result.output).toContain(substitute(row.stderr));
  expect(result.code, result.output).toBe(row.exit);
});
