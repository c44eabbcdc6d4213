import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import {
  type CertificateAuthority,
  createCertificateAuthority,
  type HostileMode,
  type HostilePersona,
  type HostileServer,
  startHostileServer,
} from "@org/entra-emulator";
import mysql from "mysql2/promise";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type Harness, startHarness } from "../src/start-harness.js";

/**
 * What `entra-db url` and `entra-db env` print, fed to the clients they are for, against hostile
 * servers: every attempt fails verification and no part of the token (a real one, from the
 * emulator's identity endpoint through the CLI's DefaultAzureCredential) arrives. Controls run the
 * same clients WITHOUT the verification the output asks for, and must leak: they prove the server
 * would have seen the token.
 */

const execFileAsync = promisify(execFile);
const repoRoot = path.resolve(import.meta.dirname, "..", "..");
const bin = path.join(repoRoot, "packages", "cli", "dist", "bin.mjs");
/** The CA file the hostile workers trust (written by the hostile global setup). */
const trustedCaFile = () => process.env.NODE_EXTRA_CA_CERTS as string;

const MODES: HostileMode[] = ["wrong-host", "untrusted-certificate", "tls-stripped", "cleartext-first"];
const PERSONAS: HostilePersona[] = ["mysql8", "mariadb"];

let harness: Harness;
let authority: CertificateAuthority;
let attempts = 0;
let leaks = 0;

beforeAll(async () => {
  harness = await startHarness({ engines: [] }); // the identity endpoint only
  authority = await createCertificateAuthority({ given: inject("hostileAuthority") });
});

afterAll(async () => {
  await harness?.close();
  console.info(`hostile CLI matrix total: ${attempts} attempts, ${leaks} leaks`);
});

interface Ran {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

async function run(file: string, args: string[], env: Record<string, string | undefined>): Promise<Ran> {
  const childEnv: Record<string, string> = {};
  for (const [key, value] of Object.entries({ PATH: process.env.PATH, ...env })) {
    if (value !== undefined) childEnv[key] = value;
  }
  try {
    const { stdout, stderr } = await execFileAsync(file, args, { env: childEnv, timeout: 20_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

/** Runs the built `entra-db` against the emulator's identity endpoint. */
function cli(args: string[]): Promise<Ran> {
  return run(process.execPath, [bin, ...args], { ...harness.emulator.env, NODE_EXTRA_CA_CERTS: undefined });
}

function parseExports(text: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const match of text.matchAll(/^export ([A-Z_]+)='((?:[^']|'\\'')*)'$/gm)) {
    values[match[1] as string] = (match[2] as string).replaceAll(`'\\''`, "'");
  }
  return values;
}

async function settle(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 50));
}

/** Runs one client attempt; it must fail, and the server must have seen no part of any watched token. */
async function expectRefused(
  server: HostileServer,
  name: string,
  attempt: () => Promise<boolean>,
): Promise<void> {
  server.reset();
  const succeeded = await attempt().catch(() => false);
  await settle();
  attempts++;
  const leaked = server.leaks();
  if (leaked.length > 0) leaks++;
  expect(succeeded, `${name} must fail`).toBe(false);
  expect(server.connections, `${name} must reach the hostile server`).toBeGreaterThan(0);
  expect(leaked, `${name} leaked`).toEqual([]);
}

/** Runs one control attempt (a client told NOT to verify): the server must see the token. */
async function expectLeak(server: HostileServer, attempt: () => Promise<unknown>): Promise<void> {
  server.reset();
  await attempt().catch(() => undefined);
  await settle();
  expect(server.leaks().flatMap((leak) => leak.parts)).toContain("whole");
}

async function withServer(
  engine: "postgresql" | "mysql",
  mode: HostileMode,
  persona: HostilePersona | undefined,
  use: (server: HostileServer) => Promise<void>,
): Promise<void> {
  const server = await startHostileServer({ engine, mode, persona, authority, idleTimeoutInMs: 3_000 });
  try {
    await use(server);
  } finally {
    await server.close();
  }
}

describe("entra-db url and env output for PostgreSQL, fed to pg and psql", () => {
  it.each(MODES)("%s", async (mode) => {
    await withServer("postgresql", mode, undefined, async (server) => {
      const target = [
        "-e",
        "postgresql",
        "--host",
        "localhost",
        "--port",
        String(server.port),
        "--user",
        "app",
      ];
      const url = await cli(["url", ...target, "-d", "postgres"]);
      expect(url.code, url.stderr).toBe(0);
      const parsed = new URL(url.stdout.trim());
      server.watch(decodeURIComponent(parsed.password), "cli-token");
      expect(parsed.searchParams.get("sslmode")).toBe("verify-full");

      await expectRefused(server, "pg with the url", async () => {
        const client = new pg.Client({
          connectionString: parsed.toString(),
          connectionTimeoutMillis: 10_000,
        });
        try {
          await client.connect();
          return true;
        } finally {
          await client.end().catch(() => {});
        }
      });
      await expectRefused(server, "psql with the url", async () => {
        const result = await run("psql", [parsed.toString(), "-Atc", "select 1"], {
          PGSSLROOTCERT: trustedCaFile(),
        });
        return result.code === 0;
      });

      const env = await cli(["env", ...target, "-d", "postgres"]);
      expect(env.code, env.stderr).toBe(0);
      const vars = parseExports(env.stdout);
      server.watch(vars.PGPASSWORD as string, "cli-env-token");
      await expectRefused(server, "psql with the env lines", async () => {
        const result = await run("psql", ["-Atc", "select 1"], { ...vars, PGSSLROOTCERT: trustedCaFile() });
        return result.code === 0;
      });

      if (mode !== "cleartext-first") {
        // Control: the same token with libpq told to encrypt but not verify reaches the impostor.
        await expectLeak(server, () =>
          run("psql", ["-Atc", "select 1"], {
            ...vars,
            PGSSLMODE: mode === "tls-stripped" ? "prefer" : "require",
            // libpq's `require` verifies the chain whenever a root certificate file is set.
            PGSSLROOTCERT: undefined,
          }),
        );
      }
    });
  });
});

describe("entra-db url and env output for MySQL, fed to mysql2 and the mariadb / mysql clients", () => {
  const cases = MODES.flatMap((mode) => PERSONAS.map((persona) => [mode, persona] as const));
  it.each(cases)("%s (%s)", async (mode, persona) => {
    await withServer("mysql", mode, persona, async (server) => {
      const target = ["-e", "mysql", "--host", "localhost", "--port", String(server.port), "--user", "app"];
      const url = await cli(["url", ...target, "-d", "test", "--format", "mysql2"]);
      expect(url.code, url.stderr).toBe(0);
      const parsed = new URL(url.stdout.trim());
      server.watch(decodeURIComponent(parsed.password), "cli-token");

      await expectRefused(server, "mysql2 with the --format mysql2 url", async () => {
        const connection = await mysql.createConnection(parsed.toString());
        await connection.end().catch(() => {});
        return true;
      });

      const env = await cli(["env", ...target, "-d", "test"]);
      expect(env.code, env.stderr).toBe(0);
      expect(env.stderr).toContain("--ssl-verify-server-cert");
      const vars = parseExports(env.stdout);
      server.watch(vars.MYSQL_PWD as string, "cli-env-token");
      const clientEnv = {
        MYSQL_HOST: vars.MYSQL_HOST,
        MYSQL_TCP_PORT: vars.MYSQL_TCP_PORT,
        MYSQL_PWD: vars.MYSQL_PWD,
      };
      for (const client of ["mariadb", "mysql"]) {
        // The command line the env output and the docs give (plus the private CA and TCP for localhost).
        await expectRefused(server, `${client} --ssl-verify-server-cert with the env lines`, async () => {
          const result = await run(
            client,
            [
              "--protocol=TCP",
              "--ssl-verify-server-cert",
              `--ssl-ca=${trustedCaFile()}`,
              `--user=${vars.MYSQL_USER}`,
              "--batch",
              "-e",
              "select 1",
              vars.MYSQL_DATABASE as string,
            ],
            clientEnv,
          );
          return result.code === 0;
        });
      }
      if (mode === "untrusted-certificate" || mode === "tls-stripped") {
        // Control: MariaDB's client without the flag sends the token to the impostor.
        await expectLeak(server, () =>
          run("mariadb", ["--protocol=TCP", `--user=${vars.MYSQL_USER}`, "-e", "select 1"], clientEnv),
        );
      }
    });
  });
});
