import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
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

  it("needs --engine when both engines' variables are set, and fails with code 1", async () => {
    const { code, stdout, stderr } = await cli(["token"]);
    expect(code).toBe(1);
    expect(stdout).toBe("");
    expect(stderr).toMatch(/--engine postgresql\|mysql.*\[MISSING_SETTING\]/);
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
  it("gives a postgresql:// URL that psql logs in with (verify-full)", async () => {
    const { code, stdout } = await cli(["url", "-e", "postgresql"]);
    expect(code).toBe(0);
    const url = stdout.trim();
    expect(url).toMatch(/^postgresql:\/\/emulated-app:eyJ[^@]+@localhost:\d+\/\w+\?sslmode=verify-full$/);
    const ca = harness.emulator.env.NODE_EXTRA_CA_CERTS as string;
    const psql = await execFileAsync("psql", [`${url}&sslrootcert=${ca}`, "-Atc", "select current_user"], {
      env: { PATH: process.env.PATH },
      timeout: 15_000,
    });
    expect(psql.stdout.trim()).toBe("emulated-app");
  });

  it("gives a mysql:// URL (ssl-mode=VERIFY_IDENTITY) whose parts the mariadb client logs in with", async () => {
    const { code, stdout } = await cli(["url", "-e", "mysql"]);
    expect(code).toBe(0);
    const url = new URL(stdout.trim());
    expect(url.searchParams.get("ssl-mode")).toBe("VERIFY_IDENTITY");
    const ca = harness.emulator.env.NODE_EXTRA_CA_CERTS as string;
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

  it("--format mysql2 gives a URL mysql2 connects with as-is (TLS verified, cleartext plugin allowed)", async () => {
    const { code, stdout } = await cli(["url", "-e", "mysql", "--format", "mysql2"]);
    expect(code).toBe(0);
    const script = `import mysql from "mysql2/promise";
const c = await mysql.createConnection({ uri: process.env.DB_URL });
const [rows] = await c.query("select current_user() as u");
console.log(rows[0].u);
await c.end();`;
    const { stdout: out } = await execFileAsync(process.execPath, ["--input-type=module", "-e", script], {
      cwd: path.join(repoRoot, "integration"),
      env: {
        PATH: process.env.PATH,
        DB_URL: stdout.trim(),
        NODE_EXTRA_CA_CERTS: harness.emulator.env.NODE_EXTRA_CA_CERTS,
      },
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
    ]);
    expect(vars.PGSSLMODE).toBe("verify-full");
    const { stdout: out } = await execFileAsync("psql", ["-Atc", "select current_user"], {
      env: { PATH: process.env.PATH, ...vars, PGSSLROOTCERT: harness.emulator.env.NODE_EXTRA_CA_CERTS },
      timeout: 15_000,
    });
    expect(out.trim()).toBe("emulated-app");
  });

  it("prints MYSQL_* lines the mariadb client uses (host, port, password from the environment)", async () => {
    const { code, stdout } = await cli(["env", "-e", "mysql"]);
    expect(code).toBe(0);
    const vars = parseExports(stdout);
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
