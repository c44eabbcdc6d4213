// Every shell command the documentation prints (README.md, docs/*.md, packages/*/README.md,
// examples/*/README.md: ```sh/```bash/```shell blocks, commands in their comments, and inline
// `npx ...` / `npm i ...` in the text), classified by the reviewed RULES below. The ones that can
// run here run exactly as printed (only environment variables are set: the emulator's, and where
// npm puts global installs) in a clean project whose .npmrc serves @org from the packed tarballs.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Emulator } from "@org/entra-emulator";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  type CommandEnd,
  type ConsumerProject,
  createConsumerProject,
  createLimiter,
  type RunningCommand,
} from "../src/packed/consumer-project.js";
import type { LocalRegistry } from "../src/packed/local-registry.js";
import { type PackedEnvironment, startPackedEnvironment } from "../src/packed/packed-environment.js";
import type { ProcessResult } from "../src/run-process.js";

const root = join(import.meta.dirname, "..", "..");

/** A command as the documentation prints it. */
interface DocCommand {
  /** `docs/azure-setup.md:75`. */
  readonly where: string;
  /** The command without its trailing comment, continuation lines joined with single spaces. */
  readonly command: string;
  /** What runs: the printed text (continuation lines and comments kept, bash handles them). */
  readonly printed: string;
  /** A fenced block's line, a command inside a comment of one, or an inline code span. */
  readonly origin: "block" | "comment" | "inline";
}

/** How a command is run (or why not). */
type Rule =
  | { readonly kind: "skip"; readonly pattern: RegExp; readonly reason: string; readonly file?: string }
  | {
      readonly kind: "install" | "global-install" | "npx" | "serve" | "global-bin";
      readonly pattern: RegExp;
      /** Only for commands printed in this file. */
      readonly file?: string;
    };

/**
 * The reviewed classification, first match wins. A command no rule matches fails the test: review it
 * and add a rule. Run kinds:
 * - `install`: `npm i ...` in a fresh project; exit 0, named @org packages are the packed ones.
 * - `global-install`: `npm install -g ...` into the project's own prefix (npm_config_prefix).
 * - `global-bin`: a line using a bin installed by a `global-install` line of the docs, run after it
 *   in the same project with the emulator's variables of the engine it names (PostgreSQL by default).
 * - `npx`: `npx -p @org/... <bin> ...` with the emulator's variables; exit 0.
 * - `serve`: `entra-emulator` in the foreground: it must print its variables and serve tokens, then
 *   stop on Ctrl+C (SIGINT to the process group, as a terminal sends it) with nothing left running.
 *   The documented exit is the emulator's own clean shutdown; the npx wrapper itself then ends by
 *   that SIGINT, as any foreground command stopped with Ctrl+C does (status 130 in a shell).
 */
const RULES: readonly Rule[] = [
  {
    kind: "skip",
    pattern: /(?:^|\s)(?:npx -y pnpm@\S+|pnpm)\s/,
    reason: "pnpm workspace command: installs, builds or runs this repository (its test command runs them)",
  },
  { kind: "skip", pattern: /^cd examples\//, reason: "works inside this repository's example folder" },
  {
    kind: "skip",
    pattern: /^npm (?:run|start)\b/,
    reason: "an example's own package.json script (integration/test/example-*.test.ts, starters.test.ts)",
  },
  { kind: "skip", pattern: /^curl /, reason: "asks the example app started by the lines before it" },
  {
    kind: "skip",
    pattern: /^export \w+=|^\.\.\.$/,
    reason:
      "sets a variable in the reader's shell: a real Azure server's settings, or sample emulator output",
  },
  {
    kind: "skip",
    pattern: /\.(?:postgres|mysql)\.database\.azure\.com\b|\.database\.windows\.net\b/,
    reason: "needs a real Azure server",
  },
  { kind: "skip", pattern: /^az /, reason: "Azure CLI against a real subscription" },
  {
    kind: "skip",
    pattern: /^mysql --ssl-mode=/,
    reason: "Oracle's mysql client (the mysql here is MariaDB's, which has no --ssl-mode)",
  },
  {
    kind: "skip",
    pattern: /^mariadb /,
    reason:
      "uses the variables of the eval line before it and, against the emulator's localhost gateway, " +
      "needs --protocol=TCP and --ssl-ca (its comment says so); integration/test/cli-clients.test.ts runs it",
  },
  {
    kind: "skip",
    pattern: /^npx prisma /,
    reason: "Prisma CLI inside a Prisma project (examples/prisma, integration/test/example-prisma.test.ts)",
  },
  {
    kind: "skip",
    pattern: /^node --import tsx \.\/node_modules\/typeorm\/cli\.js /,
    reason:
      "TypeORM CLI inside a TypeORM project (examples/typeorm, integration/test/example-typeorm.test.ts)",
  },
  {
    kind: "skip",
    file: "examples/testcontainers/README.md",
    pattern: /^npx vitest run\b/,
    reason:
      "the example's own tests, in a user's project with Docker; the integration project runs them (vitest.config.ts)",
  },
  { kind: "skip", pattern: /<[\w -]+>|\.\.\./, reason: "contains a placeholder (<command>, ...)" },
  {
    kind: "skip",
    pattern: /--postgres-url postgres:\/\/postgres:secret@127\.0\.0\.1:5432\/app(?:\s|$)/,
    reason: "an illustrative URL of the reader's own server (password secret, database app)",
  },
  {
    kind: "skip",
    file: "README.md",
    pattern: /^npm i @org\/\S+ @azure\/identity /,
    reason: "a Quickstart install line (quickstart.packed.test.ts installs each one and connects with it)",
  },
  { kind: "global-install", pattern: /^npm (?:i|install) (?:-g|--global) \S/ },
  { kind: "install", pattern: /^npm (?:i|install) (?:(?:-D|--save-dev) )?[@\w]/ },
  { kind: "npx", pattern: /^npx -p @org\/entra-db-cli entra-db (?:--help|--version|doctor|url|env|token)\b/ },
  { kind: "npx", pattern: /^npx -p @org\/entra-emulator (?:-p \S+ )*entra-emulator (?:--help|-h)$/ },
  { kind: "serve", pattern: /^npx -p @org\/entra-emulator (?:-p @electric-sql\/\S+ )*entra-emulator(?: |$)/ },
  {
    kind: "skip",
    pattern: /--shell (?:fish|powershell|cmd)\b/,
    reason:
      "needs fish, PowerShell or cmd, which this machine does not have; cli-entra-db.test.ts checks " +
      "each shell's output by that shell's quoting rules and logs psql in with it",
  },
  {
    kind: "skip",
    pattern: /^entra-db pgpass\b/,
    reason:
      "writes the reader's own ~/.pgpass; cli-entra-db.test.ts runs pgpass with PGPASSFILE and logs psql in with it",
  },
  {
    kind: "skip",
    pattern: /^entra-db proxy\b|^coproc \w+ \{ entra-db proxy\b|^read -r ready\b|^kill %1$/,
    reason:
      "starts or stops the long-running proxy: proxy-clients.test.ts runs the entra-db proxy bin (ready line, " +
      "--json, SIGINT/SIGTERM) with psql, mariadb, mysql, pg, mysql2 and tedious",
  },
  {
    kind: "skip",
    pattern: /^psql "host=127\.0\.0\.1 port=6432\b/,
    reason:
      "connects to the proxy started by the line before it (proxy-clients.test.ts runs psql through the proxy)",
  },
  {
    kind: "skip",
    pattern: /^DATABASE_URL=\S+ npx prisma /,
    reason:
      "Prisma CLI inside a Prisma project; migrate cannot run here (no schema engine), " +
      "example-prisma.test.ts runs Prisma Client with a plain URL through the proxy",
  },
  { kind: "global-bin", pattern: /(?:^|[\s"(])entra-db (?:token|url|env|doctor)\b/ },
];

/** The documentation files whose commands are checked. */
function documentationFiles(): string[] {
  const inFolder = (folder: string, pick: (name: string) => string | undefined) =>
    existsSync(join(root, folder))
      ? readdirSync(join(root, folder))
          .sort()
          .map(pick)
          .filter((path): path is string => path !== undefined && existsSync(join(root, path)))
      : [];
  return [
    "README.md",
    ...inFolder("docs", (name) => (name.endsWith(".md") ? `docs/${name}` : undefined)),
    ...inFolder("packages", (name) => `packages/${name}/README.md`),
    ...inFolder("examples", (name) => `examples/${name}/README.md`),
  ];
}

/** Where a `#` comment starts in a shell line (outside quotes), or -1. */
function commentStart(line: string): number {
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === "\\" && quote === '"') i++;
      else if (c === quote) quote = undefined;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === "\\") i++;
    else if (c === "#" && (i === 0 || /\s/.test(line[i - 1] ?? ""))) return i;
  }
  return -1;
}

/** Commands a comment mentions: `` `npx ...` `` spans, and `...: npx ...` / `...: npm ...` to its end. */
function commandsInComment(comment: string): string[] {
  const spans = [...comment.matchAll(/`((?:npx|npm) [^`]+)`/g)].map((m) => m[1] as string);
  if (spans.length > 0) return spans;
  const tail = /(?:^|:\s+)((?:npx|npm) \S.*)$/.exec(comment.replace(/^#\s*/, ""))?.[1];
  return tail ? [tail.trim()] : [];
}

function extractCommands(file: string, markdown: string): DocCommand[] {
  const found: DocCommand[] = [];
  const lines = markdown.split("\n");
  let fence: { marker: string; shell: boolean } | undefined;
  for (let i = 0; i < lines.length; i++) {
    const text = lines[i] as string;
    const opening = /^\s*(```+|~~~+)\s*([\w-]*)/.exec(text);
    if (!fence && opening) {
      fence = { marker: opening[1] as string, shell: ["sh", "bash", "shell"].includes(opening[2] ?? "") };
      continue;
    }
    if (fence && text.trim().startsWith(fence.marker)) {
      fence = undefined;
      continue;
    }
    const where = `${file}:${i + 1}`;
    if (!fence) {
      for (const m of text.matchAll(/`((?:npx|npm (?:i|install)) [^`]+)`/g)) {
        found.push({ where, command: (m[1] as string).trim(), printed: m[1] as string, origin: "inline" });
      }
      continue;
    }
    if (!fence.shell || text.trim() === "") continue;
    // Join continuation lines (a trailing backslash outside a comment).
    const printedLines = [text];
    while (/\\\s*$/.test(printedLines.at(-1) ?? "") && i + 1 < lines.length)
      printedLines.push(lines[++i] as string);
    const parts = printedLines.map((line) => {
      const at = commentStart(line);
      return { code: at === -1 ? line : line.slice(0, at), comment: at === -1 ? "" : line.slice(at) };
    });
    const command = parts
      .map((part) => part.code.replace(/\\\s*$/, "").trim())
      .join(" ")
      .replace(/\s+/g, " ")
      .trim();
    if (command !== "") {
      found.push({ where, command, printed: printedLines.join("\n").trim(), origin: "block" });
    }
    for (const part of parts) {
      for (const mentioned of commandsInComment(part.comment)) {
        found.push({ where, command: mentioned, printed: mentioned, origin: "comment" });
      }
    }
  }
  return found;
}

function classify(c: DocCommand): Rule | undefined {
  return RULES.find(
    (rule) =>
      rule.pattern.test(c.command) && (rule.file === undefined || c.where.startsWith(`${rule.file}:`)),
  );
}

type Engine = "postgresql" | "mysql" | "sqlserver";
const ENGINE_VARIABLES: Record<Engine, string> = {
  postgresql: "AZURE_POSTGRESQL_",
  mysql: "AZURE_MYSQL_",
  sqlserver: "AZURE_SQL_",
};

/** The engine a command names with `-e` / `--engine` (aliases as entra-db takes them), PostgreSQL by default. */
function engineOf(command: string): Engine {
  const named = /(?:-e|--engine)[ =](\w+)/.exec(command)?.[1] ?? "postgresql";
  if (["mysql", "mariadb"].includes(named)) return "mysql";
  if (["sqlserver", "mssql"].includes(named)) return "sqlserver";
  return "postgresql";
}

/** The emulator's variables as a user with one database of `engine` has them (Service Connector sets one). */
function emulatorEnvFor(engine: Engine): NodeJS.ProcessEnv {
  if (!emulator) throw new Error("the emulator starts in beforeAll");
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(emulator.env)) {
    const ofEngine = Object.values(ENGINE_VARIABLES).find((prefix) => key.startsWith(prefix));
    if (ofEngine === undefined || ofEngine === ENGINE_VARIABLES[engine]) env[key] = value;
  }
  // libpq (psql) does not read NODE_EXTRA_CA_CERTS: give it the emulator's CA its own way.
  env.PGSSLROOTCERT = emulator.env.NODE_EXTRA_CA_CERTS;
  return env;
}

/** What running one command produced. */
interface Outcome {
  readonly result?: ProcessResult;
  /** The shell's exported variables when the line ended (`global-bin` lines). */
  readonly finalEnv?: Readonly<Record<string, string>>;
  readonly served?: { readonly end: CommandEnd; readonly output: string; readonly orphaned: boolean };
  readonly project: ConsumerProject;
  readonly token?: { readonly status: number; readonly hasToken: boolean };
  readonly error?: unknown;
}

const packed = inject("packedPackages");
const commands = documentationFiles().flatMap((file) =>
  extractCommands(file, readFileSync(join(root, file), "utf8")),
);
/** One entry per distinct command text: identical commands in several places run once. */
const distinct = [...new Map(commands.map((c) => [c.command, c])).values()];
const classified = distinct.map((c) => ({ ...c, rule: classify(c) }));
const runnable = classified.filter((c) => c.rule !== undefined && c.rule.kind !== "skip");
const outcomes = new Map<string, Promise<Outcome>>();
const running: RunningCommand[] = [];
const projects: ConsumerProject[] = [];
let environment: PackedEnvironment | undefined;
let registry: LocalRegistry | undefined;
let emulator: Emulator | undefined;
const started = performance.now();

async function project(label: string, { global = false } = {}): Promise<ConsumerProject> {
  if (!registry) throw new Error("the registry starts in beforeAll");
  // `npm install -g` reads the user's .npmrc, not the project's: route the scope there too.
  const created = await createConsumerProject({
    npmrc: registry.npmrc,
    label,
    userNpmrc: global ? registry.npmrc : undefined,
  });
  projects.push(created);
  return created;
}

/** Faster npm without changing what runs: packuments of the real registry may come from the cache. */
const NPM_ENV = { npm_config_prefer_offline: "true", npm_config_audit: "false", npm_config_fund: "false" };

async function runOne(c: DocCommand & { rule: Rule }, where?: ConsumerProject): Promise<Outcome> {
  const target = where ?? (await project("readme"));
  try {
    switch (c.rule.kind) {
      case "install":
      case "global-install":
        return {
          project: target,
          result: await target.shell(c.printed, { env: NPM_ENV, timeoutInMs: 240_000 }),
        };
      case "npx":
        return {
          project: target,
          result: await target.shell(c.printed, {
            env: { ...NPM_ENV, ...emulatorEnvFor(engineOf(c.command)) },
            timeoutInMs: 240_000,
          }),
        };
      case "global-bin":
        return await runWithProbes(c, target);
      case "serve":
        return await serve(c, target);
      default:
        throw new Error(`not runnable: ${c.rule.kind}`);
    }
  } catch (error) {
    return { project: target, error };
  }
}

/**
 * Runs a line that uses the globally installed bin, with two probes set through the environment
 * only, so that a line cannot pass by doing nothing (`eval "$(missing)"` and a bare `psql` to a
 * local default database both exit 0): `PSQLRC` makes psql print who its session is, and `BASH_ENV`
 * makes the shell write its exported variables when the line ends.
 */
let probes = 0;
async function runWithProbes(c: DocCommand, target: ConsumerProject): Promise<Outcome> {
  const psqlrc = join(target.root, "psqlrc");
  probes += 1;
  const dump = join(target.root, `env-${probes}`);
  const bashEnv = join(target.root, "bash-env.sh");
  await writeFile(psqlrc, "\\set QUIET on\nselect 'session:' || current_user as probe;\n");
  await writeFile(bashEnv, "trap 'env -0 > \"$ENTRA_TEST_ENV_DUMP\"' EXIT\n");
  const result = await target.shell(c.printed, {
    env: {
      ...NPM_ENV,
      ...emulatorEnvFor(engineOf(c.command)),
      PSQLRC: psqlrc,
      BASH_ENV: bashEnv,
      ENTRA_TEST_ENV_DUMP: dump,
    },
    timeoutInMs: 120_000,
  });
  const finalEnv = Object.fromEntries(
    (await readFile(dump, "utf8").catch(() => ""))
      .split("\0")
      .filter((entry) => entry.includes("="))
      .map((entry) => [entry.slice(0, entry.indexOf("=")), entry.slice(entry.indexOf("=") + 1)]),
  );
  return { project: target, result, finalEnv };
}

/** Starts a foreground emulator line, asks its identity endpoint for a token, then presses Ctrl+C. */
async function serve(c: DocCommand, target: ConsumerProject): Promise<Outcome> {
  const command = target.start(c.printed, { env: NPM_ENV });
  running.push(command);
  try {
    await command.waitFor(/Ctrl\+C to stop\./, 180_000);
    // The summary goes to stderr after the export lines go to stdout: two pipes, read in any order.
    await command.waitFor(/^export IDENTITY_HEADER=/m, 10_000);
  } catch (error) {
    command.kill();
    return { project: target, error };
  }
  const exported = Object.fromEntries(
    [...command.stdout().matchAll(/^export (\w+)='([^']*)'$/gm)].map((m) => [m[1], m[2]]),
  );
  const url = new URL(exported.IDENTITY_ENDPOINT ?? "http://127.0.0.1:9/");
  url.searchParams.set("api-version", "2019-08-01");
  url.searchParams.set("resource", "https://ossrdbms-aad.database.windows.net");
  const response = await fetch(url, { headers: { "X-IDENTITY-HEADER": exported.IDENTITY_HEADER ?? "" } });
  const body = (await response.json().catch(() => ({}))) as { access_token?: unknown };
  const end = await command.interrupt("SIGINT");
  await new Promise((resolve) => setTimeout(resolve, 200));
  return {
    project: target,
    token: { status: response.status, hasToken: typeof body.access_token === "string" },
    served: { end, output: command.output(), orphaned: command.groupAlive() },
  };
}

beforeAll(async () => {
  environment = await startPackedEnvironment(packed);
  ({ registry, emulator } = environment);
  const limit = createLimiter(3);
  const track = (c: (typeof runnable)[number], outcome: Promise<Outcome>) => {
    outcome.catch(() => {});
    outcomes.set(c.command, outcome);
  };
  // Global installs first, then the lines using their bins, in order, in one project.
  const globalInstalls = runnable.filter((c) => c.rule?.kind === "global-install");
  const globalBins = runnable.filter((c) => c.rule?.kind === "global-bin");
  const session = limit(async () => {
    const shared = await project("readme-global", { global: true });
    const results = new Map<string, Outcome>();
    for (const c of [...globalInstalls, ...globalBins]) {
      results.set(c.command, await runOne(c as DocCommand & { rule: Rule }, shared));
    }
    return results;
  });
  for (const c of [...globalInstalls, ...globalBins]) {
    track(
      c,
      session.then((results) => results.get(c.command) as Outcome),
    );
  }
  for (const c of runnable.filter(
    (c) => c.rule?.kind !== "global-install" && c.rule?.kind !== "global-bin",
  )) {
    track(
      c,
      limit(() => runOne(c as DocCommand & { rule: Rule })),
    );
  }
});

afterAll(async () => {
  await Promise.allSettled(outcomes.values());
  for (const command of running) command.kill();
  const skipped = classified.filter((c) => c.rule?.kind === "skip");
  const reasons = new Map<string, string[]>();
  for (const c of skipped) {
    const reason = c.rule?.kind === "skip" ? c.rule.reason : "";
    reasons.set(reason, [...(reasons.get(reason) ?? []), `${c.where} ${c.command}`]);
  }
  console.log(
    [
      `readme-commands: ${commands.length} commands in the docs (${distinct.length} distinct): ` +
        `${runnable.length} ran, ${skipped.length} skipped, ` +
        `${classified.length - runnable.length - skipped.length} unclassified, ` +
        `in ${((performance.now() - started) / 1000).toFixed(0)} s`,
      "ran:",
      ...runnable.map((c) => `  [${c.rule?.kind}] ${c.where} (${c.origin}) ${c.command}`),
      "skipped:",
      ...[...reasons].flatMap(([reason, list]) => [`  ${reason}:`, ...list.map((item) => `    ${item}`)]),
    ].join("\n"),
  );
  await Promise.allSettled(projects.map((p) => p.close()));
  await environment?.close();
});

it("every documented command is classified by a reviewed rule", () => {
  const unclassified = classified.filter((c) => c.rule === undefined).map((c) => `${c.where}: ${c.command}`);
  expect(unclassified).toEqual([]);
});

it("runs the commands users are told to run first", () => {
  // README.md and docs/*.md send users to the doctor from a clean directory.
  const doctor = runnable.find((c) => c.command === "npx -p @org/entra-db-cli entra-db doctor");
  expect(doctor?.rule?.kind).toBe("npx");
  expect(runnable.some((c) => c.rule?.kind === "serve")).toBe(true);
  expect(runnable.some((c) => c.rule?.kind === "install")).toBe(true);
});

it("no documented npx command names a bare bin that is not a package (npx entra-emulator, npx entra-db)", () => {
  const bins = ["entra-emulator", "entra-db"];
  const bare = commands.filter((c) => bins.some((bin) => c.command.startsWith(`npx ${bin}`)));
  expect(bare.map((c) => `${c.where}: ${c.command}`)).toEqual([]);
});

describe.each(runnable)("$where [$rule.kind] $command", (c) => {
  it("runs as printed", async () => {
    const outcome = await outcomes.get(c.command);
    if (!outcome) throw new Error("not started");
    if (outcome.error) throw outcome.error;
    const kind = c.rule?.kind;
    if (kind === "serve") {
      const served = outcome.served;
      expect(outcome.token, served?.output).toEqual({ status: 200, hasToken: true });
      // Ctrl+C: the emulator shuts down by itself and nothing of the command stays behind.
      expect(served?.output).toMatch(/entra-emulator: SIGINT, shutting down\./);
      expect(served?.orphaned, served?.output).toBe(false);
      expect(served?.end.code === 0 || served?.end.signal === "SIGINT", JSON.stringify(served?.end)).toBe(
        true,
      );
      expect(served?.output).not.toMatch(/Error|ERR!/);
      const stdout = served?.output ?? "";
      expect(stdout).toMatch(/^export IDENTITY_ENDPOINT='/m);
      expect(/^export AZURE_POSTGRESQL_HOST=/m.test(stdout)).toBe(!c.command.includes("--no-postgres"));
      expect(/^export AZURE_MYSQL_HOST=/m.test(stdout)).toBe(c.command.includes("--mysql-url"));
      expect(/^export AZURE_SQL_SERVER=/m.test(stdout)).toBe(/--sqlserver\b/.test(c.command));
      return;
    }
    const result = outcome.result;
    expect(result?.code, result?.output).toBe(0);
    if (kind === "install" || kind === "global-install") {
      const global = kind === "global-install";
      const base = global ? join(outcome.project.globalPrefix, "lib") : outcome.project.dir;
      for (const name of c.command.split(/\s+/).filter((word) => word.startsWith("@org/"))) {
        const manifest = JSON.parse(readFileSync(join(base, "node_modules", name, "package.json"), "utf8"));
        expect(manifest.version, name).toBe(packed[name]?.version);
        expect(
          registry?.requests().some((r) => r.status === 200 && decodeURIComponent(r.path) === `/${name}`),
        ).toBe(true);
        for (const bin of Object.keys(manifest.bin ?? {})) {
          if (global) expect(existsSync(join(outcome.project.globalPrefix, "bin", bin)), bin).toBe(true);
        }
      }
    }
    expect(result?.output).not.toMatch(/command not found/);
    const identity = emulator?.identities[0]?.name;
    if (/(?:^|[\s;&|])psql\b/.test(c.command)) {
      // PSQLRC's probe: the session is the managed identity's, through the emulator's gateway.
      expect(result?.stdout, result?.output).toContain(`session:${identity}`);
    }
    const evaluated = /eval "\$\(entra-db env -e (\w+)\)"/.exec(c.command)?.[1];
    if (evaluated) {
      const finalEnv = outcome.finalEnv ?? {};
      const jwt = /^[\w-]+\.[\w-]+\.[\w-]+$/;
      if (engineOf(`-e ${evaluated}`) === "mysql") {
        expect(finalEnv.MYSQL_HOST).toBe(emulator?.mysql?.host);
        expect(finalEnv.MYSQL_TCP_PORT).toBe(String(emulator?.mysql?.port));
        expect(finalEnv.MYSQL_PWD).toMatch(jwt);
      } else {
        expect(finalEnv.PGHOST).toBe(emulator?.postgres?.host);
        expect(finalEnv.PGPORT).toBe(String(emulator?.postgres?.port));
        expect(finalEnv.PGPASSWORD).toMatch(jwt);
      }
    }
    if (/\bentra-db doctor\b/.test(c.command)) {
      expect(result?.stdout).toMatch(/\[ok\] login/);
      expect(result?.stdout).not.toMatch(/\[FAIL\]/);
    }
  });
});
