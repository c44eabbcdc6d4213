// The README's Quickstart install lines, run as printed against the packages as the registry will
// serve them: each line is installed with npm into its own clean project (the @org scope from a
// local registry holding the packed tarballs, everything else from the real npm registry), must
// bring no database driver it does not name, and then connects through the emulator.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Emulator } from "@org/entra-emulator";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  type ConsumerProject,
  createConsumerProject,
  createLimiter,
  dependencyClosure,
  type Footprint,
  type InstalledPackage,
} from "../src/packed/consumer-project.js";
import type { LocalRegistry } from "../src/packed/local-registry.js";
import { type PackedEnvironment, startPackedEnvironment } from "../src/packed/packed-environment.js";
import type { ProcessResult } from "../src/run-process.js";

const root = join(import.meta.dirname, "..", "..");
const readme = readFileSync(join(root, "README.md"), "utf8");

/** One install line of the Quickstart, with the packages it names. */
interface InstallLine {
  /** The library it is for, as the README's comment names it (`node-postgres`, `knex`, ...). */
  readonly label: string;
  /** The command as printed (`npm i @org/pg-entra @azure/identity pg`). */
  readonly command: string;
  readonly packages: readonly string[];
  /** The `@org/*` package the line is about. */
  readonly adapter: string;
}

/**
 * The install lines of the Quickstart code block: every `// <library>: npm i <packages>` comment,
 * and for a code line whose trailing comment names another `@org/*` package (the tedious line under
 * "Azure SQL with tedious or mssql: npm i @org/mssql-entra @azure/identity mssql") the group's line
 * with that package in place of the group's adapter and its driver in place of the group's driver
 * (`@org/tedious-entra` -> `tedious`).
 */
function quickstartInstallLines(markdown: string): InstallLine[] {
  const section = /^## Quickstart\n([\s\S]*?)(?=^## )/m.exec(markdown)?.[1];
  const block = section && /^```\w*\n([\s\S]*?)^```/m.exec(section)?.[1];
  if (!block) throw new Error("README.md: no code block under ## Quickstart");
  const lines: InstallLine[] = [];
  let group: InstallLine | undefined;
  for (const text of block.split("\n")) {
    const install = /^\s*\/\/\s*(.+?):\s*(npm (?:i|install) [^#]+?)\s*$/.exec(text);
    if (install) {
      const command = install[2] as string;
      const packages = command.split(/\s+/).slice(2);
      group = { label: install[1] as string, command, packages, adapter: adapterOf(packages, command) };
      lines.push(group);
      continue;
    }
    const named = /\/\/\s*(@org\/[\w.-]+)\s*$/.exec(text)?.[1];
    if (named && group && !group.packages.includes(named)) {
      const packages = group.packages.map((name) =>
        name === group?.adapter ? named : name === driverOf(group?.adapter ?? "") ? driverOf(named) : name,
      );
      lines.push({
        label: driverOf(named),
        command: `npm i ${packages.join(" ")}`,
        packages,
        adapter: named,
      });
    }
  }
  return lines;
}

function adapterOf(packages: readonly string[], command: string): string {
  const ours = packages.filter((name) => name.startsWith("@org/"));
  if (ours.length !== 1) throw new Error(`README Quickstart: "${command}" should name one @org package`);
  return ours[0] as string;
}

/** `@org/tedious-entra` -> `tedious`: the driver an adapter is named after. */
function driverOf(adapter: string): string {
  return adapter.replace(/^@org\//, "").replace(/-entra$/, "");
}

/** Packages that are database drivers (a line must name each one it brings, or name what depends on it). */
function isDriver(name: string): boolean {
  return (
    [
      "pg",
      "pg-native",
      "postgres",
      "mysql",
      "mysql2",
      "mariadb",
      "tedious",
      "mssql",
      "oracledb",
      "sqlite3",
      "better-sqlite3",
    ].includes(name) || name.startsWith("@prisma/adapter-")
  );
}

type Engine = "postgresql" | "mysql" | "sqlserver";

/** The engine a line targets, from the driver packages it names. */
function engineOf(line: InstallLine): Engine {
  const engines = new Set<Engine>();
  for (const name of line.packages) {
    if (["pg", "postgres", "@prisma/adapter-pg"].includes(name)) engines.add("postgresql");
    if (["mysql2", "mariadb", "@prisma/adapter-mariadb"].includes(name)) engines.add("mysql");
    if (["mssql", "tedious", "@prisma/adapter-mssql"].includes(name)) engines.add("sqlserver");
  }
  if (engines.size !== 1) throw new Error(`"${line.command}" names drivers of ${engines.size} engines`);
  return [...engines][0] as Engine;
}

const DATABASE: Record<Engine, string> = {
  postgresql: "process.env.AZURE_POSTGRESQL_DATABASE",
  mysql: "process.env.AZURE_MYSQL_DATABASE",
  sqlserver: "process.env.AZURE_SQL_DATABASE",
};
/** Who the session is and a constant row, in each engine's SQL. */
const WHO_AM_I: Record<Engine, string> = {
  postgresql: "select current_user as name, 1 as one",
  mysql: "select current_user() as name, 1 as one",
  sqlserver: "select suser_sname() as name, 1 as one",
};

const REPORT = `const report = (row) => console.log("RESULT " + JSON.stringify({ name: row.name, one: Number(row.one) }));\n`;

/**
 * A plain .mjs that uses the line's packages the way the README shows (host, port and user from
 * the Service Connector variables the emulator sets), asks the server who it is, and prints
 * `RESULT {"name","one"}`.
 */
function checkScript(line: InstallLine): string {
  const engine = engineOf(line);
  const database = DATABASE[engine];
  const sql = JSON.stringify(WHO_AM_I[engine]);
  const named = (name: string) => line.packages.includes(name);
  switch (line.adapter) {
    case "@org/pg-entra":
      return `import pg from "pg";
import { withEntra } from "@org/pg-entra";
${REPORT}
const pool = new pg.Pool(withEntra({ database: ${database} }));
const { rows } = await pool.query(${sql});
report(rows[0]);
await pool.end();
`;
    case "@org/postgres-entra":
      return `import postgres from "postgres";
import { withEntra } from "@org/postgres-entra";
${REPORT}
const sql = postgres(withEntra({ database: ${database} }));
const rows = await sql.unsafe(${sql});
report(rows[0]);
await sql.end();
`;
    case "@org/mysql2-entra":
      return `import mysql from "mysql2/promise";
import { withEntra } from "@org/mysql2-entra";
${REPORT}
const pool = mysql.createPool(withEntra({ database: ${database} }));
const [rows] = await pool.query(${sql});
report(rows[0]);
await pool.end();
`;
    case "@org/knex-entra": {
      const client = { postgresql: "pg", mysql: "mysql2", sqlserver: "mssql" }[engine];
      return `import knex from "knex";
import { withEntra } from "@org/knex-entra";
${REPORT}
const db = knex(withEntra({ client: "${client}", connection: { database: ${database} } }));
const rows = await db.select(db.raw(${JSON.stringify(WHO_AM_I[engine].replace(/^select /, ""))}));
report(rows[0]);
await db.destroy();
`;
    }
    case "@org/sequelize-entra": {
      const dialect = {
        postgresql: "postgres",
        mysql: named("mariadb") ? "mariadb" : "mysql",
        sqlserver: "mssql",
      }[engine];
      return `import { QueryTypes, Sequelize } from "sequelize";
import { withEntra } from "@org/sequelize-entra";
${REPORT}
const sequelize = new Sequelize(withEntra({ dialect: "${dialect}", database: ${database}, logging: false }));
const rows = await sequelize.query(${sql}, { type: QueryTypes.SELECT });
report(rows[0]);
await sequelize.close();
`;
    }
    case "@org/typeorm-entra": {
      const type = { postgresql: "postgres", mysql: "mysql", sqlserver: "mssql" }[engine];
      return `import { DataSource } from "typeorm";
import { withEntra } from "@org/typeorm-entra";
${REPORT}
const dataSource = new DataSource(withEntra({ type: "${type}", database: ${database}, entities: [] }));
await dataSource.initialize();
const rows = await dataSource.query(${sql});
report(rows[0]);
await dataSource.destroy();
`;
    }
    case "@org/prisma-entra": {
      const provider = { postgresql: "postgresql", mysql: "mysql", sqlserver: "sqlserver" }[engine];
      // What PrismaClient does with an adapter factory, without generating a client.
      return `import { createEntraAdapter } from "@org/prisma-entra";
${REPORT}
const factory = createEntraAdapter({ provider: "${provider}" });
const adapter = await factory.connect();
const result = await adapter.queryRaw({ sql: ${sql}, args: [], argTypes: [] });
report(Object.fromEntries(result.columnNames.map((column, i) => [column, result.rows[0][i]])));
await adapter.dispose();
`;
    }
    case "@org/mssql-entra":
      return `import sql from "mssql";
import { withEntra } from "@org/mssql-entra";
${REPORT}
const pool = await new sql.ConnectionPool(withEntra({ database: ${database} })).connect();
const { recordset } = await pool.query(${sql});
report(recordset[0]);
await pool.close();
`;
    case "@org/tedious-entra":
      return `import { Connection, Request } from "tedious";
import { withEntra } from "@org/tedious-entra";
${REPORT}
const connection = new Connection(withEntra({ options: { database: ${database} } }));
await new Promise((resolve, reject) => connection.connect((error) => (error ? reject(error) : resolve())));
const row = await new Promise((resolve, reject) => {
  let first;
  const request = new Request(${sql}, (error) => (error ? reject(error) : resolve(first)));
  request.on("row", (columns) => {
    first ??= Object.fromEntries(columns.map((column) => [column.metadata.colName, column.value]));
  });
  connection.execSql(request);
});
report(row);
connection.close();
`;
    default:
      throw new Error(`no check script for ${line.adapter} ("${line.command}"): add one`);
  }
}

/** What happened to one line. */
interface LineOutcome {
  readonly install: ProcessResult;
  readonly installSeconds: number;
  readonly installed: readonly InstalledPackage[];
  readonly footprint?: Footprint;
  readonly run?: ProcessResult;
}

/**
 * The README's install footprint table under the Quickstart block: rows
 * `` | `<install line>` | <packages> | <MB> | ``, keyed by the line.
 */
function documentedFootprints(markdown: string): Map<string, { packages: number; megabytes: number }> {
  const section = /^## Quickstart\n([\s\S]*?)(?=^## )/m.exec(markdown)?.[1] ?? "";
  const rows = [...section.matchAll(/^\| `(npm (?:i|install) [^`]+)` \| (\d+) \| ([\d.]+) \|$/gm)];
  return new Map(rows.map((m) => [m[1] as string, { packages: Number(m[2]), megabytes: Number(m[3]) }]));
}

const lines = quickstartInstallLines(readme);
const documented = documentedFootprints(readme);
const packed = inject("packedPackages");
const outcomes = new Map<string, Promise<LineOutcome>>();
const projects: ConsumerProject[] = [];
let environment: PackedEnvironment | undefined;
let registry: LocalRegistry | undefined;
let emulator: Emulator | undefined;
const started = performance.now();

beforeAll(async () => {
  environment = await startPackedEnvironment(packed);
  ({ registry, emulator } = environment);
  const limit = createLimiter(3);
  for (const line of lines) {
    const outcome = limit(() => installAndRun(line));
    outcome.catch(() => {}); // reported by the line's test
    outcomes.set(line.command, outcome);
  }
});

afterAll(async () => {
  await Promise.allSettled(outcomes.values());
  const rows: string[] = [];
  const drift: string[] = [];
  for (const line of lines) {
    const footprint = (await outcomes.get(line.command)?.catch(() => undefined))?.footprint;
    const megabytes = footprint ? (footprint.bytes / 1e6).toFixed(1) : "-";
    rows.push(`| \`${line.command}\` | ${footprint?.packages ?? "-"} | ${megabytes} |`);
    const before = documented.get(line.command);
    if (!before || before.packages !== footprint?.packages || before.megabytes.toFixed(1) !== megabytes) {
      drift.push(`  ${line.command}: README ${before ? `${before.packages} / ${before.megabytes}` : "none"}`);
    }
  }
  console.log(
    [
      `Install footprint (npm ${npmVersion ?? "?"}, Node ${process.version}; node_modules, MB = 10^6 bytes on disk as du counts them):`,
      "",
      "| line | packages | MB |",
      "| --- | ---: | ---: |",
      ...rows,
      "",
      drift.length > 0 ? `differs from README.md:\n${drift.join("\n")}` : "README.md has these numbers",
      `quickstart: ${lines.length} lines in ${((performance.now() - started) / 1000).toFixed(0)} s`,
    ].join("\n"),
  );
  await Promise.allSettled(projects.map((project) => project.close()));
  await environment?.close();
});

let npmVersion: string | undefined;

async function installAndRun(line: InstallLine): Promise<LineOutcome> {
  if (!registry || !emulator) throw new Error("registry and emulator start in beforeAll");
  const project = await createConsumerProject({ npmrc: registry.npmrc, label: "quickstart" });
  projects.push(project);
  npmVersion ??= (await project.npm(["--version"])).stdout.trim();
  const begin = performance.now();
  // Exactly the printed words: `npm i <packages>` (plus --no-audit --no-fund --prefer-offline).
  const install = await project.npm(line.command.split(/\s+/).slice(1));
  const installSeconds = (performance.now() - begin) / 1000;
  if (install.code !== 0) return { install, installSeconds, installed: [] };
  const installed = await project.installed();
  const footprint = await project.footprint();
  const script = await project.write("check.mjs", checkScript(line));
  const run = await project.node(script, { env: emulator.env });
  return { install, installSeconds, installed, footprint, run };
}

it("README.md's Quickstart has an install line per documented library", () => {
  expect(lines.map((line) => line.adapter)).toEqual(
    expect.arrayContaining([
      "@org/pg-entra",
      "@org/mysql2-entra",
      "@org/knex-entra",
      "@org/sequelize-entra",
      "@org/typeorm-entra",
      "@org/prisma-entra",
      "@org/mssql-entra",
      "@org/tedious-entra",
    ]),
  );
  for (const line of lines) {
    expect(line.packages, line.command).toContain("@azure/identity");
    expect(Object.keys(packed), line.command).toContain(line.adapter);
  }
});

it("README.md's install footprint table has a row for each install line", () => {
  // The numbers move with the registry (new releases of dependencies); afterAll prints today's.
  expect([...documented.keys()].sort()).toEqual(lines.map((line) => line.command).sort());
});

describe.each(lines)("README Quickstart: $command", (line) => {
  it("installs from the packed packages with no database driver the line does not name", async () => {
    const outcome = await outcomes.get(line.command);
    expect(outcome?.install.code, outcome?.install.output).toBe(0);
    const installed = outcome?.installed ?? [];
    // The @org packages are the packed ones, served by the local registry.
    for (const pkg of installed.filter((p) => p.name.startsWith("@org/"))) {
      expect(pkg.version, pkg.path).toBe(packed[pkg.name]?.version);
    }
    expect(installed.map((p) => p.path)).toContain(`node_modules/${line.adapter}`);
    const servedPackument = registry
      ?.requests()
      .some((r) => r.status === 200 && decodeURIComponent(r.path) === `/${line.adapter}`);
    expect(servedPackument, `the local registry served ${line.adapter}`).toBe(true);
    // A driver may be there only if the line names it or a third-party package it names depends on it
    // (mssql depends on tedious); our own packages must never bring one.
    const thirdParty = line.packages.filter((name) => !name.startsWith("@org/"));
    const allowed = new Set([
      ...line.packages.filter(isDriver),
      ...dependencyClosure(installed, thirdParty)
        .map((p) => p.name)
        .filter(isDriver),
    ]);
    const unexpected = installed.filter((p) => isDriver(p.name) && !allowed.has(p.name));
    expect(unexpected.map((p) => `${p.path}@${p.version}`)).toEqual([]);
    expect(installed.filter((p) => p.name.startsWith("@electric-sql/")).map((p) => p.path)).toEqual([]);
    // npm's own count agrees with the folders found, so the footprint counts what npm installed.
    const added = /added (\d+) packages?/.exec(outcome?.install.output ?? "")?.[1];
    expect(Number(added)).toBe(outcome?.footprint?.packages);
  });

  it("connects through the emulator as the managed identity", async () => {
    const outcome = await outcomes.get(line.command);
    const run = outcome?.run;
    expect(run, "the install failed, so nothing ran").toBeDefined();
    expect(run?.code, run?.output).toBe(0);
    const result = /^RESULT (.*)$/m.exec(run?.stdout ?? "")?.[1];
    expect(result, run?.output).toBeDefined();
    const identity = emulator?.identities[0]?.name;
    const expectedName = engineOf(line) === "mysql" ? `${identity}@%` : identity;
    expect(JSON.parse(result ?? "{}")).toEqual({ name: expectedName, one: 1 });
  });
});
