import { type ChildProcessByStdio, spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { delimiter, dirname, join, relative, resolve, sep } from "node:path";
import type { Readable } from "node:stream";
import { type ProcessResult, runProcess } from "../run-process.js";

const repositoryRoot = resolve(import.meta.dirname, "..", "..", "..");

/** Options for {@link createConsumerProject}. */
export interface ConsumerProjectOptions {
  /** The project's `.npmrc`, e.g. `registry.npmrc` (`@org:registry=http://127.0.0.1:<port>/`). */
  readonly npmrc: string;
  /** Prefix of the temp folder's name, to tell projects apart. Defaults to `"consumer"`. */
  readonly label?: string;
  /**
   * The user `.npmrc` (empty by default). `npm install -g` reads no project `.npmrc`, so a global
   * install from the local registry needs the scope line here, as in a user's `~/.npmrc`.
   */
  readonly userNpmrc?: string;
}

/** A package folder found under `node_modules`. */
export interface InstalledPackage {
  readonly name: string;
  readonly version: string;
  /** The folder, relative to the project (`node_modules/a/node_modules/@s/b`). */
  readonly path: string;
  readonly dependencies: Readonly<Record<string, string>>;
  readonly optionalDependencies: Readonly<Record<string, string>>;
  readonly peerDependencies: Readonly<Record<string, string>>;
}

/** What an install left on disk. */
export interface Footprint {
  /** Package folders under `node_modules` (nested copies counted, like npm's "added N packages"). */
  readonly packages: number;
  /** Disk usage of `node_modules` in bytes (allocated blocks, like `du`). */
  readonly bytes: number;
}

/** Options for running a command in a {@link ConsumerProject}. */
export interface ConsumerRunOptions {
  /** Extra variables on top of {@link ConsumerProject.env}, e.g. the emulator's `env`. */
  readonly env?: NodeJS.ProcessEnv;
  /** Kills the command after this long. Defaults to `120_000`. */
  readonly timeoutInMs?: number;
}

/** A command started with {@link ConsumerProject.start}, still running in its own process group. */
export interface RunningCommand {
  /** stdout and stderr so far, interleaved. */
  output(): string;
  stdout(): string;
  /** Resolves once the output matches, rejects if the command ends first or after `timeoutInMs`. */
  waitFor(pattern: RegExp, timeoutInMs?: number): Promise<void>;
  /**
   * Sends `signal` to the whole process group, as a terminal does for Ctrl+C (`SIGINT`), and resolves
   * with how the command line ended; the group is killed if it has not ended after `timeoutInMs`.
   */
  interrupt(signal?: NodeJS.Signals, timeoutInMs?: number): Promise<CommandEnd>;
  /** Whether any process of the group is still alive (e.g. a server orphaned by its wrapper). */
  groupAlive(): boolean;
  /** SIGKILLs whatever is left of the group (cleanup). */
  kill(): void;
}

/** How a command line ended. */
export interface CommandEnd {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/**
 * A clean npm project in a temp folder outside the repository (so no workspace `node_modules`
 * resolves), as a user would start one: `package.json` and the given `.npmrc`, nothing else.
 * Commands run with the inherited environment minus npm's, pnpm's, Azure's and the emulator's
 * variables, Node (this process's, 22) first on PATH and no repository `node_modules/.bin`, an
 * empty user `.npmrc`, and an npm cache folder whose `_cacache` is the shared one (downloads are
 * reused) while `_npx` is this project's own (npx never reuses packages installed by another run
 * from another registry). `npm install -g` goes to a prefix inside the temp folder, whose `bin` is
 * on PATH.
 */
export interface ConsumerProject extends AsyncDisposable {
  /** The temp folder holding the project, its npm cache and its global prefix. */
  readonly root: string;
  /** The project folder: run commands here. */
  readonly dir: string;
  /** Where `npm install -g` installs (`<root>/global`). */
  readonly globalPrefix: string;
  /** The child environment, with `extra` on top; an `extra.NODE_EXTRA_CA_CERTS` is merged with the inherited one. */
  env(extra?: NodeJS.ProcessEnv): NodeJS.ProcessEnv;
  /** `npm <args> --no-audit --no-fund --prefer-offline` in the project. */
  npm(args: readonly string[], options?: ConsumerRunOptions): Promise<ProcessResult>;
  /** A command line through `bash -c`, as a user types it. */
  shell(line: string, options?: ConsumerRunOptions): Promise<ProcessResult>;
  /** A long-running command line through `bash -c` (e.g. a server in the foreground). */
  start(line: string, options?: Omit<ConsumerRunOptions, "timeoutInMs">): RunningCommand;
  /** `node <file>` with this process's Node, in the project. */
  node(file: string, options?: ConsumerRunOptions): Promise<ProcessResult>;
  /** Writes a file relative to the project folder. */
  write(file: string, content: string): Promise<string>;
  /** Every package folder under `node_modules`, nested and scoped ones included. */
  installed(): Promise<InstalledPackage[]>;
  /** Package count and disk usage of `node_modules`. */
  footprint(): Promise<Footprint>;
  /** Removes the temp folder (idempotent). */
  close(): Promise<void>;
}

/** Creates a {@link ConsumerProject}. */
export async function createConsumerProject(options: ConsumerProjectOptions): Promise<ConsumerProject> {
  const root = await mkdtemp(join(tmpdir(), `entra-${options.label ?? "consumer"}-`));
  if (!relative(repositoryRoot, root).startsWith("..")) {
    throw new Error(`consumer project: ${root} is inside the repository; set TMPDIR elsewhere`);
  }
  const dir = join(root, "app");
  const globalPrefix = join(root, "global");
  const cache = join(root, "npm-cache");
  const userConfig = join(root, "user.npmrc");
  await Promise.all([mkdir(dir), mkdir(join(globalPrefix, "bin"), { recursive: true }), mkdir(cache)]);
  const sharedCacache = join(sharedNpmCache(), "_cacache");
  await mkdir(sharedCacache, { recursive: true });
  await symlink(sharedCacache, join(cache, "_cacache"), "dir");
  await writeFile(userConfig, options.userNpmrc ?? "");
  await writeFile(
    join(dir, "package.json"),
    `${JSON.stringify({ name: "consumer", version: "1.0.0", private: true }, null, 2)}\n`,
  );
  await writeFile(join(dir, ".npmrc"), options.npmrc);

  const base = cleanEnvironment();
  base.PATH = [dirname(process.execPath), join(globalPrefix, "bin"), ...cleanPath(base.PATH)].join(delimiter);
  base.npm_config_userconfig = userConfig;
  base.npm_config_cache = cache;
  base.npm_config_prefix = globalPrefix;
  base.npm_config_update_notifier = "false";

  let mergedCa = 0;
  const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => {
    const result = { ...base, ...extra };
    // The emulator's NODE_EXTRA_CA_CERTS replaces the machine's (e.g. a TLS-inspecting proxy's CA that
    // npm needs for the real registry): trust both, as a user on this machine would have to.
    const inherited = base.NODE_EXTRA_CA_CERTS;
    const added = extra.NODE_EXTRA_CA_CERTS;
    if (inherited && added && inherited !== added && existsSync(inherited)) {
      mergedCa += 1;
      const file = join(root, `extra-ca-${mergedCa}.pem`);
      writeFileSync(file, `${readFileSync(inherited, "utf8").trimEnd()}\n${readFileSync(added, "utf8")}`);
      result.NODE_EXTRA_CA_CERTS = file;
    }
    return result;
  };

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= rm(root, { recursive: true, force: true, maxRetries: 3 });
    return closing;
  };

  return {
    root,
    dir,
    globalPrefix,
    env,
    npm: (args, { env: extra, timeoutInMs = 240_000 } = {}) =>
      runProcess("npm", [...args, "--no-audit", "--no-fund", "--prefer-offline"], {
        cwd: dir,
        env: env(extra),
        timeoutInMs,
      }),
    shell: (line, { env: extra, timeoutInMs = 120_000 } = {}) =>
      runProcess("bash", ["-c", line], { cwd: dir, env: env(extra), timeoutInMs }),
    start: (line, { env: extra } = {}) => startCommand(line, dir, env(extra)),
    node: (file, { env: extra, timeoutInMs = 60_000 } = {}) =>
      runProcess(process.execPath, [file], { cwd: dir, env: env(extra), timeoutInMs }),
    write: async (file, content) => {
      const path = join(dir, file);
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, content);
      return path;
    },
    installed: () => listInstalledPackages(dir),
    footprint: () => measureFootprint(dir),
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** npm's cache folder of this user (`npm_config_cache`, else `~/.npm`). */
function sharedNpmCache(): string {
  return process.env.npm_config_cache || process.env.NPM_CONFIG_CACHE || join(homedir(), ".npm");
}

/** Variables that would make a child see this test run instead of a fresh shell. */
const DROPPED = /^(npm_|pnpm_|vitest|azure_|identity_|msi_|imds_|entra_|node_options$|node_env$|init_cwd$)/i;

function cleanEnvironment(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !DROPPED.test(key)) env[key] = value;
  }
  return env;
}

/** PATH without the repository's (and npx's) `node_modules/.bin` folders and Node binaries. */
function cleanPath(path: string | undefined): string[] {
  return (path ?? "")
    .split(delimiter)
    .filter((entry) => entry !== "" && !entry.includes(`${sep}node_modules${sep}`))
    .filter((entry) => relative(repositoryRoot, entry).startsWith(".."));
}

/**
 * Lists every package folder under `<dir>/node_modules`: top level, scoped (`@s/x`) and nested
 * (`a/node_modules/b`), with name and version from each package.json.
 */
export async function listInstalledPackages(dir: string): Promise<InstalledPackage[]> {
  const found: InstalledPackage[] = [];
  async function walk(nodeModules: string): Promise<void> {
    const entries = await readdir(nodeModules, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      if (entry.name.startsWith(".")) continue;
      const path = join(nodeModules, entry.name);
      if (entry.name.startsWith("@") && entry.isDirectory()) {
        for (const scoped of await readdir(path, { withFileTypes: true })) {
          if (!scoped.name.startsWith(".")) await visit(join(path, scoped.name), scoped.isSymbolicLink());
        }
      } else if (entry.isDirectory() || entry.isSymbolicLink()) {
        await visit(path, entry.isSymbolicLink());
      }
    }
  }
  async function visit(folder: string, isLink: boolean): Promise<void> {
    const manifest = JSON.parse(await readFile(join(folder, "package.json"), "utf8").catch(() => "null"));
    if (manifest && typeof manifest.name === "string") {
      found.push({
        name: manifest.name,
        version: String(manifest.version),
        path: relative(dir, folder),
        dependencies: manifest.dependencies ?? {},
        optionalDependencies: manifest.optionalDependencies ?? {},
        peerDependencies: manifest.peerDependencies ?? {},
      });
    }
    if (!isLink) await walk(join(folder, "node_modules"));
  }
  await walk(join(dir, "node_modules"));
  return found.sort((a, b) => a.path.localeCompare(b.path));
}

/**
 * The installed packages reachable from `roots` (top-level names) through `dependencies` and
 * `optionalDependencies` (not peers), each edge resolved the way Node resolves it (the nearest
 * `node_modules` going up from the dependent), `roots` included.
 */
export function dependencyClosure(
  installed: readonly InstalledPackage[],
  roots: readonly string[],
): InstalledPackage[] {
  const byPath = new Map(installed.map((p) => [p.path, p]));
  const resolveFrom = (from: string, name: string): InstalledPackage | undefined => {
    let folder = from;
    for (;;) {
      const hit = byPath.get(join(folder, "node_modules", name));
      if (hit) return hit;
      if (folder === "" || folder === ".") return undefined;
      const up = dirname(folder);
      // From node_modules/a/node_modules/b go to node_modules/a, then to the project.
      folder = up.endsWith("node_modules") ? dirname(up) : up;
      if (folder === ".") folder = "";
    }
  };
  const seen = new Set<InstalledPackage>();
  const queue = roots.map((name) => resolveFrom("", name)).filter((p) => p !== undefined);
  while (queue.length > 0) {
    const next = queue.pop() as InstalledPackage;
    if (seen.has(next)) continue;
    seen.add(next);
    for (const name of Object.keys({ ...next.dependencies, ...next.optionalDependencies })) {
      const dependency = resolveFrom(next.path, name);
      if (dependency) queue.push(dependency);
    }
  }
  return [...seen];
}

/** Package folders and `du`-style bytes of `<dir>/node_modules`. */
export async function measureFootprint(dir: string): Promise<Footprint> {
  let bytes = 0;
  const seen = new Set<string>();
  async function walk(folder: string): Promise<void> {
    for (const entry of await readdir(folder, { withFileTypes: true })) {
      const path = join(folder, entry.name);
      const info = await lstat(path, { bigint: true });
      const key = `${info.dev}:${info.ino}`;
      if (seen.has(key)) continue; // hard links count once, as with du
      seen.add(key);
      bytes += Number(info.blocks) * 512;
      if (entry.isDirectory()) await walk(path);
    }
  }
  const nodeModules = join(dir, "node_modules");
  const info = await lstat(nodeModules);
  bytes += info.blocks * 512;
  await walk(nodeModules);
  return { packages: (await listInstalledPackages(dir)).length, bytes };
}

/**
 * Wraps tasks so that at most `limit` run at once; the others wait their turn in call order.
 *
 * @example
 * ```ts
 * const limit = createLimiter(3);
 * const results = lines.map((line) => limit(() => install(line))); // each settles on its own
 * ```
 */
export function createLimiter(limit: number): <R>(task: () => Promise<R>) => Promise<R> {
  let running = 0;
  const waiting: (() => void)[] = [];
  return async (task) => {
    // A finishing task hands its slot straight to the next waiter, so `running` never exceeds `limit`.
    if (running >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
    else running += 1;
    try {
      return await task();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else running -= 1;
    }
  };
}

function startCommand(line: string, cwd: string, env: NodeJS.ProcessEnv): RunningCommand {
  const child: ChildProcessByStdio<null, Readable, Readable> = spawn("bash", ["-c", line], {
    cwd,
    env,
    detached: true, // its own process group, like a job in a terminal
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  let stdout = "";
  let finished = false;
  const listeners = new Set<() => void>();
  const notify = () => {
    for (const listener of listeners) listener();
  };
  child.stdout.setEncoding("utf8");
  child.stderr.setEncoding("utf8");
  child.stdout.on("data", (chunk: string) => {
    output += chunk;
    stdout += chunk;
    notify();
  });
  child.stderr.on("data", (chunk: string) => {
    output += chunk;
    notify();
  });
  const ended = new Promise<CommandEnd>((resolveEnd) => {
    child.once("close", (code, signal) => {
      finished = true;
      resolveEnd({ code, signal });
      notify();
    });
    child.once("error", (error) => {
      finished = true;
      output += `\n${error.message}`;
      resolveEnd({ code: null, signal: null });
      notify();
    });
  });
  const signalGroup = (signal: NodeJS.Signals | 0): boolean => {
    if (child.pid === undefined) return false;
    try {
      process.kill(-child.pid, signal);
      return true;
    } catch {
      return false; // ESRCH: no process of the group is left
    }
  };
  return {
    output: () => output,
    stdout: () => stdout,
    waitFor: (pattern, timeoutInMs = 120_000) =>
      new Promise<void>((resolveWait, rejectWait) => {
        const done = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        const check = () => {
          if (pattern.test(output)) {
            done();
            resolveWait();
          } else if (finished) {
            done();
            rejectWait(new Error(`the command ended before printing ${pattern}:\n${output}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          rejectWait(new Error(`no ${pattern} within ${timeoutInMs} ms:\n${output}`));
        }, timeoutInMs);
        listeners.add(check);
        check();
      }),
    interrupt: async (signal = "SIGINT", timeoutInMs = 15_000) => {
      signalGroup(signal);
      const timer = setTimeout(() => signalGroup("SIGKILL"), timeoutInMs);
      try {
        return await ended;
      } finally {
        clearTimeout(timer);
      }
    },
    groupAlive: () => signalGroup(0),
    kill: () => {
      signalGroup("SIGKILL");
    },
  };
}
