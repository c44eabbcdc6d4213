#!/usr/bin/env node
// Packs every publishable workspace package the way `pnpm publish` would (workspace: ranges
// replaced by the real ones, prepack scripts run) into one folder, and writes index.json there:
// { "<package name>": { "version": "...", "file": "<absolute path of the .tgz>" } }.
// Usage: node scripts/pack-packages.mjs <destination folder>   (run after the build)
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dirname, "..");
const destination = resolve(process.argv[2] ?? join(root, ".packs"));
rmSync(destination, { recursive: true, force: true });
mkdirSync(destination, { recursive: true });

// Under `pnpm run`, reuse the running pnpm (much faster than npx per package): a script run with
// this Node, or pnpm's own executable.
// biome-ignore lint/suspicious/noUndeclaredEnvVars: set by the package manager, not a turbo task input
const execpath = process.env.npm_execpath;
const pnpm = execpath && /pnpm/.test(execpath) ? execpath : undefined;
function pnpmCommand(args) {
  if (pnpm === undefined) return ["npx", ["-y", "pnpm@12.4.2", ...args]];
  return /\.[cm]?js$/.test(pnpm) ? [process.execPath, [pnpm, ...args]] : [pnpm, args];
}
const index = {};
for (const dir of readdirSync(join(root, "packages")).sort()) {
  const manifest = JSON.parse(readFileSync(join(root, "packages", dir, "package.json"), "utf8"));
  if (manifest.private) continue;
  const [command, commandArgs] = pnpmCommand(["pack", "--pack-destination", destination]);
  const output = execFileSync(command, commandArgs, { cwd: join(root, "packages", dir), encoding: "utf8" });
  const file = output
    .trim()
    .split("\n")
    .reverse()
    .find((line) => line.endsWith(".tgz"));
  if (!file) throw new Error(`pack-packages: pnpm pack printed no tarball for ${manifest.name}:\n${output}`);
  index[manifest.name] = { version: manifest.version, file: resolve(destination, file.trim()) };
}
writeFileSync(join(destination, "index.json"), `${JSON.stringify(index, null, 2)}\n`);
console.log(`pack-packages: ${Object.keys(index).length} packages in ${destination}`);
