import { type ChildProcess, execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, expect, it } from "vitest";
import { realProbes, selectBackend } from "../src/select-backend.js";

const require = createRequire(import.meta.url);
const bin = path.join(path.dirname(require.resolve("@org/entra-emulator/package.json")), "dist", "bin.mjs");
const app = path.join(import.meta.dirname, "..", "fixtures", "zero-config-app.cjs");

let emulator: ChildProcess;
const env: Record<string, string> = {};

beforeAll(async () => {
  const backend = await selectBackend("postgresql", realProbes);
  emulator = spawn(process.execPath, [bin, "--postgres-url", backend.url, "--token-lifetime", "2"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  emulator.stdout?.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  emulator.stderr?.resume();
  // The bin prints its export lines, then stays in the foreground.
  for (let i = 0; i < 100 && !/AZURE_POSTGRESQL_SSL=/.test(stdout); i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  for (const match of stdout.matchAll(/^export ([A-Z_]+)='((?:[^']|'\\'')*)'$/gm)) {
    env[match[1] as string] = (match[2] as string).replaceAll(`'\\''`, "'");
  }
});

afterAll(async () => {
  if (emulator && emulator.exitCode === null) {
    emulator.kill("SIGTERM");
    await once(emulator, "exit");
  }
});

it("the entra-emulator bin prints the env an unmodified zero-config CommonJS app needs", async () => {
  expect(Object.keys(env)).toEqual(
    expect.arrayContaining([
      "IDENTITY_ENDPOINT",
      "IDENTITY_HEADER",
      "AZURE_POSTGRESQL_HOST",
      "NODE_EXTRA_CA_CERTS",
    ]),
  );
  expect(existsSync(env.NODE_EXTRA_CA_CERTS as string)).toBe(true);
  // Runs for two 2-second token lifetimes with the real DefaultAzureCredential and verified TLS.
  const { stdout } = await promisify(execFile)(process.execPath, [app], {
    env: { PATH: process.env.PATH, ...env, APP_RUN_FOR_MS: "4500" },
    timeout: 30_000,
  });
  const result = JSON.parse(stdout.trim());
  expect(result).toMatchObject({ users: [env.AZURE_POSTGRESQL_USER], ssl: { rejectUnauthorized: true } });
  expect(result.connections).toBeGreaterThan(20);
});

it("the bin shuts down cleanly on SIGTERM and removes its CA file", async () => {
  emulator.kill("SIGTERM");
  const [code] = await once(emulator, "exit");
  expect(code).toBe(0);
  expect(existsSync(env.NODE_EXTRA_CA_CERTS as string)).toBe(false);
});
