import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { runProcess } from "../src/run-process.js";
import { useHarness } from "../src/use-harness.js";

// One token cache per process, whatever loads @org/entra-core: the ESM and CommonJS builds in one
// process, and two installed copies at different versions. Each case runs in a fresh Node process
// (the registry is process-wide), loading the packages the way a mixed app does.

const integration = path.join(import.meta.dirname, "..");
// Inside integration/ so that @azure/identity and the drivers resolve from its node_modules.
const work = path.join(integration, ".one-cache");
const core = path.join(integration, "..", "packages", "core");
const harness = useHarness({ engines: ["postgresql"] });

/** Copies the built @org/entra-core into `<dir>/node_modules/@org/entra-core` as `version`. */
function installCoreCopy(dir: string, version: string): void {
  const target = path.join(work, dir, "node_modules", "@org", "entra-core");
  mkdirSync(target, { recursive: true });
  cpSync(path.join(core, "dist"), path.join(target, "dist"), { recursive: true });
  const manifest = JSON.parse(readFileSync(path.join(core, "package.json"), "utf8"));
  writeFileSync(path.join(target, "package.json"), JSON.stringify({ ...manifest, version }));
}

beforeAll(() => {
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
});

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

async function runModule(name: string, source: string, env: NodeJS.ProcessEnv = process.env) {
  const file = path.join(work, name);
  writeFileSync(file, source);
  const result = await runProcess(process.execPath, [file], { cwd: work, env });
  expect(result.code, result.output).toBe(0);
  return JSON.parse(result.stdout.trim().split("\n").pop() ?? "null");
}

it("an ESM import and a CommonJS require of the adapters share one provider: one token request for both pools", async () => {
  harness.emulator.resetCounters();
  const env = { ...process.env, ...harness.emulator.env };
  const result = await runModule(
    "mixed.mjs",
    `import { createRequire } from "node:module";
import pg from "pg";
import { withEntra } from "@org/pg-entra";
import * as esmCore from "@org/entra-core";
const require = createRequire(import.meta.url);
const cjsCore = require("@org/entra-core");
const { withEntra: withEntraKnex } = require("@org/knex-entra");
const knex = require("knex");
const ssl = { ca: process.env.ENTRA_IT_CA };
const pool = new pg.Pool(withEntra({ ssl, max: 1 }));
const db = knex(withEntraKnex({ client: "pg", connection: { ssl }, pool: { min: 0, max: 1 } }));
const viaEsm = (await pool.query("select current_user as u")).rows[0].u;
const viaCjs = (await db.raw("select current_user as u")).rows[0].u;
const scope = "https://ossrdbms-aad.database.windows.net/.default";
const sameProvider = esmCore.getSharedTokenProvider({ scope }) === cjsCore.getSharedTokenProvider({ scope });
const distinctBuilds = esmCore.getSharedTokenProvider !== cjsCore.getSharedTokenProvider;
await pool.end();
await db.destroy();
console.log(JSON.stringify({ viaEsm, viaCjs, sameProvider, distinctBuilds }));
`,
    { ...env, ENTRA_IT_CA: harness.tls.ca },
  );
  const identity = harness.emulator.identities[0]?.name;
  expect(result).toEqual({ viaEsm: identity, viaCjs: identity, sameProvider: true, distinctBuilds: true });
  expect(harness.emulator.counters.tokenRequests).toBe(1);
});

it("two installed copies of @org/entra-core at different versions share one provider", async () => {
  installCoreCopy("app", "0.1.0");
  installCoreCopy(path.join("app", "node_modules", "some-adapter"), "0.2.0");
  const result = await runModule(
    path.join("app", "two-copies.mjs"),
    `import { createRequire } from "node:module";
const require = createRequire(import.meta.url);
const older = require("@org/entra-core");
const newer = await import(${JSON.stringify(path.join(work, "app", "node_modules", "some-adapter", "node_modules", "@org", "entra-core", "dist", "index.mjs"))});
const versions = [require("@org/entra-core/package.json").version, JSON.parse(require("node:fs").readFileSync(${JSON.stringify(path.join(work, "app", "node_modules", "some-adapter", "node_modules", "@org", "entra-core", "package.json"))}, "utf8")).version];
let calls = 0;
const credential = { getToken: async () => ({ token: "t" + ++calls, expiresOnTimestamp: Date.now() + 3600_000 }) };
const scope = "https://ossrdbms-aad.database.windows.net/.default";
const a = older.getSharedTokenProvider({ credential, scope });
const b = newer.getSharedTokenProvider({ credential, scope });
const tokens = [(await a.getToken()).token, (await b.getToken()).token];
newer.resetSharedTokenProviders();
const closedSeenByOlder = older.getSharedTokenProvider({ credential, scope }) !== a;
console.log(JSON.stringify({ versions, same: a === b, tokens, calls, closedSeenByOlder }));
`,
  );
  expect(result).toEqual({
    versions: ["0.1.0", "0.2.0"],
    same: true,
    tokens: ["t1", "t1"],
    calls: 1,
    closedSeenByOlder: true,
  });
});
