import { spawn } from "node:child_process";
import { copyFileSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { type EmulatorCounters, startEmulator } from "@org/entra-emulator";
import semver from "semver";
import { realProbes, type SelectedBackend, selectBackend } from "../select-backend.js";
import type { PeerChildReport, PeerChildRequest, StepOutcome } from "./peer-child.js";
import {
  checkId,
  IDENTITY_PEER,
  type PeerEngine,
  type PeerPlan,
  type PlannedCheck,
  type PlannedProject,
} from "./peer-matrix.js";

/** Runs the planned projects: npm installs, then one child process per project x adapter. */

/** The packed tarballs, as `inject("packedPackages")` provides them. */
export type PackedPackages = Record<string, { version: string; file: string }>;

export interface ProjectInstall {
  readonly project: PlannedProject;
  readonly dir: string;
  readonly ok: boolean;
  readonly output: string;
  readonly ms: number;
}

export interface ChildRun {
  readonly project: PlannedProject;
  readonly adapter: string;
  readonly checks: readonly PlannedCheck[];
  /** The identity the emulator issues tokens for (the expected session user). */
  readonly identity: string;
  readonly report?: PeerChildReport;
  /** Emulator counters when the child finished its insecure-config checks, and at its end. */
  readonly countersAfterTls?: EmulatorCounters;
  readonly countersAtEnd?: EmulatorCounters;
  readonly exitCode: number | null;
  readonly output: string;
  readonly ms: number;
}

export interface MatrixRun {
  readonly installs: readonly ProjectInstall[];
  readonly children: readonly ChildRun[];
  cleanup(): Promise<void>;
}

export interface RunOptions {
  /** Child processes (each with its own emulator) at once. */
  readonly concurrency: number;
  /** Token lifetime of the emulators; the children wait past it (and the gateways' skew) between logins. */
  readonly tokenLifetimeInSeconds: number;
  readonly childTimeoutInMs: number;
  readonly installTimeoutInMs: number;
}

const CHILD_SCRIPT = join(import.meta.dirname, "peer-child.ts");
/** Tolerance of the emulators' gateways for `exp`: room for a slow TLS login on a busy CI machine. */
const CLOCK_SKEW_IN_SECONDS = 1;
const GATEWAY: Record<PeerEngine, "postgres" | "mysql" | "sqlserver"> = {
  postgresql: "postgres",
  mysql: "mysql",
  mariadb: "mysql",
  sqlserver: "sqlserver",
};

/** Node with this binary's folder first on PATH, so npm and children run on the same Node. */
function pathWithNode(): string {
  return `${dirname(process.execPath)}:${process.env.PATH ?? ""}`;
}

interface Spawned {
  code: number | null;
  output: string;
}

function runCommand(command: string, args: string[], cwd: string, timeoutInMs: number): Promise<Spawned> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd,
      env: { ...process.env, PATH: pathWithNode() },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk) => {
      output += chunk;
    });
    child.stderr.on("data", (chunk) => {
      output += chunk;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutInMs);
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/** A clean project outside the repository: the @org tarballs plus exact peer versions, by npm. */
async function installProject(
  project: PlannedProject,
  packed: PackedPackages,
  timeoutInMs: number,
): Promise<ProjectInstall> {
  const started = Date.now();
  const dir = await mkdtemp(join(tmpdir(), `entra-peers-${project.id}-`));
  writeFileSync(
    join(dir, "package.json"),
    `${JSON.stringify({ name: `peers-${project.id}`, private: true, type: "module" }, null, 2)}\n`,
  );
  copyFileSync(CHILD_SCRIPT, join(dir, "peer-child.ts"));
  const tarballs = project.orgs.map((org) => {
    const file = packed[org]?.file;
    if (!file) throw new Error(`peer matrix: ${org} was not packed`);
    return file;
  });
  const peers = Object.entries(project.versions).map(([peer, version]) => `${peer}@${version}`);
  const args = [
    "install",
    "--no-audit",
    "--no-fund",
    "--prefer-offline",
    "--loglevel=error",
    ...tarballs,
    ...peers,
  ];
  const { code, output } = await runCommand("npm", args, dir, timeoutInMs);
  return {
    project,
    dir,
    ok: code === 0,
    output: `npm ${args.join(" ")}\n${output}`,
    ms: Date.now() - started,
  };
}

/** A bounded pool of async jobs. */
function createLimiter(concurrency: number): <T>(job: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async (job) => {
    if (active >= concurrency) await new Promise<void>((resolve) => waiting.push(resolve));
    active++;
    try {
      return await job();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}

async function runChild(
  install: ProjectInstall,
  adapter: string,
  checks: PlannedCheck[],
  backends: Partial<Record<"postgresql" | "mysql", SelectedBackend>>,
  options: RunOptions,
): Promise<ChildRun> {
  const started = Date.now();
  const engines = checks.map((plan) => plan.check.engine);
  const needs = (gateway: string) => engines.some((engine) => GATEWAY[engine] === gateway);
  const emulator = await startEmulator({
    tokenLifetimeInSeconds: options.tokenLifetimeInSeconds,
    // A token used more than CLOCK_SKEW_IN_SECONDS past its expiry is refused, and the children wait
    // longer than lifetime + skew between their logins: a successful second login proves a new token.
    clockSkewInSeconds: CLOCK_SKEW_IN_SECONDS,
    postgres: needs("postgres") && backends.postgresql ? { backend: backends.postgresql.url } : false,
    mysql: needs("mysql") && backends.mysql ? { backend: backends.mysql.url } : false,
    sqlserver: needs("sqlserver") ? {} : false,
  });
  const identity = emulator.identities[0]?.name as string;
  const request: PeerChildRequest = {
    adapter,
    engines,
    peers: [...new Set(checks.flatMap((plan) => Object.keys(plan.versions)))],
    waitMs: (options.tokenLifetimeInSeconds + CLOCK_SKEW_IN_SECONDS) * 1000 + 500,
  };
  const flags = (process.features as { typescript?: unknown }).typescript
    ? []
    : ["--experimental-strip-types"];
  try {
    return await new Promise<ChildRun>((resolve) => {
      const child = spawn(process.execPath, [...flags, "peer-child.ts", JSON.stringify(request)], {
        cwd: install.dir,
        // The app's whole environment: the emulator's variables, as a user would export them.
        env: { PATH: pathWithNode(), HOME: process.env.HOME, ...emulator.env },
        stdio: ["ignore", "pipe", "pipe", "ipc"],
      });
      let output = "";
      let report: PeerChildReport | undefined;
      let countersAfterTls: EmulatorCounters | undefined;
      let countersAtEnd: EmulatorCounters | undefined;
      child.stdout?.on("data", (chunk) => {
        output += chunk;
      });
      child.stderr?.on("data", (chunk) => {
        output += chunk;
      });
      child.on("message", (message: { phase?: string; report?: PeerChildReport }) => {
        if (message.phase === "tls") countersAfterTls = emulator.counters;
        if (message.phase === "done") {
          countersAtEnd = emulator.counters;
          report = message.report;
        }
        if (child.connected) child.send({ ok: true });
      });
      const timer = setTimeout(() => child.kill("SIGKILL"), options.childTimeoutInMs);
      child.once("close", (exitCode) => {
        clearTimeout(timer);
        resolve({
          project: install.project,
          adapter,
          checks,
          identity,
          ...(report ? { report } : {}),
          ...(countersAfterTls ? { countersAfterTls } : {}),
          ...(countersAtEnd ? { countersAtEnd } : {}),
          exitCode,
          output,
          ms: Date.now() - started,
        });
      });
    });
  } finally {
    await emulator.close();
  }
}

/**
 * Installs every planned project (all at once) and, as each is ready, runs its children: one per
 * adapter, with at most `concurrency` children (each with its own emulator) at a time.
 */
export async function runPeerMatrix(
  plan: PeerPlan,
  packed: PackedPackages,
  options: RunOptions,
): Promise<MatrixRun> {
  const engines = new Set(plan.projects.flatMap((p) => p.checks.map((c) => c.check.engine)));
  const backends: Partial<Record<"postgresql" | "mysql", SelectedBackend>> = {};
  if (engines.has("postgresql")) backends.postgresql = await selectBackend("postgresql", realProbes);
  if (engines.has("mysql") || engines.has("mariadb"))
    backends.mysql = await selectBackend("mysql", realProbes);

  const limit = createLimiter(options.concurrency);
  const installs: ProjectInstall[] = [];
  const children: ChildRun[] = [];
  await Promise.all(
    plan.projects.map(async (project) => {
      const install = await installProject(project, packed, options.installTimeoutInMs);
      installs.push(install);
      if (!install.ok) return;
      const byAdapter = new Map<string, PlannedCheck[]>();
      for (const check of project.checks) {
        byAdapter.set(check.check.adapter, [...(byAdapter.get(check.check.adapter) ?? []), check]);
      }
      await Promise.all(
        [...byAdapter].map(([adapter, checks]) =>
          limit(async () => children.push(await runChild(install, adapter, checks, backends, options))),
        ),
      );
    }),
  );
  return {
    installs,
    children,
    async cleanup() {
      await Promise.all(installs.map((install) => rm(install.dir, { recursive: true, force: true })));
      await Promise.all(Object.values(backends).map((backend) => backend.stop()));
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Verdicts

/** One cell of the table: whether the expectation held, and what was seen. */
export interface Cell {
  readonly ok: boolean;
  readonly text: string;
  /** Why it failed (or what was seen), for the assertion message. */
  readonly detail: string;
}

export interface RowVerdict {
  readonly plan: PlannedCheck;
  readonly versions: Cell;
  readonly login: Cell;
  readonly rotation: Cell;
  readonly tls: Cell;
}

/**
 * knex sends a tedious `credential` for client "mssql" only from 3.3.0 on (lib/dialects/mssql builds
 * `authentication.options` without it before). @org/knex-entra must then refuse the config before
 * any I/O with EntraAuthError INVALID_SETTING, naming the knex version it needs.
 */
export function expectsKnexMssqlGuard(plan: PlannedCheck): boolean {
  const knex = plan.versions.knex;
  return (
    plan.check.adapter === "@org/knex-entra" &&
    plan.check.engine === "sqlserver" &&
    knex !== undefined &&
    semver.lt(knex, "3.3.0")
  );
}

function describeOutcome(outcome: StepOutcome | undefined): string {
  if (!outcome) return "no result";
  if (outcome.ok) return `user ${outcome.user}`;
  return `${outcome.name}${outcome.code ? ` ${outcome.code}` : ""}: ${outcome.message}`;
}

const isGuardError = (outcome: StepOutcome | undefined): boolean =>
  outcome?.ok === false &&
  outcome.name === "EntraAuthError" &&
  outcome.code === "INVALID_SETTING" &&
  outcome.message.includes("knex 3.3.0");

const cell = (ok: boolean, text: string, detail: string): Cell => ({ ok, text, detail });

/** "FAIL (TypeError)", "FAIL (EntraAuthError TOKEN_EXPIRED)": the table's short form of a failure. */
function failed(outcome: StepOutcome | undefined): string {
  if (!outcome) return "FAIL (no result)";
  if (outcome.ok) return `FAIL (user ${outcome.user})`;
  return `FAIL (${outcome.name}${outcome.code ? ` ${outcome.code}` : ""})`;
}

/** Judges one planned check from its project's install and its child's run. */
export function judgeRow(plan: PlannedCheck, run: MatrixRun): RowVerdict {
  const id = `${checkId(plan.check)} (${plan.end})`;
  if (plan.error) {
    const failed = cell(false, "unplanned", `${id}: ${plan.error}`);
    return { plan, versions: failed, login: failed, rotation: failed, tls: failed };
  }
  const install = run.installs.find((i) => i.project.checks.includes(plan));
  const child = run.children.find((c) => c.checks.includes(plan));
  if (!install?.ok || !child?.report) {
    const why = !install?.ok
      ? `npm install failed:\n${install?.output.slice(-3000)}`
      : `child exited ${child?.exitCode}:\n${child?.output.slice(-3000)}`;
    const failed = cell(false, install?.ok ? "crashed" : "install failed", `${id}: ${why}`);
    return { plan, versions: failed, login: failed, rotation: failed, tls: failed };
  }
  const report = child.report;
  const steps = report.engines[plan.check.engine];
  const engine = GATEWAY[plan.check.engine];
  const guard = expectsKnexMssqlGuard(plan);

  const wrongVersions = Object.entries(plan.versions).filter(([peer, v]) => report.versions[peer] !== v);
  const versions = cell(
    wrongVersions.length === 0,
    Object.entries(plan.versions)
      .map(([peer, v]) => `${peer === IDENTITY_PEER ? "identity" : peer} ${v}`)
      .join(", "),
    `${id}: planned ${JSON.stringify(plan.versions)}, the adapter resolves ${JSON.stringify(report.versions)}`,
  );

  const tlsCounters = child.countersAfterTls;
  const quietBefore =
    tlsCounters !== undefined &&
    tlsCounters.tokenRequests === 0 &&
    tlsCounters.loginsAccepted === 0 &&
    tlsCounters.loginsRejected === 0;
  const tlsOutcome = steps?.tls;
  const refused =
    tlsOutcome?.ok === false &&
    tlsOutcome.name === "EntraAuthError" &&
    (tlsOutcome.code === "INSECURE_TRANSPORT" || (guard && isGuardError(tlsOutcome)));
  const tls = cell(
    refused && quietBefore,
    refused && quietBefore ? (tlsOutcome?.code ?? "") : refused ? "FAIL (I/O before)" : failed(tlsOutcome),
    `${id}: insecure config -> ${describeOutcome(tlsOutcome)}; emulator before any login: ${JSON.stringify(tlsCounters)}`,
  );

  const end = child.countersAtEnd;
  const engineCounters = end?.byEngine[engine];
  if (guard) {
    const noIo =
      engineCounters !== undefined && engineCounters.loginsAccepted + engineCounters.loginsRejected === 0;
    const judge = (outcome: StepOutcome | undefined) =>
      cell(
        isGuardError(outcome) && noIo,
        isGuardError(outcome) && noIo ? "refused (knex < 3.3.0)" : failed(outcome),
        `${id}: expected EntraAuthError INVALID_SETTING naming knex 3.3.0 before any I/O, got ${describeOutcome(outcome)}; ` +
          `${engine} counters ${JSON.stringify(engineCounters)}`,
      );
    return { plan, versions, login: judge(steps?.login), rotation: judge(steps?.rotation), tls };
  }

  const asIdentity = (outcome: StepOutcome | undefined) =>
    outcome?.ok === true && outcome.user === child.identity;
  const login = cell(
    asIdentity(steps?.login),
    asIdentity(steps?.login) ? "ok" : failed(steps?.login),
    `${id}: expected the session user ${child.identity}, got ${describeOutcome(steps?.login)}`,
  );
  // Two token audiences at most per child: the OSS RDBMS one (PostgreSQL, MySQL) and Azure SQL's.
  const audiences = new Set(
    child.checks.filter((c) => !expectsKnexMssqlGuard(c)).map((c) => c.check.engine === "sqlserver"),
  );
  const rotated =
    asIdentity(steps?.rotation) &&
    end !== undefined &&
    end.loginsRejected === 0 &&
    (engineCounters?.loginsAccepted ?? 0) >= 2 &&
    end.tokenRequests >= 2 * audiences.size;
  const rotation = cell(
    rotated,
    rotated
      ? `ok (${end?.tokenRequests} token requests)`
      : asIdentity(steps?.rotation)
        ? "FAIL (counters)"
        : failed(steps?.rotation),
    `${id}: after the first token expired, expected a new connection as ${child.identity}, got ` +
      `${describeOutcome(steps?.rotation)}; counters ${JSON.stringify(end)}`,
  );
  return { plan, versions, login, rotation, tls };
}

/** The markdown table: adapter | engine | peer versions (low/high) | login | rotation | tls refusal. */
export function formatTable(rows: readonly RowVerdict[]): string {
  const keyed = new Map<string, { lowest?: RowVerdict; highest?: RowVerdict }>();
  for (const row of rows) {
    const key = checkId(row.plan.check);
    keyed.set(key, { ...keyed.get(key), [row.plan.end]: row });
  }
  const both = (
    pick: (row: RowVerdict) => Cell,
    { lowest, highest }: { lowest?: RowVerdict; highest?: RowVerdict },
  ) => `${lowest ? pick(lowest).text : "-"} / ${highest ? pick(highest).text : "-"}`;
  const lines = [
    "| adapter | engine | peer versions (lowest / highest) | login | rotation | tls refusal |",
    "| --- | --- | --- | --- | --- | --- |",
  ];
  for (const pair of keyed.values()) {
    const check = (pair.lowest ?? pair.highest)?.plan.check;
    if (!check) continue;
    const peers = [...check.peers, IDENTITY_PEER]
      .map((peer) => {
        const low = pair.lowest?.plan.versions[peer] ?? "-";
        const high = pair.highest?.plan.versions[peer] ?? "-";
        return `${peer === IDENTITY_PEER ? "identity" : peer} ${low}/${high}`;
      })
      .join(", ");
    lines.push(
      `| ${check.adapter} | ${check.engine} | ${peers} | ${both((r) => r.login, pair)} | ${both((r) => r.rotation, pair)} | ${both((r) => r.tls, pair)} |`,
    );
  }
  return lines.join("\n");
}
