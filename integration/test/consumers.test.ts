import { execFile } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const root = path.join(import.meta.dirname, "..", "..");
const integration = path.join(root, "integration");
// Inside integration/ so that the workspace packages resolve from its node_modules.
const work = path.join(integration, ".consumers");
const require = createRequire(path.join(integration, "package.json"));
const tsc = require.resolve("typescript/bin/tsc");

interface PublishedPackage {
  readonly name: string;
  /** Named exports the built package must have (ESM and CJS alike). */
  readonly expected: readonly string[];
}

/** Packages whose primary export is not (only) `withEntra`. */
const EXPECTED_EXPORTS: Record<string, string[]> = {
  "@org/entra-core": ["createTokenProvider", "getSharedTokenProvider", "EntraAuthError"],
  "@org/entra-emulator": ["startEmulator"],
  "@org/entra-db-cli": ["run", "startProxy"],
  "@org/entra-wire": ["PgFrameReader", "listenGateway", "buildFedAuthLogin7"],
  "@org/prisma-entra": ["createEntraAdapter", "entraDatabaseUrl"],
  "@org/tedious-entra": ["withEntra", "createEntraTokenCredential"],
};

/** Every publishable workspace package, read from packages/*, with the exports it promises. */
const published: PublishedPackage[] = readdirSync(path.join(root, "packages"))
  .filter((dir) => existsSync(path.join(root, "packages", dir, "package.json")))
  .map((dir) => JSON.parse(readFileSync(path.join(root, "packages", dir, "package.json"), "utf8")))
  .filter((manifest) => !manifest.private)
  .map((manifest) => ({
    name: manifest.name as string,
    expected: EXPECTED_EXPORTS[manifest.name as string] ?? ["withEntra"],
  }));

/** Subpath exports, checked like the packages' main entries (their packages are checked above). */
const SUBPATH_EXPORTS: PublishedPackage[] = [
  { name: "@org/entra-emulator/testcontainers", expected: ["startEmulatorFor", "EmulatorContainerError"] },
];
const consumed: PublishedPackage[] = [...published, ...SUBPATH_EXPORTS];

beforeAll(() => {
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

it("the integration workspace depends on every published package (so these checks cover all of them)", () => {
  const manifest = JSON.parse(readFileSync(path.join(integration, "package.json"), "utf8"));
  const deps = { ...manifest.dependencies, ...manifest.devDependencies };
  expect(published.length).toBeGreaterThanOrEqual(3);
  for (const { name } of published) expect(deps, name).toHaveProperty(name);
});

describe("consumers", () => {
  it("CommonJS require() of every package exposes its exports", async () => {
    const file = path.join(work, "consumer.cjs");
    writeFileSync(
      file,
      `const checks = ${JSON.stringify(consumed)};\n` +
        "for (const { name, expected } of checks) {\n" +
        "  const m = require(name);\n" +
        "  for (const key of expected) if (typeof m[key] !== 'function') throw new Error(name + ' lacks ' + key);\n" +
        "}\nconsole.log('cjs ok ' + checks.length);\n",
    );
    const { stdout } = await run(process.execPath, [file], { cwd: work });
    expect(stdout.trim()).toBe(`cjs ok ${consumed.length}`);
  });

  it("ESM import of every package exposes its exports", async () => {
    const file = path.join(work, "consumer.mjs");
    writeFileSync(
      file,
      `const checks = ${JSON.stringify(consumed)};\n` +
        "for (const { name, expected } of checks) {\n" +
        "  const m = await import(name);\n" +
        "  for (const key of expected) if (typeof m[key] !== 'function') throw new Error(name + ' lacks ' + key);\n" +
        "}\nconsole.log('esm ok ' + checks.length);\n",
    );
    const { stdout } = await run(process.execPath, [file], { cwd: work });
    expect(stdout.trim()).toBe(`esm ok ${consumed.length}`);
  });

  it.each([
    { label: "node16 (CommonJS output)", module: "node16", moduleResolution: "node16", type: "commonjs" },
    { label: "node16 (ESM output)", module: "node16", moduleResolution: "node16", type: "module" },
    { label: "bundler", module: "esnext", moduleResolution: "bundler", type: "module" },
  ])(
    "TypeScript with moduleResolution $label type-checks named imports",
    async ({ label, module, moduleResolution, type }) => {
      const dir = path.join(work, `ts-${label.replace(/\W+/g, "-")}`);
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, "package.json"), JSON.stringify({ type }));
      const lines = consumed.flatMap(({ name, expected }, i) => [
        `import { ${expected.map((key) => `${key} as ${key}${i}`).join(", ")} } from "${name}";`,
        ...expected.map((key) => `export const check${i}${key}: Function = ${key}${i};`),
      ]);
      writeFileSync(path.join(dir, "consumer.ts"), `${lines.join("\n")}\n`);
      writeFileSync(
        path.join(dir, "tsconfig.json"),
        JSON.stringify({
          compilerOptions: {
            module,
            moduleResolution,
            target: "es2022",
            strict: true,
            noEmit: true,
            skipLibCheck: false,
            types: ["node"],
          },
          files: ["consumer.ts"],
        }),
      );
      const result = await run(process.execPath, [tsc, "-p", path.join(dir, "tsconfig.json")], {
        cwd: dir,
      }).then(
        () => "",
        (error: { stdout: string }) => error.stdout,
      );
      // Our declarations are checked (skipLibCheck: false); errors inside third-party packages'
      // own declarations (e.g. @azure/msal-node's .d.cts under node16 CommonJS) are theirs.
      const ours = result
        .split("\n")
        .filter((line) => /error TS/.test(line) && !line.includes("node_modules/.pnpm/"));
      expect(ours).toEqual([]);
    },
  );
});
