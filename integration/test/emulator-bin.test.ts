import { type ChildProcess, execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer, type Server } from "node:net";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, expect, it } from "vitest";
import { realProbes, selectBackend } from "../src/select-backend.js";

const require = createRequire(import.meta.url);
const bin = path.join(path.dirname(require.resolve("@org/entra-emulator/package.json")), "dist", "bin.mjs");
const packageJson = path.join(path.dirname(bin), "..", "package.json");
const app = path.join(import.meta.dirname, "..", "fixtures", "zero-config-app.cjs");

let emulator: ChildProcess;
let backendUrl: string;
const env: Record<string, string> = {};

beforeAll(async () => {
  const backend = await selectBackend("postgresql", realProbes);
  backendUrl = backend.url;
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

interface BinRun {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the bin to its end (a failed start exits by itself); `stopWhen` sends SIGTERM once stderr matches. */
async function runBin(args: readonly string[], stopWhen?: RegExp): Promise<BinRun> {
  const child = spawn(process.execPath, [bin, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { PATH: process.env.PATH },
  });
  let stdout = "";
  let stderr = "";
  let stopping = false;
  child.stdout?.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
    if (stopWhen?.test(stderr) && !stopping) {
      stopping = true;
      child.kill("SIGTERM");
    }
  });
  const killer = setTimeout(() => child.kill("SIGKILL"), 45_000);
  const [status] = await once(child, "close");
  clearTimeout(killer);
  return { status, stdout, stderr };
}

async function occupiedPort(): Promise<{ server: Server; port: number }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as { port: number }).port };
}

async function closedPort(): Promise<number> {
  const { server, port } = await occupiedPort();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

it.each([
  ["--identity-port", ["--no-postgres"]],
  ["--postgres-port", () => ["--postgres-url", backendUrl]],
  ["--sqlserver-port", ["--no-postgres"]],
  ["--authority-port", ["--no-postgres"]],
] as const)("a port in use fails with one line naming %s and the port, exit 1", async (flag, extra) => {
  const { server, port } = await occupiedPort();
  try {
    const result = await runBin([...(typeof extra === "function" ? extra() : extra), flag, String(port)]);
    expect(result.status).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toBe(
      `entra-emulator: ${flag} ${port} is in use (EADDRINUSE): pick another port or 0 for any free one\n`,
    );
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});

it("a PostgreSQL backend that is down names --postgres-url and host:port, never the password, exit 1", async () => {
  const port = await closedPort();
  const result = await runBin(["--postgres-url", `postgres://postgres:hunter2-secret@127.0.0.1:${port}/app`]);
  expect(result.status).toBe(1);
  expect(result.stdout).toBe("");
  expect(result.stderr).toBe(
    `entra-emulator: --postgres-url server 127.0.0.1:${port} is not reachable (ECONNREFUSED): ` +
      "start PostgreSQL there, fix the URL, or use --pglite instead\n",
  );
  expect(result.stderr).not.toContain("hunter2");
});

it("a MySQL backend that is down names --mysql-url and host:port, never the password, exit 1", async () => {
  const port = await closedPort();
  const result = await runBin([
    "--no-postgres",
    "--mysql-url",
    `mysql://root:hunter2-secret@127.0.0.1:${port}/test`,
  ]);
  expect(result.status).toBe(1);
  expect(result.stderr).toBe(
    `entra-emulator: --mysql-url server 127.0.0.1:${port} is not reachable (ECONNREFUSED): ` +
      "start MySQL or MariaDB there, fix the URL, or leave --mysql-url out\n",
  );
  expect(result.stderr).not.toContain("hunter2");
});

it("usage errors (unknown option, malformed URL, bad port) exit 2 with one line naming the flag", async () => {
  const unknown = await runBin(["--postgress-url", "x"]);
  expect(unknown).toEqual({
    status: 2,
    stdout: "",
    stderr: "entra-emulator: unknown option --postgress-url (see entra-emulator --help)\n",
  });
  const malformed = await runBin(["--postgres-url", "http://postgres:hunter2-secret@127.0.0.1/app"]);
  expect(malformed.status).toBe(2);
  expect(malformed.stderr).toBe(
    "entra-emulator: --postgres-url must be a postgres:// URL such as postgres://postgres@127.0.0.1:5432/postgres, got a http:// URL\n",
  );
  const badPort = await runBin(["--no-postgres", "--identity-port", "65536"]);
  expect(badPort.status).toBe(2);
  expect(badPort.stderr).toMatch(/^entra-emulator: --identity-port must be a port number .*"65536"\n$/);
});

it("--version and -v print the package version; --help documents the exit statuses", async () => {
  const { version } = JSON.parse(readFileSync(packageJson, "utf8")) as { version: string };
  expect(await runBin(["--version"])).toEqual({ status: 0, stdout: `${version}\n`, stderr: "" });
  expect(await runBin(["-v"])).toEqual({ status: 0, stdout: `${version}\n`, stderr: "" });
  const help = await runBin(["--help"]);
  expect(help.status).toBe(0);
  expect(help.stdout).toContain("entra-emulator --no-postgres --mysql-url mysql://");
  expect(help.stdout).toMatch(/Exit status:\n {2}0 .*\n {2}1 .*\n {2}2 +usage error/);
});

it("PGlite start-up reports progress on stderr while stdout carries only the export lines", async () => {
  const result = await runBin(["--pglite"], /Ctrl\+C to stop/);
  expect(result.status).toBe(0);
  const lines = result.stderr.split("\n");
  expect(lines[0]).toBe("entra-emulator: starting PGlite (embedded PostgreSQL)...");
  expect(lines[1]).toMatch(/^entra-emulator: PGlite started in \d+\.\d s$/);
  expect(lines[2]).toMatch(/^entra-emulator: identity endpoint .*\(backend: PGlite\).*Ctrl\+C to stop\.$/);
  const out = result.stdout.trimEnd().split("\n");
  expect(out.length).toBeGreaterThan(5);
  for (const line of out) expect(line).toMatch(/^export [A-Z_]+='[^']*'$/);
  expect(out).toContain("export AZURE_POSTGRESQL_USER='emulated-app'");
});

it("--service-principal with --credential workload-identity prints the env the unmodified app signs in with", async () => {
  const child = spawn(
    process.execPath,
    [
      bin,
      "--postgres-url",
      backendUrl,
      "--service-principal",
      "orders-api",
      "--credential",
      "workload-identity",
    ],
    { stdio: ["ignore", "pipe", "pipe"], env: { PATH: process.env.PATH } },
  );
  try {
    let stdout = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr?.resume();
    for (let i = 0; i < 100 && !/AZURE_POSTGRESQL_SSL=/.test(stdout); i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const printed: Record<string, string> = {};
    for (const match of stdout.matchAll(/^export ([A-Z_]+)='((?:[^']|'\\'')*)'$/gm)) {
      printed[match[1] as string] = (match[2] as string).replaceAll(`'\\''`, "'");
    }
    expect(printed).toMatchObject({
      AZURE_TOKEN_CREDENTIALS: "WorkloadIdentityCredential",
      AZURE_AUTHORITY_HOST: expect.stringMatching(/^https:\/\/localhost:\d+$/),
      AZURE_TENANT_ID: expect.any(String),
      AZURE_CLIENT_ID: expect.any(String),
      AZURE_FEDERATED_TOKEN_FILE: expect.any(String),
      HTTPS_PROXY: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
      AZURE_POSTGRESQL_USER: "orders-api",
    });
    expect(printed).not.toHaveProperty("IDENTITY_ENDPOINT");
    expect(existsSync(printed.AZURE_FEDERATED_TOKEN_FILE as string)).toBe(true);
    const { stdout: appOut } = await promisify(execFile)(process.execPath, [app], {
      env: { PATH: process.env.PATH, ...printed, APP_RUN_FOR_MS: "1000" },
      timeout: 30_000,
    });
    expect(JSON.parse(appOut.trim())).toMatchObject({
      users: ["orders-api"],
      ssl: { rejectUnauthorized: true },
    });
  } finally {
    child.kill("SIGTERM");
    await once(child, "exit");
  }
});

it("--credential without --service-principal is a usage error, exit 2", async () => {
  expect(await runBin(["--no-postgres", "--credential", "certificate"])).toEqual({
    status: 2,
    stdout: "",
    stderr: "entra-emulator: --credential needs --service-principal <name>\n",
  });
  const bad = await runBin([
    "--no-postgres",
    "--service-principal",
    "orders-api",
    "--credential",
    "password",
  ]);
  expect(bad.status).toBe(2);
  expect(bad.stderr).toBe(
    'entra-emulator: --credential must be secret, certificate or workload-identity, got "password"\n',
  );
});
