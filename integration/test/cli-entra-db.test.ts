import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { SYSTEM_CA_BUNDLES } from "@org/entra-db-cli";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "../src/start-harness.js";

const execFileAsync = promisify(execFile);
const repoRoot = path.resolve(import.meta.dirname, "..", "..");
// integration/package.json does not depend on @org/entra-db-cli: resolve the built bin from the repo root.
const bin = path.join(repoRoot, "packages", "cli", "dist", "bin.mjs");

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

interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the built `entra-db` with only PATH and the emulator's env (plus `env`, `undefined` removes). */
async function cli(args: string[], env: Record<string, string | undefined> = {}): Promise<CliResult> {
  const childEnv: Record<string, string> = {};
  for (const [key, value] of Object.entries({ PATH: process.env.PATH, ...harness.emulator.env, ...env })) {
    if (value !== undefined) childEnv[key] = value;
  }
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, [bin, ...args], {
      env: childEnv,
      timeout: 18_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

/** Runs psql with a connection string and only PATH; resolves to the trimmed output of `select current_user`. */
async function psqlWith(connection: string): Promise<string> {
  const { stdout } = await execFileAsync("psql", [connection, "-Atc", "select current_user"], {
    env: { PATH: process.env.PATH },
    timeout: 15_000,
  });
  return stdout.trim();
}

/** The major version of the libpq psql uses (`psql --version`). */
async function libpqMajor(): Promise<number> {
  const { stdout } = await execFileAsync("psql", ["--version"]);
  return Number(/\b(\d+)\.\d+/.exec(stdout)?.[1]);
}

/** Parses `export NAME='value'` lines. */
function parseExports(text: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const match of text.matchAll(/^export ([A-Z_]+)='((?:[^']|'\\'')*)'$/gm)) {
    values[match[1] as string] = (match[2] as string).replaceAll(`'\\''`, "'");
  }
  return values;
}

describe("entra-db token", () => {
  it("prints a token from the real DefaultAzureCredential when piped (--force is accepted too)", async () => {
    const { code, stdout } = await cli(["token", "--engine", "postgresql", "--force"]);
    expect(code).toBe(0);
    expect(stdout.trim()).toMatch(/^eyJ[\w-]+\.[\w-]+\.[\w-]+$/);
  });

  it("--json prints token, ISO expiry and scope", async () => {
    const { code, stdout } = await cli(["token", "-e", "mysql", "--json"]);
    expect(code).toBe(0);
    const json = JSON.parse(stdout);
    expect(json.scope).toBe("https://ossrdbms-aad.database.windows.net/.default");
    expect(new Date(json.expiresOn).getTime()).toBeGreaterThan(Date.now());
    expect(json.token).toMatch(/^eyJ/);
  });

  it("needs --engine when both engines' variables are set: a usage error, exit 2", async () => {
    const { code, stdout, stderr } = await cli(["token"]);
    expect(code).toBe(2);
    expect(stdout).toBe("");
    expect(stderr).toMatch(/--engine postgresql\|mysql/);
  });

  it("fails within the timeout when the identity endpoint is down, without a token in the message", async () => {
    harness.emulator.faults.identity.set({ mode: "down" });
    const started = Date.now();
    const { code, stdout, stderr } = await cli(["token", "-e", "postgresql", "--timeout", "2"]);
    expect(code).toBe(1);
    expect(stdout).toBe("");
    expect(stderr).toMatch(/^entra-db: .*\[(TOKEN_TIMEOUT|CREDENTIAL_FAILED)\]/);
    expect(stderr).not.toMatch(/eyJ/);
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});

describe("entra-db url", () => {
  it("gives a postgresql:// URL that psql logs in with as it is (verify-full, sslrootcert from NODE_EXTRA_CA_CERTS)", async () => {
    const { code, stdout } = await cli(["url", "-e", "postgresql"]);
    expect(code).toBe(0);
    const url = stdout.trim();
    const ca = harness.emulator.env.NODE_EXTRA_CA_CERTS as string;
    expect(url).toBe(url.replace(/\?.*$/, `?sslmode=verify-full&sslrootcert=${encodeURIComponent(ca)}`));
    expect(url).toMatch(/^postgresql:\/\/emulated-app:eyJ[^@]+@localhost:\d+\/\w+\?/);
    expect(await psqlWith(url)).toBe("emulated-app");
  });

  it("--ca names the file; without any CA it is the system's CA bundle file, which every client reads", async () => {
    const ca = harness.emulator.env.NODE_EXTRA_CA_CERTS as string;
    const withCa = await cli(["url", "-e", "postgresql", "--ca", ca], { NODE_EXTRA_CA_CERTS: undefined });
    expect(withCa.code).toBe(0);
    expect(new URL(withCa.stdout.trim()).searchParams.get("sslrootcert")).toBe(ca);
    expect(await psqlWith(withCa.stdout.trim())).toBe("emulated-app");

    const plain = await cli(["url", "-e", "postgresql"], { NODE_EXTRA_CA_CERTS: undefined });
    const bundle = SYSTEM_CA_BUNDLES.find((file) => existsSync(file)) ?? "system";
    expect(new URL(plain.stdout.trim()).searchParams.get("sslrootcert")).toBe(bundle);
    const error = await psqlWith(plain.stdout.trim()).then(
      () => "connected",
      (e: { stderr: string }) => e.stderr,
    );
    // The system's CAs do not include the emulator's: psql reads the bundle and verification fails
    // (with "system", libpq 16+ does the same and libpq 15 and older take it as a file name).
    expect(error).toMatch(
      bundle !== "system" || (await libpqMajor()) >= 16
        ? /certificate verify failed/
        : /root certificate file "system" does not exist/,
    );
    // node-postgres reads the same URL (it cannot read "system"): it connects and fails verification.
    const client = new pg.Client({ connectionString: plain.stdout.trim(), connectionTimeoutMillis: 10_000 });
    const pgError = await client.connect().then(
      () => "connected",
      (e: Error) => e.message,
    );
    await client.end().catch(() => {});
    expect(pgError).toMatch(bundle !== "system" ? /self-signed|unable to verify|certificate/ : /ENOENT/);
  });

  it("--ca with a file that cannot be read is a usage error (exit 2) and fetches no token", async () => {
    const { code, stdout, stderr } = await cli(["url", "-e", "postgresql", "--ca", "/nonexistent/ca.pem"]);
    expect(code).toBe(2);
    expect(stdout).toBe("");
    expect(stderr).toMatch(/Cannot read the --ca file "\/nonexistent\/ca.pem"/);
  });

  it("--json prints url, engine, host, port, database, user and expiresOn, and the url works", async () => {
    const { code, stdout, stderr } = await cli(["url", "-e", "postgresql", "--json"]);
    expect(code).toBe(0);
    const json = JSON.parse(stdout);
    expect(Object.keys(json)).toEqual(["url", "engine", "host", "port", "database", "user", "expiresOn"]);
    expect(json).toMatchObject({
      engine: "postgresql",
      host: "localhost",
      port: Number(harness.emulator.env.AZURE_POSTGRESQL_PORT),
      database: harness.emulator.env.AZURE_POSTGRESQL_DATABASE,
      user: "emulated-app",
    });
    expect(new Date(json.expiresOn).getTime()).toBeGreaterThan(Date.now());
    expect(stderr).toBe("");
    expect(await psqlWith(json.url)).toBe("emulated-app");
  });

  it("gives a mysql:// URL (ssl-mode=VERIFY_IDENTITY) whose parts the mariadb client logs in with", async () => {
    const { code, stdout } = await cli(["url", "-e", "mysql"]);
    expect(code).toBe(0);
    const url = new URL(stdout.trim());
    expect(url.searchParams.get("ssl-mode")).toBe("VERIFY_IDENTITY");
    const ca = url.searchParams.get("ssl-ca") as string;
    expect(ca).toBe(harness.emulator.env.NODE_EXTRA_CA_CERTS);
    const { stdout: out } = await execFileAsync(
      "mariadb",
      [
        `--host=${url.hostname}`,
        `--port=${url.port}`,
        `--user=${decodeURIComponent(url.username)}`,
        "--protocol=TCP",
        "--ssl",
        `--ssl-ca=${ca}`,
        "--ssl-verify-server-cert",
        "--batch",
        "--skip-column-names",
        "-e",
        "select current_user()",
        decodeURIComponent(url.pathname.slice(1)),
      ],
      { env: { PATH: process.env.PATH, MYSQL_PWD: decodeURIComponent(url.password) }, timeout: 15_000 },
    );
    expect(out.trim().split("\n").at(-1)).toBe("emulated-app@%");
  });

  it("--format mysql2 gives a URL mysql2 connects with as-is (TLS verified with the CA inside, cleartext plugin allowed)", async () => {
    const { code, stdout } = await cli(["url", "-e", "mysql", "--format", "mysql2"]);
    expect(code).toBe(0);
    const ssl = JSON.parse(new URL(stdout.trim()).searchParams.get("ssl") as string);
    expect(ssl).toEqual({
      verifyIdentity: true,
      ca: readFileSync(harness.emulator.env.NODE_EXTRA_CA_CERTS as string, "utf8"),
    });
    const script = `import mysql from "mysql2/promise";
const c = await mysql.createConnection({ uri: process.env.DB_URL });
const [rows] = await c.query("select current_user() as u");
console.log(rows[0].u);
await c.end();`;
    const { stdout: out } = await execFileAsync(process.execPath, ["--input-type=module", "-e", script], {
      cwd: path.join(repoRoot, "integration"),
      // No NODE_EXTRA_CA_CERTS: the CA travels in the URL.
      env: { PATH: process.env.PATH, DB_URL: stdout.trim() },
      timeout: 15_000,
    });
    expect(out.trim()).toBe("emulated-app@%");
  });

  it("--user overrides AZURE_*_USER and is URL-encoded", async () => {
    const { stdout } = await cli(["url", "-e", "postgresql", "--user", "dev@contoso.com"]);
    expect(stdout).toMatch(/^postgresql:\/\/dev%40contoso.com:eyJ/);
  });
});

describe("entra-db env", () => {
  it("prints PG* lines psql uses as they are", async () => {
    const { code, stdout } = await cli(["env", "-e", "postgresql"]);
    expect(code).toBe(0);
    const vars = parseExports(stdout);
    expect(Object.keys(vars)).toEqual([
      "PGHOST",
      "PGPORT",
      "PGDATABASE",
      "PGUSER",
      "PGPASSWORD",
      "PGSSLMODE",
      "PGSSLROOTCERT",
    ]);
    expect(vars.PGSSLMODE).toBe("verify-full");
    expect(vars.PGSSLROOTCERT).toBe(harness.emulator.env.NODE_EXTRA_CA_CERTS);
    const { stdout: out } = await execFileAsync("psql", ["-Atc", "select current_user"], {
      env: { PATH: process.env.PATH, ...vars },
      timeout: 15_000,
    });
    expect(out.trim()).toBe("emulated-app");
  });

  it("keeps a PGSSLROOTCERT already set, and --ca wins over it", async () => {
    const ca = harness.emulator.env.NODE_EXTRA_CA_CERTS as string;
    const kept = parseExports(
      (await cli(["env", "-e", "postgresql"], { PGSSLROOTCERT: ca, NODE_EXTRA_CA_CERTS: undefined })).stdout,
    );
    expect(kept.PGSSLROOTCERT).toBe(ca);
    const flag = parseExports(
      (await cli(["env", "-e", "postgresql", "--ca", "system"], { PGSSLROOTCERT: ca })).stdout,
    );
    expect(flag.PGSSLROOTCERT).toBe("system");
  });

  it("--json prints { variables, engine, host, port, database, user, expiresOn } that psql logs in with", async () => {
    const { code, stdout, stderr } = await cli(["env", "-e", "postgresql", "--json"]);
    expect(code).toBe(0);
    expect(stderr).toBe("");
    const json = JSON.parse(stdout);
    expect(Object.keys(json)).toEqual([
      "variables",
      "engine",
      "host",
      "port",
      "database",
      "user",
      "expiresOn",
    ]);
    expect(json.variables.PGPASSWORD).toMatch(/^eyJ/);
    expect(json.user).toBe("emulated-app");
    const { stdout: out } = await execFileAsync("psql", ["-Atc", "select current_user"], {
      env: { PATH: process.env.PATH, ...json.variables },
      timeout: 15_000,
    });
    expect(out.trim()).toBe("emulated-app");
  });

  // fish, PowerShell and cmd are not installed here: each shell's lines are read back by its
  // documented quoting rules (exact-text tests for tricky values are in shell-quote.test.ts) and
  // the variables must log psql in.
  it.each([
    ["fish", /^set -gx ([A-Z_]+) '((?:[^'\\]|\\['\\])*)'$/, (v: string) => v.replace(/\\(['\\])/g, "$1")],
    ["powershell", /^\$env:([A-Z_]+) = '((?:[^']|'')*)'$/, (v: string) => v.replaceAll("''", "'")],
    ["cmd", /^set "([A-Z_]+)=(.*)"$/, (v: string) => v],
  ] as const)(
    "--shell %s prints one assignment per variable that psql logs in with",
    async (shell, line, unquote) => {
      const { code, stdout } = await cli(["env", "-e", "postgresql", "--shell", shell]);
      expect(code).toBe(0);
      const vars: Record<string, string> = {};
      for (const text of stdout.split("\n").filter(Boolean)) {
        const match = line.exec(text);
        expect(match, text).not.toBeNull();
        vars[match?.[1] as string] = unquote(match?.[2] as string);
      }
      expect(Object.keys(vars)).toHaveLength(7);
      const { stdout: out } = await execFileAsync("psql", ["-Atc", "select current_user"], {
        env: { PATH: process.env.PATH, ...vars },
        timeout: 15_000,
      });
      expect(out.trim()).toBe("emulated-app");
    },
  );

  it("--shell rejects an unknown shell and --json with --shell (exit 2)", async () => {
    expect((await cli(["env", "-e", "postgresql", "--shell", "tcsh"])).code).toBe(2);
    expect((await cli(["env", "-e", "postgresql", "--shell", "fish", "--json"])).code).toBe(2);
  });

  it("prints MYSQL_* lines the mariadb client uses (host, port, password from the environment)", async () => {
    const { code, stdout } = await cli(["env", "-e", "mysql"]);
    expect(code).toBe(0);
    const vars = parseExports(stdout);
    // The commented command names the CA file (from NODE_EXTRA_CA_CERTS).
    expect(stdout).toContain(
      `#   mariadb --ssl-verify-server-cert --ssl-ca='${harness.emulator.env.NODE_EXTRA_CA_CERTS}' --user="$MYSQL_USER" "$MYSQL_DATABASE"\n`,
    );
    const { stdout: out } = await execFileAsync(
      "mariadb",
      [
        `--user=${vars.MYSQL_USER}`,
        "--protocol=TCP",
        "--ssl",
        `--ssl-ca=${harness.emulator.env.NODE_EXTRA_CA_CERTS}`,
        "--ssl-verify-server-cert",
        "--batch",
        "--skip-column-names",
        "-e",
        "select current_user()",
        vars.MYSQL_DATABASE as string,
      ],
      {
        env: {
          PATH: process.env.PATH,
          MYSQL_HOST: vars.MYSQL_HOST,
          MYSQL_TCP_PORT: vars.MYSQL_TCP_PORT,
          MYSQL_PWD: vars.MYSQL_PWD,
        },
        timeout: 15_000,
      },
    );
    expect(out.trim().split("\n").at(-1)).toBe("emulated-app@%");
  });
});
