import type { EntraOptions } from "@org/entra-core";
import { createFakeTokenProvider, fakeJwt } from "@org/entra-core/testing";
import {
  type CertificateAuthority,
  createCertificateAuthority,
  type HostileEngine,
  type HostileMode,
  type HostilePersona,
  type HostileServer,
  startHostileServer,
} from "@org/entra-emulator";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

/** Where an attempt connects: the hostile server, which the client takes for the real one. */
export interface HostileAddress {
  /** Always `localhost`: the name the client expects the certificate to carry. */
  readonly host: string;
  readonly port: number;
  /** PEM of the CA the client trusts (also trusted process-wide through NODE_EXTRA_CA_CERTS). */
  readonly ca: string;
}

/**
 * One TLS setting as a user writes it, for one adapter: builds the config with the adapter's own
 * `withEntra` (or equivalent), connects, runs one query, and closes. Every attempt against a
 * hostile server must end in an error.
 */
export type HostileAttempt = (server: HostileAddress, options: EntraOptions) => Promise<unknown>;

/** An adapter x engine under attack, with the TLS settings users write for it. */
export interface HostileTarget {
  readonly name: string;
  readonly engine: HostileEngine;
  /**
   * The settings, by name. `defaults` (no TLS options at all) is required: the runner also runs it
   * with `NODE_TLS_REJECT_UNAUTHORIZED=0` in the environment.
   */
  readonly settings: Readonly<Record<string, HostileAttempt>> & { readonly defaults: HostileAttempt };
  /**
   * Settings that must be refused before any I/O (the adapter sees them in the config). The
   * environment setting always must.
   */
  readonly refusedUpFront: readonly string[];
}

/**
 * A target built from TLS settings: each setting makes the value `connect` receives (an `ssl`
 * option, a URL, tedious options...), and `connect` opens, queries and closes with the adapter.
 * `extra` adds attempts that do not fit that shape.
 */
export function hostileTarget<Tls>(spec: {
  readonly name: string;
  readonly engine: HostileEngine;
  readonly tlsSettings: Readonly<Record<string, (server: HostileAddress) => Tls>> & {
    readonly defaults: (server: HostileAddress) => Tls;
  };
  readonly connect: (server: HostileAddress, tls: Tls, options: EntraOptions) => Promise<unknown>;
  readonly extra?: Readonly<Record<string, HostileAttempt>>;
  readonly refusedUpFront?: readonly string[];
}): HostileTarget {
  const settings: Record<string, HostileAttempt> = {};
  for (const [setting, tls] of Object.entries(spec.tlsSettings)) {
    settings[setting] = (server, options) => spec.connect(server, tls(server), options);
  }
  return {
    name: spec.name,
    engine: spec.engine,
    settings: { ...settings, ...spec.extra } as HostileTarget["settings"],
    refusedUpFront: spec.refusedUpFront ?? [],
  };
}

/** How an attempt ended. */
type Outcome =
  | "refused before any I/O"
  | "refused on the connection"
  | "failed TLS verification"
  | "never reached the server"
  | "connected";

interface AttemptRecord {
  readonly target: string;
  readonly attack: string;
  readonly setting: string;
  readonly outcome: Outcome;
  readonly leaked: readonly string[];
  readonly detail: string;
}

/** The environment setting the runner adds to every target. */
export const ENV_SETTING = "NODE_TLS_REJECT_UNAUTHORIZED=0";

/** A token shaped like a managed identity's, watched for by every hostile server. */
export const HOSTILE_CANARY = fakeJwt(
  {
    aud: "https://ossrdbms-aad.database.windows.net",
    xms_mirid: "/subscriptions/s/resourcegroups/r/providers/Microsoft.Web/sites/hostile-canary",
    idtyp: "app",
  },
  { signature: "aG9zdGlsZS1jYW5hcnktc2lnbmF0dXJlLXRoYXQtbXVzdC1uZXZlci1sZWF2ZQ" },
);

/** The attacks per engine: every mode, and for MySQL each greeting persona. */
function attacksFor(engine: HostileEngine): { mode: HostileMode; persona?: HostilePersona }[] {
  const modes: HostileMode[] = ["wrong-host", "untrusted-certificate", "tls-stripped", "cleartext-first"];
  if (engine !== "mysql") return modes.map((mode) => ({ mode }));
  return modes.flatMap((mode) => [
    { mode, persona: "mysql8" as const },
    { mode, persona: "mariadb" as const },
  ]);
}

function attackName(attack: { mode: HostileMode; persona?: HostilePersona }): string {
  return attack.persona ? `${attack.mode} (${attack.persona})` : attack.mode;
}

/** The EntraAuthError in an error or in what an ORM wrapped it in (`cause`, `original`, `parent`, `errors`). */
function findEntraError(error: unknown, depth = 0): (Error & { code?: string; hint?: string }) | undefined {
  if (!error || typeof error !== "object" || depth > 5) return undefined;
  const candidate = error as Error & { code?: unknown; hint?: unknown };
  if (candidate.name === "EntraAuthError") return candidate as Error & { code?: string; hint?: string };
  const nested = error as { cause?: unknown; original?: unknown; parent?: unknown; errors?: unknown };
  for (const inner of [
    nested.cause,
    nested.original,
    nested.parent,
    ...(Array.isArray(nested.errors) ? nested.errors : []),
  ]) {
    const found = findEntraError(inner, depth + 1);
    if (found) return found;
  }
  return undefined;
}

async function withEnv<T>(name: string, value: string | undefined, run: () => Promise<T>): Promise<T> {
  const previous = process.env[name];
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
  try {
    return await run();
  } finally {
    if (previous === undefined) delete process.env[name];
    else process.env[name] = previous;
  }
}

/** Lets bytes the client wrote before it gave up reach the server's data handlers. */
async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setTimeout(resolve, 20));
}

const ATTEMPT_TIMEOUT_IN_MS = 20_000;

async function runAttempt(
  server: HostileServer,
  attempt: HostileAttempt,
  env: string | undefined,
): Promise<{ outcome: Outcome; leaked: string[]; detail: string }> {
  server.reset();
  const address: HostileAddress = { host: "localhost", port: server.port, ca: server.ca };
  const options: EntraOptions = { tokenProvider: createFakeTokenProvider({ token: HOSTILE_CANARY }) };
  let timer: NodeJS.Timeout | undefined;
  const run = () =>
    Promise.race([
      attempt(address, options),
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no answer within ${ATTEMPT_TIMEOUT_IN_MS} ms`)),
          ATTEMPT_TIMEOUT_IN_MS,
        );
      }),
    ]);
  let error: unknown;
  let connected = false;
  try {
    await (env === undefined ? run() : withEnv("NODE_TLS_REJECT_UNAUTHORIZED", env, run));
    connected = true;
  } catch (caught) {
    error = caught;
  } finally {
    clearTimeout(timer);
  }
  await settle();
  const leaked = server.leaks().flatMap((leak) => leak.parts.map((part) => `${leak.label}:${part}`));
  const reached = server.connections > 0;
  const entra = findEntraError(error);
  let outcome: Outcome;
  if (connected) outcome = "connected";
  else if (entra?.code === "INSECURE_TRANSPORT")
    outcome = reached ? "refused on the connection" : "refused before any I/O";
  else outcome = reached ? "failed TLS verification" : "never reached the server";
  const detail = entra
    ? `${entra.message}`
    : error instanceof Error
      ? `${error.name}: ${error.message}`.slice(0, 300)
      : String(error);
  return { outcome, leaked, detail };
}

/**
 * Registers the hostile matrix for one engine: every target x every attack (mode, and persona for
 * MySQL) x every TLS setting of the target plus `NODE_TLS_REJECT_UNAUTHORIZED=0`. Each attempt must
 * end refused (`INSECURE_TRANSPORT`, naming the setting and the fix) or with a failed verification,
 * and the hostile server must receive no part of the canary token. Prints the matrix with counts.
 */
export function describeHostileMatrix(engine: HostileEngine, targets: readonly HostileTarget[]): void {
  describe(`hostile ${engine} servers: no token reaches an unverified server`, () => {
    const records: AttemptRecord[] = [];
    const servers = new Map<string, HostileServer>();
    let authority: CertificateAuthority;

    beforeAll(async () => {
      authority = await createCertificateAuthority({ given: inject("hostileAuthority") });
      for (const attack of attacksFor(engine)) {
        const server = await startHostileServer({
          engine,
          ...attack,
          authority,
          secrets: [HOSTILE_CANARY],
          idleTimeoutInMs: 3_000,
        });
        servers.set(attackName(attack), server);
      }
    });

    afterAll(async () => {
      await Promise.all([...servers.values()].map((server) => server.close()));
      printMatrix(engine, records);
    });

    for (const target of targets) {
      for (const attack of attacksFor(engine)) {
        const name = attackName(attack);
        it(`${target.name} x ${name}`, async () => {
          const server = servers.get(name) as HostileServer;
          const settings: [string, HostileAttempt, string | undefined][] = [
            ...Object.entries(target.settings).map(
              ([setting, attempt]) => [setting, attempt, undefined] as [string, HostileAttempt, undefined],
            ),
            [ENV_SETTING, target.settings.defaults, "0"],
          ];
          const mine: AttemptRecord[] = [];
          for (const [setting, attempt, env] of settings) {
            const result = await runAttempt(server, attempt, env);
            mine.push({ target: target.name, attack: name, setting, ...result });
          }
          records.push(...mine);
          const report = (record: AttemptRecord) => `${record.setting}: ${record.outcome} (${record.detail})`;
          // No part of the token reached the impostor, whatever happened.
          expect(
            mine
              .filter((record) => record.leaked.length > 0)
              .map((r) => `${report(r)} leaked ${r.leaked.join(", ")}`),
          ).toEqual([]);
          // Every attempt ended in a refusal or a failed verification, after really trying.
          expect(
            mine
              .filter(
                (record) => record.outcome === "connected" || record.outcome === "never reached the server",
              )
              .map(report),
          ).toEqual([]);
          // What the config says is refused before any I/O, with the setting and the fix named.
          for (const record of mine.filter(
            (r) => r.setting === ENV_SETTING || target.refusedUpFront.includes(r.setting),
          )) {
            expect(record.outcome, report(record)).toBe("refused before any I/O");
          }
          for (const record of mine.filter((r) => r.outcome.startsWith("refused"))) {
            expect(record.detail, report(record)).toMatch(/^The (setting|server|connection)/);
          }
        });
      }
    }
  });
}

function printMatrix(engine: HostileEngine, records: readonly AttemptRecord[]): void {
  if (records.length === 0) return;
  const byTarget = new Map<string, AttemptRecord[]>();
  for (const record of records) byTarget.set(record.target, [...(byTarget.get(record.target) ?? []), record]);
  const count = (list: readonly AttemptRecord[], outcome: Outcome) =>
    list.filter((r) => r.outcome === outcome).length;
  const lines = [
    `hostile ${engine} matrix: target | attempts | refused before I/O | refused on the connection | failed verification | leaks`,
  ];
  for (const [target, list] of byTarget) {
    lines.push(
      `  ${target} | ${list.length} | ${count(list, "refused before any I/O")} | ${count(list, "refused on the connection")} | ${count(list, "failed TLS verification")} | ${list.filter((r) => r.leaked.length > 0).length}`,
    );
  }
  const leaks = records.filter((r) => r.leaked.length > 0).length;
  lines.push(`hostile ${engine} matrix total: ${records.length} attempts, ${leaks} leaks`);
  console.info(lines.join("\n"));
}
