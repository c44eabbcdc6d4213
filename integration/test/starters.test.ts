import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type Harness, startHarness } from "../src/start-harness.js";

/**
 * Framework starters, smoke-tested the way a user runs them: boot with the emulator's environment
 * (as App Service + Service Connector would set it), one request that reads the database, shut down.
 */

const examples = path.join(import.meta.dirname, "..", "..", "examples");

let harness: Harness;

beforeAll(async () => {
  harness = await startHarness();
});

afterAll(async () => {
  await harness?.close();
});

/** Starts the app, resolves with its base URL once it prints `listening on <url>`. */
async function boot(app: ChildProcess): Promise<string> {
  let output = "";
  return await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "listening on" within 30 s:\n${output}`)), 30_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]?.replace(/\/$/, "") as string);
      }
    };
    app.stdout?.on("data", onData);
    app.stderr?.on("data", onData);
    app.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before listening:\n${output}`));
    });
  });
}

it.each([
  // The Express app closes its server and pool on SIGTERM and exits by itself.
  {
    name: "Express + knex",
    dir: "express-knex",
    command: ["node", "--import", "tsx", "src/server.ts"],
    exit: 0,
  },
  // Nest's enableShutdownHooks closes the app, then re-raises the signal (its documented behaviour).
  { name: "NestJS + TypeORM", dir: "nestjs-typeorm", command: ["node", "dist/main.js"], exit: "SIGTERM" },
])(
  "$name boots, answers /whoami from the database as the identity, and shuts down",
  async ({ dir, command, exit }) => {
    const [executable, ...args] = command as [string, ...string[]];
    const app = spawn(executable === "node" ? process.execPath : executable, args, {
      cwd: path.join(examples, dir),
      env: { PATH: process.env.PATH, ...harness.emulator.env, PORT: "0" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    try {
      const url = await boot(app);
      const response = await fetch(`${url}/whoami`);
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ user: harness.emulator.identities[0]?.name });
      expect(harness.emulator.counters.loginsAccepted).toBeGreaterThanOrEqual(1);
    } finally {
      if (app.exitCode === null) {
        app.kill("SIGTERM");
        const [code, signal] = await once(app, "exit");
        expect(exit === "SIGTERM" ? signal : code).toBe(exit);
      }
    }
  },
);
