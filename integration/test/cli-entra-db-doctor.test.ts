import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { type Harness, startHarness } from "../src/start-harness.js";

const execFileAsync = promisify(execFile);
// integration/package.json does not depend on @org/entra-db-cli: resolve the built bin from the repo root.
const bin = path.resolve(import.meta.dirname, "..", "..", "packages", "cli", "dist", "bin.mjs");

let harness: Harness;

beforeAll(async () => {
  harness = await startHarness({ engines: ["postgresql", "mysql"] });
});

afterAll(async () => {
  await harness?.close();
});

afterEach(() => {
  harness.emulator.faults.identity.reset();
});

interface Report {
  ok: boolean;
  checks: Array<{ name: string; status: string; detail: string; cause?: string; fix?: string }>;
}

/** Runs the built `entra-db doctor --json` with only PATH and the emulator's env (`undefined` removes). */
async function doctor(args: string[], env: Record<string, string | undefined> = {}) {
  const childEnv: Record<string, string> = {};
  for (const [key, value] of Object.entries({ PATH: process.env.PATH, ...harness.emulator.env, ...env })) {
    if (value !== undefined) childEnv[key] = value;
  }
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
  expect(check("credential")?.detail).toMatch(/ManagedIdentityCredential/);
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
