import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type Harness, startHarness } from "../src/start-harness.js";

/**
 * Framework starters, smoke-tested the way a user runs them: boot with the emulator's environment
 * (as App Service + Service Connector would set it), one request that reads the database, shut down.
 */

const examples = path.join(import.meta.dirname, "..", "..", "examples");
/** The Functions host cannot be installed here: a stand-in for its Node.js worker serves the app. */
const functionsWorker = path.join(import.meta.dirname, "..", "src", "azure-functions-worker.ts");
const nextBin = path.join(examples, "nextjs", "node_modules", "next", "dist", "bin", "next");

let harness: Harness;

beforeAll(async () => {
  // The apps' own build steps (package.json "build": `next build`, `tsc`) ran in `turbo run build`,
  // as the NestJS app's did.
  for (const built of [
    "nextjs/.next/BUILD_ID",
    "azure-functions/dist/src/index.js",
    "nestjs-typeorm/dist/main.js",
  ]) {
    if (!existsSync(path.join(examples, built))) {
      throw new Error(`examples/${built} is missing: run \`npx -y pnpm@12.4.2 build\` first`);
    }
  }
  harness = await startHarness();
});

afterAll(async () => {
  await harness?.close();
});

/** Starts the app, resolves with its base URL once its output matches `ready` (URL in group 1). */
async function boot(app: ChildProcess, ready = /listening on (http:\/\/\S+)/): Promise<string> {
  let output = "";
  return await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${ready} within 30 s:\n${output}`)), 30_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = ready.exec(output);
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
  // TypeORM connects when the module starts.
  {
    name: "NestJS + TypeORM",
    dir: "nestjs-typeorm",
    command: ["node", "dist/main.js"],
    connectsAtStart: true,
    exit: "SIGTERM",
  },
  // `next start` prints its URL before it loads the app; requests wait for instrumentation.ts's
  // register() (the warm-up: a token and one connection). On SIGTERM it closes, then exits 143.
  {
    name: "Next.js + Drizzle",
    dir: "nextjs",
    command: ["node", nextBin, "start", "-H", "127.0.0.1"],
    ready: /Local:\s+(http:\/\/\S+)/,
    api: "/api",
    urlBeforeWarmUp: true,
    connectsAtStart: true,
    exit: 143,
  },
  // The worker stand-in loads the files package.json "main" names, runs the appStart hook (a token and
  // one connection), then serves; on SIGTERM it runs the appTerminate hook (knex destroy) and exits 0.
  {
    name: "Azure Functions + knex",
    dir: "azure-functions",
    command: ["node", "--import", "tsx", functionsWorker],
    api: "/api",
    connectsAtStart: true,
    exit: 0,
  },
] as const)(
  "$name boots warmed up, answers /whoami from the database as the identity and /health, and shuts down",
  async (starter) => {
    const { dir, command, exit } = starter;
    const api = "api" in starter ? starter.api : "";
    harness.emulator.resetCounters();
    const [executable, ...args] = command;
    const app = spawn(executable === "node" ? process.execPath : executable, args, {
      cwd: path.join(examples, dir),
      env: { PATH: process.env.PATH, ...harness.emulator.env, PORT: "0", NEXT_TELEMETRY_DISABLED: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    try {
      const url = await boot(app, "ready" in starter ? starter.ready : undefined);
      // Warmed up before listening: the token was fetched before the first request.
      if (!("urlBeforeWarmUp" in starter)) expect(harness.emulator.counters.tokenRequests).toBe(1);
      const health = await fetch(`${url}${api}/health`);
      expect(health.status).toBe(200);
      const report = (await health.json()) as { status: string; providers: Array<{ status: string }> };
      // Healthy (a token held, not "degraded" while the first one is fetched) at the first request.
      expect(report.status).toBe("healthy");
      expect(report.providers.length).toBeGreaterThanOrEqual(1);
      expect(JSON.stringify(report)).not.toMatch(/eyJ/);
      // /health touches no database: any login so far is the warm-up's (or the ORM's) at start.
      expect(harness.emulator.counters.loginsAccepted).toBe("connectsAtStart" in starter ? 1 : 0);
      const response = await fetch(`${url}${api}/whoami`);
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ user: harness.emulator.identities[0]?.name });
      // One login in all: a connection opened at start served /whoami (the app's one pool, shared by
      // its warm-up and its routes), else /whoami opened it.
      expect(harness.emulator.counters.loginsAccepted).toBe(1);
      // One token for the warm-up and every request.
      expect(harness.emulator.counters.tokenRequests).toBe(1);
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
