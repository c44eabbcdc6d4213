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
  "$name boots warmed up, answers /whoami from the database as the identity and /health, and shuts down",
  async ({ dir, command, exit }) => {
    harness.emulator.resetCounters();
    const [executable, ...args] = command as [string, ...string[]];
    const app = spawn(executable === "node" ? process.execPath : executable, args, {
      cwd: path.join(examples, dir),
      env: { PATH: process.env.PATH, ...harness.emulator.env, PORT: "0" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    try {
      const url = await boot(app);
      // Warmed up before listening: the token was fetched before the first request.
      expect(harness.emulator.counters.tokenRequests).toBeGreaterThanOrEqual(1);
      const health = await fetch(`${url}/health`);
      expect(health.status).toBe(200);
      const report = (await health.json()) as { status: string; providers: Array<{ status: string }> };
      expect(report.status).toBe("healthy");
      expect(report.providers.length).toBeGreaterThanOrEqual(1);
      expect(JSON.stringify(report)).not.toMatch(/eyJ/);
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

it("Express + knex: /health answers 503 with the reason while the identity endpoint is down, 200 once it is back", async () => {
  harness.emulator.faults.identity.set({ mode: "down" });
  const app = spawn(process.execPath, ["--import", "tsx", "src/server.ts"], {
    cwd: path.join(examples, "express-knex"),
    env: { PATH: process.env.PATH, ...harness.emulator.env, PORT: "0" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  try {
    const url = await boot(app);
    const down = await fetch(`${url}/health`);
    expect(down.status).toBe(503);
    const report = (await down.json()) as { status: string; reason: string };
    expect(report.status).toBe("unhealthy");
    expect(report.reason).toMatch(/No valid token .*DefaultAzureCredential/);
    harness.emulator.faults.identity.reset();
    // The next request waits for the retry schedule's next attempt (at most about a second).
    const whoami = await fetch(`${url}/whoami`);
    expect(whoami.status).toBe(200);
    const up = await fetch(`${url}/health`);
    expect(up.status).toBe(200);
  } finally {
    harness.emulator.faults.identity.reset();
    if (app.exitCode === null) {
      app.kill("SIGTERM");
      await once(app, "exit");
    }
  }
});
