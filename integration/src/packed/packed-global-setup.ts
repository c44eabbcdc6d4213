import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    /** Every publishable package packed as `pnpm publish` would pack it: name -> version and .tgz path. */
    packedPackages: Record<string, { version: string; file: string }>;
  }
}

const root = join(import.meta.dirname, "..", "..", "..");

/**
 * Packs every publishable package once (after the build) for the "packed" project, whose tests
 * install the tarballs with npm into clean projects, as users receive them.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const directory = await mkdtemp(join(tmpdir(), "entra-packs-"));
  await promisify(execFile)(process.execPath, [join(root, "scripts", "pack-packages.mjs"), directory], {
    cwd: root,
  });
  const index = JSON.parse(await readFile(join(directory, "index.json"), "utf8"));
  project.provide("packedPackages", index);
  return async () => {
    await rm(directory, { recursive: true, force: true });
  };
}
