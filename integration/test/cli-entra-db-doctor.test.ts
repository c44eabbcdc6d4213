import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { createServer, type Server, type Socket } from "node:net";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { type Harness, startHarness } from "../src/start-harness.js";

const execFileAsync = promisify(execFile);
// integration/package.json does not depend on @org/entra-db-cli: resolve the built bin from the repo root.
const bin = path.resolve(import.meta.dirname, "..", "..", "packages", "cli", "dist", "bin.mjs");

let harness: Harness;

// A TCP server that accepts connections and never answers: a network check against it hangs until --timeout.
let silent: Server;
let silentPort: number;
const silentSockets: Socket[] = [];

beforeAll(async () => {
  harness = await startHarness({ engines: ["postgresql", "mysql", "sqlserver"] });
  silent = createServer((socket) => silentSockets.push(socket));
  silent.listen(0, "127.0.0.1");
  await once(silent, "listening");
  silentPort = (silent.address() as { port: number }).port;
});

afterAll(async () => {
  for (const socket of silentSockets) socket.destroy();
  silent?.close();
  await harness?.close();
});

/** PATH and the emulator's env (postgres, mysql and sqlserver at once), `undefined` removes. */
function emulatorEnv(env: Record<string, string | undefined> = {}): Record<string, string> {
  const childEnv: Record<string, string> = {};
  for (const [key, value] of Object.entries({ PATH: process.env.PATH, ...harness.emulator.env, ...env })) {
    if (value !== undefined) childEnv[key] = value;
  }
  return childEnv;
}

/** Runs the built bin; resolves with the exit status and the output, never rejects on a status. */
function runBin(args: string[], env: Record<string, string>) {
  return new Promise<{
    code: number | null;
    stdout: string;
    stderr: string;
    chunks: Array<{ at: number; text: string }>;
  }>((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
    const chunks: Array<{ at: number; text: string }> = [];
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (text: string) => chunks.push({ at: Date.now(), text }));
    child.stderr.setEncoding("utf8").on("data", (text: string) => {
      stderr += text;
    });
    const timer = setTimeout(() => child.kill(), 25_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: chunks.map((c) => c.text).join(""), stderr, chunks });
    });
  });
}

afterEach(() => {
  harness.emulator.faults.identity.reset();
});

interface Report {
  ok: boolean;
  checks: Array<{
    name: string;
    status: string;
    detail: string;
    lines?: string[];
    cause?: string;
    fix?: string;
  }>;
}

/** Runs the built `entra-db doctor --json` with only PATH and the emulator's env (`undefined` removes). */
async function doctor(args: string[], env: Record<string, string | undefined> = {}) {
  const childEnv = emulatorEnv(env);
  let code = 0;
  let stdout: string;
  try {
    ({ stdout } = await execFileAsync(process.execPath, [bin, "doctor", "--json", ...args], {
      env: childEnv,
      timeout: 18_000,
    }));
  } catch (error) {
    const e = error as { code?: number; stdout?: string };
    code = typeof e.code === "number" ? e.code : -1;
    stdout = e.stdout ?? "";
  }
  const report = JSON.parse(stdout) as Report;
  const check = (name: string) => report.checks.find((c) => c.name === name);
  return { code, stdout, report, check };
}

const statuses = (report: Report) => Object.fromEntries(report.checks.map((c) => [c.name, c.status]));

it.each(["postgresql", "mysql"])(
  "passes for %s through the emulator (exit 0, json ok, no token)",
  async (engine) => {
    const { code, stdout, report, check } = await doctor(["--engine", engine]);
    expect(code).toBe(0);
    expect(report.ok).toBe(true);
    expect(statuses(report)).toEqual({
      settings: "ok",
      credential: "ok",
      token: "ok",
      network: "ok",
      login: "ok",
    });
    expect(check("credential")?.detail).toMatch(/^ManagedIdentityCredential produced a token/);
    expect(check("token")?.detail).toMatch(/aud https:\/\/ossrdbms-aad\.database\.windows\.net.*idtyp app/);
    expect(check("network")?.detail).toMatch(/TLSv1\.[23] verified, certificate CN=localhost/);
    expect(check("login")?.detail).toMatch(/logged in as emulated-app/);
    expect(stdout).not.toMatch(/eyJ[\w-]{20,}/);
  },
);

it("human output: one line per check, exit 0", async () => {
  const { stdout } = await execFileAsync(process.execPath, [bin, "doctor", "-e", "postgresql"], {
    env: { PATH: process.env.PATH, ...harness.emulator.env } as Record<string, string>,
    timeout: 18_000,
  });
  const lines = stdout.trim().split("\n");
  expect(lines.map((line) => line.split(/\s+/).slice(0, 2).join(" "))).toEqual([
    "[ok] settings",
    "[ok] credential",
    "[ok] token",
    "[ok] network",
    "[ok] login",
    "All checks",
  ]);
});

it("identity endpoint refusing: the credential check fails with the cause and what to do", async () => {
  harness.emulator.faults.identity.set({ mode: "status", status: 400 });
  const { code, report, check } = await doctor(["-e", "postgresql", "--timeout", "5"]);
  expect(code).toBe(1);
  expect(report.ok).toBe(false);
  expect(check("credential")).toMatchObject({ status: "fail" });
  expect(check("credential")?.lines?.join("\n")).toMatch(/^ManagedIdentityCredential +\w+: /m);
  expect(check("credential")?.fix).toMatch(/managed identity|system-assigned/);
  expect(check("token")?.status).toBe("skip");
  expect(check("login")?.status).toBe("skip");
});

it("identity endpoint down: the credential check gives up after --timeout", async () => {
  harness.emulator.faults.identity.set({ mode: "down" });
  const started = Date.now();
  const { code, check } = await doctor(["-e", "mysql", "--timeout", "2"]);
  expect(code).toBe(1);
  expect(check("credential")?.status).toBe("fail");
  expect(Date.now() - started).toBeLessThan(12_000);
});

it("wrong user: login fails as a username mismatch naming the token's principal", async () => {
  const { code, check } = await doctor(["-e", "postgresql", "--user", "someone-else"]);
  expect(code).toBe(1);
  expect(check("token")?.status).toBe("warn");
  expect(check("login")?.status).toBe("fail");
  expect(check("login")?.cause).toMatch(/token belongs to "emulated-app".*"someone-else"/);
  expect(check("login")?.fix).toMatch(/--user emulated-app/);
});

it("wrong user on MySQL: mapped from error 1045 the same way", async () => {
  const { check } = await doctor(["-e", "mysql", "--user", "someone-else"]);
  expect(check("login")?.cause).toMatch(/Username mismatch.*emulated-app/);
  expect(check("login")?.fix).toMatch(/CREATE AADUSER/);
});

it("TLS not trusted (no NODE_EXTRA_CA_CERTS): network fails with the verification error and the fix", async () => {
  const { code, check } = await doctor(["-e", "postgresql"], { NODE_EXTRA_CA_CERTS: undefined });
  expect(code).toBe(1);
  expect(check("network")?.status).toBe("fail");
  expect(check("network")?.detail).toMatch(/SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_(GET|VERIFY)/);
  expect(check("network")?.fix).toMatch(/NODE_EXTRA_CA_CERTS/);
  expect(check("login")?.status).toBe("skip");
});

it("--ca trusts the CA file explicitly", async () => {
  const ca = harness.emulator.env.NODE_EXTRA_CA_CERTS as string;
  const { code, report } = await doctor(["-e", "mysql", "--ca", ca], { NODE_EXTRA_CA_CERTS: undefined });
  expect(code).toBe(0);
  expect(report.ok).toBe(true);
});

it.each([
  ["expired", /TOKEN_EXPIRED/],
  ["audience", /TOKEN_AUDIENCE/],
  ["invalid", /TOKEN_INVALID/],
] as const)("gateway rejecting the login (%s): the cause is mapped", async (reason, cause) => {
  harness.emulator.faults.postgres.rejectNextLogins(1, reason);
  const { code, check } = await doctor(["-e", "postgresql"]);
  expect(code).toBe(1);
  expect(check("login")?.status).toBe("fail");
  expect(check("login")?.cause).toMatch(cause);
  expect(check("login")?.fix).toBeTruthy();
});

it("MySQL gateway rejecting the login as expired (9119): TOKEN_EXPIRED", async () => {
  harness.emulator.faults.mysql.rejectNextLogins(1, "expired");
  const { check } = await doctor(["-e", "mysql"]);
  expect(check("login")?.cause).toMatch(/TOKEN_EXPIRED/);
});

it("wrong scope: the token check fails on the audience and the server agrees", async () => {
  const { code, check } = await doctor(["-e", "postgresql", "--scope", "https://vault.azure.net/.default"]);
  expect(code).toBe(1);
  expect(check("token")?.status).toBe("fail");
  expect(check("token")?.cause).toMatch(/vault\.azure\.net.*ossrdbms-aad/);
  expect(check("login")?.cause).toMatch(/TOKEN_AUDIENCE/);
});

it("unreachable port: network fails with ECONNREFUSED and login is skipped", async () => {
  const { code, check } = await doctor(["-e", "postgresql", "--port", "1"]);
  expect(code).toBe(1);
  expect(check("network")?.detail).toMatch(/ECONNREFUSED/);
  expect(check("network")?.fix).toMatch(/--port/);
  expect(check("login")?.status).toBe("skip");
});

it("malformed settings: the settings check names the variable", async () => {
  const { code, check } = await doctor(["-e", "postgresql"], { AZURE_POSTGRESQL_PORT: "abc" });
  expect(code).toBe(1);
  expect(check("settings")?.status).toBe("fail");
  expect(check("settings")?.cause).toMatch(/AZURE_POSTGRESQL_PORT/);
});

it("the emulator's env of postgres + mysql + sqlserver: doctor checks all three, one header each, exit 0", async () => {
  expect(harness.emulator.env.AZURE_SQL_SERVER).toBeTruthy();
  const { code, stdout, stderr } = await runBin(["doctor"], emulatorEnv());
  expect(stderr).toBe("");
  expect(stdout).not.toMatch(/several engines/);
  expect([...stdout.matchAll(/^== (\w+) \(AZURE_\w+_\*\) ==$/gm)].map((m) => m[1])).toEqual([
    "postgresql",
    "mysql",
    "sqlserver",
  ]);
  expect(stdout).toMatch(/^\[ok\] login {6}.*logged in as emulated-app/m);
  expect(stdout).toMatch(/^\[skip\] login {6}not checked for Azure SQL/m);
  expect(stdout).toMatch(/^postgresql: All checks passed\.$/m);
  expect(stdout).toMatch(/^mysql: All checks passed\.$/m);
  expect(stdout).toMatch(/^sqlserver: All checks passed\.$/m);
  expect(stdout).toMatch(/3 engines checked: all passed\.\n$/);
  expect(code).toBe(0);

  const json = await runBin(["doctor", "--json"], emulatorEnv());
  const report = JSON.parse(json.stdout) as { ok: boolean; engines: Array<Report & { engine: string }> };
  expect(report.ok).toBe(true);
  expect(report.engines.map((r) => [r.engine, r.checks.find((c) => c.name === "token")?.status])).toEqual([
    ["postgresql", "ok"],
    ["mysql", "ok"],
    ["sqlserver", "ok"],
  ]);
});

it("several engines, one failing: exit 1, and the failing engine is named", async () => {
  const { code, stdout } = await runBin(["doctor"], emulatorEnv({ AZURE_MYSQL_PORT: "1" }));
  expect(code).toBe(1);
  expect(stdout).toMatch(/^mysql: 1 check failed\.$/m);
  expect(stdout).toMatch(/3 engines checked: 1 failed \(mysql\)\.\n$/);
});

it("url, env and token with the emulator's several engines ask for --engine (USAGE, exit 2)", async () => {
  for (const command of ["url", "env", "token"]) {
    const { code, stdout, stderr } = await runBin([command], emulatorEnv());
    expect(code, command).toBe(2);
    expect(stdout).toBe("");
    expect(stderr).toBe(
      "entra-db: Service Connector variables are set for several engines (postgresql, mysql, sqlserver). [USAGE]\n" +
        "  hint: Pass --engine postgresql|mysql|sqlserver to pick one.\n",
    );
  }
});

it("streams: the lines of finished checks arrive before a check against a silent server ends", async () => {
  const started = Date.now();
  const { code, chunks } = await runBin(
    ["doctor", "-e", "postgresql", "--host", "127.0.0.1", "--port", String(silentPort), "--timeout", "3"],
    emulatorEnv(),
  );
  expect(code).toBe(1);
  const arrival = (pattern: RegExp) => chunks.find((c) => pattern.test(c.text))?.at ?? Number.NaN;
  const token = arrival(/^\[ok\] token/m);
  const network = arrival(/^\[FAIL\] network .*no answer to the SSLRequest/m);
  expect(arrival(/^\[ok\] settings .*127\.0\.0\.1:\d+.*--host, --port from flags/m)).toBeLessThanOrEqual(
    token,
  );
  expect(network - token).toBeGreaterThanOrEqual(2_000);
  expect(network - started).toBeGreaterThanOrEqual(3_000);
});

it("--deadline bounds the whole run; the rest is reported as not run", async () => {
  const started = Date.now();
  const { code, stdout } = await runBin(
    [
      "doctor",
      "-e",
      "postgresql",
      "--host",
      "127.0.0.1",
      "--port",
      String(silentPort),
      "--timeout",
      "20",
      "--deadline",
      "1.5",
    ],
    emulatorEnv(),
  );
  expect(Date.now() - started).toBeLessThan(8_000);
  expect(code).toBe(1);
  expect(stdout).toMatch(/^\[FAIL\] network /m);
  expect(stdout).toMatch(
    /^\[skip\] login +(not run: the --deadline 1\.5 s was reached|network check failed)$/m,
  );
});

it("--host/--port over the environment: the settings line shows what was used", async () => {
  const { stdout } = await runBin(
    ["doctor", "-e", "postgresql", "--host", "127.0.0.1", "--port", "1"],
    emulatorEnv(),
  );
  expect(stdout).toMatch(
    /^\[ok\] settings {3}postgresql 127\.0\.0\.1:1\/\S+ user emulated-app.*\(--host, --port from flags; \d+ AZURE_POSTGRESQL_\* variables; also set: mysql, sqlserver\)$/m,
  );
  expect(stdout).toMatch(/TCP 127\.0\.0\.1:1: ECONNREFUSED/);
});

it("exit statuses of the real bin: 0 ok, 1 a check failed, 2 usage", async () => {
  expect((await runBin(["doctor", "-e", "postgresql"], emulatorEnv())).code).toBe(0);
  expect((await runBin(["doctor", "-e", "postgresql", "--port", "1"], emulatorEnv())).code).toBe(1);
  const bogus = await runBin(["doctor", "--bogus"], emulatorEnv());
  expect(bogus.code).toBe(2);
  expect(bogus.stderr).toBe(
    "entra-db: Unknown option '--bogus'. [USAGE]\n  hint: Run: entra-db doctor --help\n",
  );
  const bad = await runBin(["doctor", "-e", "pg", "--timeout", "soon"], emulatorEnv());
  expect(bad.code).toBe(2);
  expect(bad.stderr).toMatch(
    /^entra-db: --timeout must be a positive number of seconds \(got "soon"\)\. \[USAGE\]\n$/,
  );
  const none = await runBin([], emulatorEnv());
  expect(none.code).toBe(2);
  expect(none.stdout).toBe("");
  expect(none.stderr).toMatch(/^Usage: entra-db <command>[\s\S]*Exit status:/);
  const unknown = await runBin(["frobnicate"], emulatorEnv());
  expect(unknown.code).toBe(2);
  expect(unknown.stderr).toMatch(/^entra-db: Unknown command "frobnicate"\. \[USAGE\]\n {2}hint: Commands: /);
});

it("identity endpoint refusing on an App Service-like host: managed identity is the first fix, one line per credential", async () => {
  harness.emulator.faults.identity.set({ mode: "status", status: 400 });
  const { code, stdout } = await runBin(
    ["doctor", "-e", "postgresql", "--timeout", "5"],
    emulatorEnv({ AZURE_TOKEN_CREDENTIALS: undefined, AZURE_POSTGRESQL_CLIENTID: undefined }),
  );
  expect(code).toBe(1);
  const lines = stdout.split("\n");
  const start = lines.findIndex((line) => line.startsWith("[FAIL] credential"));
  expect(lines[start + 1]).toMatch(/^ {9}EnvironmentCredential +unavailable: /);
  expect(lines.slice(start + 1).find((line) => /ManagedIdentityCredential/.test(line))).toMatch(
    /(failed|unavailable|timeout): .{1,130}$/,
  );
  expect(stdout).toMatch(
    /^ {7}fix: {3}(Enable the managed identity|Assign the user-assigned managed identity)/m,
  );
  for (const line of lines) expect(line.length).toBeLessThan(260);
});
