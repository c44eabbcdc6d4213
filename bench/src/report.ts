import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import mysql from "mysql2/promise";
import pg from "pg";
import type { Backend } from "./backends.js";
import type { BenchTable } from "./context.js";

/** The machine a run happened on. */
export function machineInfo(): Record<string, unknown> {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model.trim() ?? "unknown",
    cores: cpus.length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: `${os.type()} ${os.release()} (${os.platform()}/${os.arch()})`,
    osVersion: os.version(),
    node: process.version,
  };
}

const PACKAGES = [
  "@org/pg-entra",
  "@org/mysql2-entra",
  "@org/entra-core",
  "@org/entra-emulator",
  "@org/entra-db-cli",
  "@azure/identity",
  "@azure/postgresql-auth",
  "pg",
  "mysql2",
] as const;

/** Versions of the packages involved (resolved from bench/) and of the database servers. */
export async function versions(backends: {
  postgresql: Backend;
  mysql: Backend | undefined;
}): Promise<Record<string, string>> {
  const result: Record<string, string> = {};
  const require = createRequire(import.meta.url);
  for (const name of PACKAGES) result[name] = packageVersion(require, name);
  const identityManifest = packageManifestPath(require, "@azure/identity");
  if (identityManifest)
    result["@azure/msal-node"] = packageVersion(createRequire(identityManifest), "@azure/msal-node");
  result.postgresqlServer = await serverVersion(() => postgresVersion(backends.postgresql.url));
  if (backends.mysql) {
    const url = backends.mysql.url;
    result.mysqlServer = await serverVersion(() => mysqlVersion(url));
  }
  return result;
}

function packageManifestPath(require: NodeJS.Require, name: string): string | undefined {
  let dir: string;
  try {
    dir = path.dirname(require.resolve(name));
  } catch {
    return undefined;
  }
  for (; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const manifest = path.join(dir, "package.json");
    if (existsSync(manifest) && JSON.parse(readFileSync(manifest, "utf8")).name === name) return manifest;
  }
  return undefined;
}

function packageVersion(require: NodeJS.Require, name: string): string {
  const manifest = packageManifestPath(require, name);
  return manifest ? String(JSON.parse(readFileSync(manifest, "utf8")).version) : "not found";
}

async function serverVersion(read: () => Promise<string>): Promise<string> {
  try {
    return await read();
  } catch (error) {
    return `unknown (${error instanceof Error ? error.message : String(error)})`;
  }
}

async function postgresVersion(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ server_version: string }>("show server_version");
    return `PostgreSQL ${rows[0]?.server_version ?? "?"}`;
  } finally {
    await client.end();
  }
}

async function mysqlVersion(url: string): Promise<string> {
  const connection = await mysql.createConnection({ uri: url });
  try {
    const [rows] = await connection.query<mysql.RowDataPacket[]>("select version() as v");
    return String(rows[0]?.v ?? "?");
  } finally {
    await connection.end();
  }
}

/** A table as Markdown (readable on a console, pasteable into a README). */
export function formatTable(table: BenchTable): string {
  const cells = [table.columns, ...table.rows].map((row) => row.map(String));
  const widths = table.columns.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? "").length)));
  const line = (row: readonly string[]) =>
    `| ${row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join(" | ")} |`;
  const [header = [], ...body] = cells;
  return [
    `### ${table.title}`,
    "",
    line(header),
    `| ${widths.map((width) => "-".repeat(width)).join(" | ")} |`,
    ...body.map(line),
    ...(table.notes?.length ? ["", ...table.notes.map((note) => `- ${note}`)] : []),
  ].join("\n");
}
