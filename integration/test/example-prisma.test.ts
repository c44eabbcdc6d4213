import { spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { withEntra } from "@org/pg-entra";
import { entraDatabaseUrl } from "@org/prisma-entra";
import mysql from "mysql2/promise";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { type ProcessResult, runProcess } from "../src/run-process.js";
import { startProxyProcess } from "../src/start-proxy-process.js";
import { useHarness } from "../src/use-harness.js";

const exampleDir = path.join(import.meta.dirname, "..", "..", "examples", "prisma");
const migrationSql = readFileSync(
  path.join(exampleDir, "prisma", "migrations", "20261201000000_init", "migration.sql"),
  "utf8",
);

const harness = useHarness({ engines: ["postgresql", "mysql"] });

function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<ProcessResult> {
  return runProcess(command, args, { cwd: exampleDir, env, timeoutInMs: 90_000 });
}

/** The example's own binaries (node_modules/.bin), as its package.json scripts would run them. */
const bin = (name: string) => path.join(exampleDir, "node_modules", ".bin", name);

describe("examples/prisma through the emulator", () => {
  it("`prisma generate` (real CLI) and the app create and read a row signed in with Entra tokens", async () => {
    // Prisma's CLI resolves a schema-engine binary before every command and would download it;
    // that download is unreachable here. `generate` never runs the engine, so in this test only a
    // stand-in path is given. Users do not set this.
    const generate = await run(bin("prisma"), ["generate"], {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      PRISMA_SCHEMA_ENGINE_BINARY: "/bin/false",
      PRISMA_HIDE_UPDATE_MESSAGE: "1",
    });
    expect(generate.output).toContain("Generated Prisma Client");
    expect(generate.code, generate.output).toBe(0);

    // The example type-checks against the client just generated (turbo's typecheck skips it:
    // before `prisma generate` there is no client to check against).
    const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
    const types = await run(process.execPath, [tsc, "--noEmit", "-p", "tsconfig.json"], {
      PATH: process.env.PATH,
    });
    expect(types.code, types.output).toBe(0);

    // `prisma migrate deploy` cannot run here (no schema engine): apply the example's migration
    // over a direct Entra connection instead.
    const db = new pg.Client(withEntra({ ssl: harness.tls }));
    await db.connect();
    try {
      await db.query('drop table if exists "notes"');
      await db.query(migrationSql);
      harness.emulator.resetCounters();

      const app = await run(bin("tsx"), ["src/app.ts"], { PATH: process.env.PATH, ...harness.emulator.env });
      expect(app.code, app.output).toBe(0);
      const user = harness.emulator.identities[0]?.name as string;
      expect(app.output).toMatch(new RegExp(`note \\d+: Signed in with Microsoft Entra ID \\(as ${user}\\)`));
      const { counters } = harness.emulator;
      console.info(
        `examples/prisma app: ${counters.byEngine.postgres.loginsAccepted} Entra login(s), ` +
          `${counters.tokenRequests} token request(s), ${counters.loginsRejected} rejected`,
      );
      expect(counters.byEngine.postgres.loginsAccepted).toBeGreaterThanOrEqual(1);
      expect(counters.loginsRejected).toBe(0);

      const { rows } = await db.query<{ title: string }>('select title from "notes"');
      expect(rows.map((row) => row.title)).toEqual(["Signed in with Microsoft Entra ID"]);

      // Prisma Client with a plain URL (no password) pointed at `entra-db proxy`.
      const proxy = await startProxyProcess(["--engine", "postgresql"], harness.emulator.env);
      try {
        const database = harness.emulator.postgres?.database;
        const viaProxy = await run(bin("tsx"), ["src/through-proxy.ts"], {
          PATH: process.env.PATH,
          DATABASE_URL: `postgresql://app@127.0.0.1:${proxy.port}/${database}?sslmode=disable`,
        });
        expect(viaProxy.code, viaProxy.output).toBe(0);
        expect(viaProxy.output).toContain(`1 note(s) through entra-db proxy (as ${user})`);
      } finally {
        expect(await proxy.stop()).toBe(0);
      }

      // The HTTP starter: boot, one request that reads the database, shut down.
      const server = spawn(bin("tsx"), ["src/server.ts"], {
        cwd: exampleDir,
        env: { PATH: process.env.PATH, ...harness.emulator.env, PORT: "0" },
        stdio: ["ignore", "pipe", "pipe"],
      });
      try {
        const base = await new Promise<string>((resolve, reject) => {
          let output = "";
          const timer = setTimeout(() => reject(new Error(`server did not start:\n${output}`)), 30_000);
          server.stdout.on("data", (chunk: Buffer) => {
            output += chunk;
            const match = /listening on (http:\/\/\S+)/.exec(output);
            if (match) {
              clearTimeout(timer);
              resolve(match[1] as string);
            }
          });
          server.stderr.on("data", (chunk: Buffer) => {
            output += chunk;
          });
        });
        const whoami = await fetch(`${base}/whoami`);
        expect(await whoami.json()).toEqual({ user });
        const notes = (await (await fetch(`${base}/notes`)).json()) as Array<{ title: string }>;
        expect(notes.map((note) => note.title)).toEqual(["Signed in with Microsoft Entra ID"]);
      } finally {
        server.kill("SIGTERM");
        const [code] = await once(server, "exit");
        expect(code).toBe(0);
      }
    } finally {
      await db.query('drop table if exists "notes"').catch(() => {});
      await db.end();
    }
  });

  it("entraDatabaseUrl (postgresql) authenticates through the gateway with psql", async () => {
    const url = new URL(await entraDatabaseUrl({ provider: "postgresql" }));
    expect(url.protocol).toBe("postgresql:");
    expect(url.searchParams.get("sslmode")).toBe("require");
    expect(url.searchParams.get("sslaccept")).toBe("strict");
    // psql (libpq) does not know Prisma's `sslaccept`; its equivalent is verify-full + sslrootcert.
    url.searchParams.delete("sslaccept");
    url.searchParams.set("sslmode", "verify-full");
    url.searchParams.set("sslrootcert", harness.emulator.env.NODE_EXTRA_CA_CERTS);
    harness.emulator.resetCounters();
    const psql = await run("psql", [url.toString(), "-tAc", "select current_user"], {
      PATH: process.env.PATH,
    });
    expect(psql.code, psql.output.replaceAll(url.password, "***")).toBe(0);
    expect(psql.output.trim()).toBe(harness.emulator.identities[0]?.name);
    expect(harness.emulator.counters.byEngine.postgres.loginsAccepted).toBe(1);
  });

  it("entraDatabaseUrl (mysql) authenticates through the gateway with mysql2", async () => {
    const url = new URL(await entraDatabaseUrl({ provider: "mysql" }));
    expect(url.protocol).toBe("mysql:");
    expect(url.searchParams.get("sslaccept")).toBe("strict");
    harness.emulator.resetCounters();
    const token = decodeURIComponent(url.password);
    const connection = await mysql.createConnection({
      host: url.hostname,
      port: Number(url.port),
      user: decodeURIComponent(url.username),
      database: decodeURIComponent(url.pathname.slice(1)),
      ssl: { ca: harness.tls.ca },
      // The URL carries the token as a static password; send it the way Azure asks for it.
      authPlugins: { mysql_clear_password: () => () => Buffer.from(`${token}\0`) },
    });
    try {
      const [rows] = await connection.query<mysql.RowDataPacket[]>(
        "select substring_index(current_user(), '@', 1) as user",
      );
      expect(rows[0]?.user).toBe(harness.emulator.identities[0]?.name);
    } finally {
      await connection.end();
    }
    expect(harness.emulator.counters.byEngine.mysql.loginsAccepted).toBe(1);
  });
});
