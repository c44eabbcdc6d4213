import { readFile } from "node:fs/promises";
import { inspect } from "node:util";
import type { AccessToken, TokenCredential } from "@azure/core-auth";
import { AzureLogger, getLogLevel, setLogLevel } from "@azure/logger";
import {
  createTokenProvider,
  type EntraOptions,
  getSharedTokenProvider,
  resetSharedTokenProviders,
  scopeFor,
} from "@org/entra-core";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { type BackendEngine, type BackendSource, serverVersion } from "./select-backend.js";
import { type Harness, type HarnessEngine, type HarnessIdentity, startHarness } from "./start-harness.js";

/** A pool of the adapter under test whose `cycle()` authenticates a NEW physical connection. */
export interface ChurningPool {
  /** The driver's own pool object (inspected by the leak check). */
  readonly native: unknown;
  /** Checks out a new physical connection, runs a query on it, and closes it. */
  cycle(): Promise<void>;
  close(): Promise<void>;
}

/**
 * One adapter x engine under test. Each function builds its config with the adapter's own
 * `withEntra` (plus `tls` from the harness, which carries the emulator's CA), so the whole
 * production path runs: adapter -> shared provider -> real DefaultAzureCredential -> emulator.
 */
export interface ConformanceTarget {
  readonly name: string;
  readonly engine: HarnessEngine;
  /** Opens one new connection, returns the database's idea of the current user, closes it. */
  connectOnce(harness: Harness, options?: EntraOptions & { user?: string }): Promise<string>;
  /** A pool of at most `size` connections. */
  createPool(harness: Harness, size: number): ChurningPool;
  /** Thunks that call the adapter's `withEntra` with an insecure config; each must throw. */
  insecureConfigs(harness: Harness): Record<string, () => unknown>;
  /** Connects over plaintext with `allowInsecure: true`; the gateway must refuse it. */
  connectPlaintext(harness: Harness): Promise<unknown>;
  /**
   * Spare logins the driver's own pool may open per token (per inner pool) in the churn case, beyond
   * one per cycle (mariadb's pool tops itself up to one idle connection, also in a pool being retired
   * and in the last one). Every such login must still succeed. Defaults to 0: exactly one per cycle.
   */
  readonly spareLoginsPerToken?: number;
  /**
   * Logins a driver makes when a pool starts, before any work (mssql's `ConnectionPool.connect()`
   * opens and closes one connection to check the config). `connectOnce` and `createPool` each start
   * one pool. Every such login must succeed. Defaults to 0.
   */
  readonly probeLoginsPerPool?: number;
}

/** Options for {@link describeConformance}. */
export interface ConformanceOptions {
  /**
   * Where the database comes from: `"container"` runs the suite against a database started by
   * testcontainers (the second server version per engine); `"any"` (default) the usual selection.
   */
  readonly backend?: BackendSource;
  /**
   * How the app signs in (see `HarnessIdentity`): `managed-identity` (default), `service-principal`
   * (client secret, `DefaultAzureCredential`'s environment link) or `workload-identity` (federated
   * token file). Every case runs unchanged; the token requests counted are then the Entra token
   * endpoint's.
   */
  readonly identity?: HarnessIdentity;
}

/** The messages the emulator's gateways send, per engine (Azure's own, see FACTS.md). */
const SERVER_MESSAGES = {
  postgresql: {
    expired: "The access token has expired. Please acquire a new token and retry.",
    audience:
      'does not have a valid audience claim. Please acquire a new token for the resource "https://ossrdbms-aad.database.windows.net".',
    invalid: "An error occurred while validating the access token. Please acquire a new token and retry",
    principal: "password authentication failed for user",
    plaintext: /no pg_hba.conf entry for host .* no encryption/,
  },
  mysql: {
    expired: "The access token has expired. Please acquire a new token and retry.",
    audience:
      'does not have a valid audience claim. Please acquire a new token for the resource "https://ossrdbms-aad.database.windows.net".',
    invalid: "An error occurred while validating the access token. Please acquire a new token and retry",
    principal: "Access denied for user",
    plaintext: /insecure transport are prohibited/,
  },
  sqlserver: {
    expired: "Login failed for user '<token-identified principal>'. Token is expired.",
    // Azure SQL does not tell a wrong audience from an invalid token.
    audience: "Login failed for user '<token-identified principal>'. Incorrect or invalid token.",
    invalid: "Login failed for user '<token-identified principal>'. Incorrect or invalid token.",
    principal: "Login failed for user '<token-identified principal>'.",
    plaintext: /requires encryption|encrypt/i,
  },
} as const;

/** The reason code our adapters report for each rejection, per engine. */
const EXPECTED_CODES = {
  postgresql: {
    expired: "TOKEN_EXPIRED",
    audience: "TOKEN_AUDIENCE",
    invalid: "TOKEN_INVALID",
    principal: "PRINCIPAL_UNKNOWN",
  },
  mysql: {
    expired: "TOKEN_EXPIRED",
    audience: "TOKEN_AUDIENCE",
    invalid: "TOKEN_INVALID",
    principal: "PRINCIPAL_UNKNOWN",
  },
  sqlserver: {
    expired: "TOKEN_EXPIRED",
    audience: "TOKEN_INVALID",
    invalid: "TOKEN_INVALID",
    principal: "PRINCIPAL_UNKNOWN",
  },
} as const;

/** The resource (token audience) each engine's server accepts. */
const RESOURCE = {
  postgresql: "https://ossrdbms-aad.database.windows.net",
  mysql: "https://ossrdbms-aad.database.windows.net",
  sqlserver: "https://database.windows.net/",
} as const;

/** The emulator's fault-injection handle for each engine's gateway. */
const GATEWAY_FAULTS = { postgresql: "postgres", mysql: "mysql", sqlserver: "sqlserver" } as const;

// Under MSAL's 5-minute reuse threshold (tokenRenewalOffsetSeconds, 300 s: its managed-identity
// client and its confidential client, which service principals and workload identity use, alike):
// every fetch reaches the emulator, so the counters see what the shared provider asks for.
const DEFAULT_LIFETIME_IN_SECONDS = 240;
const CHURN_LIFETIME_IN_SECONDS = 3;
const CHURN_RUN_FOR_IN_MS = Number(process.env.ENTRA_IT_CHURN_MS ?? 9_000);
const BURST = 200;
const JWT_PATTERN = /eyJ[\w-]{10,}\.eyJ[\w-]{10,}/;

/** A credential that hands out the given tokens in turn, each claimed valid for an hour. */
function scriptedCredential(tokens: string[]): TokenCredential & { calls: number } {
  const credential = {
    calls: 0,
    async getToken(): Promise<AccessToken> {
      const token = tokens[Math.min(credential.calls, tokens.length - 1)] as string;
      credential.calls++;
      return { token, expiresOnTimestamp: Date.now() + 3_600_000 };
    },
  };
  return credential;
}

function settle<T>(promise: Promise<T>): Promise<Error | undefined> {
  return promise.then(
    () => undefined,
    (error: Error) => error,
  );
}

/**
 * Registers the conformance cases for one adapter x engine, through the emulator with TLS verified
 * and the real `DefaultAzureCredential`. Call it at the top level of a test file: each file runs in
 * its own worker, which @azure/identity's per-process managed-identity state requires.
 */
export function describeConformance(target: ConformanceTarget, options: ConformanceOptions = {}): void {
  const backend = options.backend ?? "any";
  const where = backend === "container" ? `${target.engine} in a testcontainers container` : target.engine;
  const signIn = options.identity && options.identity !== "managed-identity" ? `, ${options.identity}` : "";
  describe(`${target.name} conformance (${where} through the emulator${signIn})`, () => {
    let harness: Harness;
    const messages = SERVER_MESSAGES[target.engine];
    const probe = target.probeLoginsPerPool ?? 0;
    const user = () => harness.emulator.identities[0]?.name as string;
    const sharedProvider = () => getSharedTokenProvider({ scope: scopeFor(target.engine, "localhost") });

    beforeAll(async () => {
      harness = await startHarness({
        engines: [target.engine],
        backend,
        identity: options.identity,
        tokenLifetimeInSeconds: DEFAULT_LIFETIME_IN_SECONDS,
        // No clock-skew allowance at the gateways: a token handed out even slightly expired is refused.
        clockSkewInSeconds: 0,
      });
      const selected = harness.backends[target.engine as BackendEngine];
      if (selected)
        console.info(
          `${target.name}: backend ${selected.kind}${selected.image ? ` ${selected.image}` : ""}: ${await serverVersion(selected.url)}`,
        );
    });

    afterAll(async () => {
      resetSharedTokenProviders();
      await harness?.close();
    });

    beforeEach(() => {
      harness.emulator.faults.identity.reset();
      harness.emulator.tokenLifetimeInSeconds = DEFAULT_LIFETIME_IN_SECONDS;
      harness.emulator.resetCounters();
    });

    it(`cold start: ${BURST} concurrent new connections cause exactly one token request`, async () => {
      resetSharedTokenProviders();
      const results = await Promise.allSettled(
        Array.from({ length: BURST }, () => target.connectOnce(harness)),
      );
      const failures = results.flatMap((r) => (r.status === "rejected" ? [String(r.reason)] : []));
      expect(failures).toEqual([]);
      expect(results.every((r) => r.status === "fulfilled" && r.value === user())).toBe(true);
      console.info(
        `${target.name}: cold burst of ${BURST}: ${harness.emulator.counters.tokenRequests} token request(s)`,
      );
      expect(harness.emulator.counters.tokenRequests).toBe(1);
      expect(harness.emulator.counters.loginsAccepted).toBe(BURST * (1 + probe));
    });

    it("runs queries as the identity's database user", async () => {
      await expect(target.connectOnce(harness)).resolves.toBe(user());
      const pool = target.createPool(harness, 3);
      try {
        await Promise.all(Array.from({ length: 6 }, () => pool.cycle()));
      } finally {
        await pool.close();
      }
      expect(harness.emulator.counters.loginsAccepted).toBe(7 + 2 * probe);
      expect(harness.emulator.counters.loginsRejected).toBe(0);
    });

    it("a busy pool opening new connections across many short token lifetimes has zero auth failures", async () => {
      resetSharedTokenProviders();
      harness.emulator.tokenLifetimeInSeconds = CHURN_LIFETIME_IN_SECONDS;
      const pool = target.createPool(harness, 4);
      const errors: string[] = [];
      let connections = 0;
      const deadline = Date.now() + CHURN_RUN_FOR_IN_MS;
      const worker = async () => {
        while (Date.now() < deadline) {
          await pool.cycle().then(
            () => connections++,
            (error: Error) => errors.push(error.message),
          );
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      };
      try {
        await Promise.all(Array.from({ length: 4 }, worker));
      } finally {
        await pool.close();
      }
      const { counters } = harness.emulator;
      const lifetimes = CHURN_RUN_FOR_IN_MS / 1000 / CHURN_LIFETIME_IN_SECONDS;
      console.info(
        `${target.name}: expiry churn: ${connections} connections over ${lifetimes} token lifetimes, ` +
          `${counters.tokenRequests} token requests, ${sharedProvider().stats.refreshes} background refreshes, ` +
          `${counters.loginsRejected} rejected logins`,
      );
      expect(errors).toEqual([]);
      expect(counters.loginsRejected).toBe(0);
      const spare = (target.spareLoginsPerToken ?? 0) * (counters.tokenRequests + 1);
      expect(counters.loginsAccepted).toBeGreaterThanOrEqual(connections + probe);
      expect(counters.loginsAccepted).toBeLessThanOrEqual(connections + probe + spare);
      expect(connections).toBeGreaterThan(lifetimes * 10);
      // About one token request per lifetime, never one per connection.
      expect(counters.tokenRequests).toBeGreaterThanOrEqual(lifetimes - 1);
      expect(counters.tokenRequests).toBeLessThanOrEqual(lifetimes * 2 + 2);
    });

    it("identity endpoint down while the cached token is valid: no connection fails", async () => {
      await target.connectOnce(harness); // warm the shared provider
      harness.emulator.faults.identity.set({ mode: "down" });
      const pool = target.createPool(harness, 2);
      try {
        for (let i = 0; i < 10; i++) await pool.cycle();
      } finally {
        await pool.close();
      }
      // A pool that tops itself up after a connection ends (spareLoginsPerToken) may or may not
      // open its spare before close(): that login uses the cached token too and must succeed.
      const accepted = harness.emulator.counters.loginsAccepted;
      expect(accepted).toBeGreaterThanOrEqual(11 + 2 * probe);
      expect(accepted).toBeLessThanOrEqual(11 + 2 * probe + (target.spareLoginsPerToken ?? 0));
      expect(harness.emulator.counters.loginsRejected).toBe(0);
    });

    describe("rejected tokens carry the server's message and say what to do", () => {
      const audience = RESOURCE[target.engine];
      const cases = [
        { name: "expired", mint: (h: Harness) => h.emulator.mintToken({ audience, expired: true }) },
        {
          name: "audience",
          mint: (h: Harness) => h.emulator.mintToken({ audience: "https://vault.azure.net" }),
        },
        { name: "invalid", mint: (h: Harness) => h.emulator.mintToken({ audience, signature: "bad" }) },
        {
          name: "principal",
          mint: (h: Harness) => h.emulator.mintToken({ audience, identity: "someone-else" }),
        },
      ] as const;

      it.each(cases)("$name", async ({ name, mint }) => {
        const code = EXPECTED_CODES[target.engine][name];
        const token = mint(harness);
        const tokenProvider = createTokenProvider({
          credential: scriptedCredential([token]),
          scope: scopeFor(target.engine),
        });
        try {
          const error = await settle(target.connectOnce(harness, { tokenProvider, user: user() }));
          expect(error?.message).toContain(messages[name]);
          expect(error?.message).toContain(code);
          expect(error?.message).not.toContain(token);
          expect(harness.emulator.counters.loginsRejected).toBe(1);
        } finally {
          tokenProvider.close();
        }
      });

      it("after the server rejects a token as expired, the next connection uses a freshly fetched one", async () => {
        const credential = scriptedCredential([
          harness.emulator.mintToken({ audience, expired: true }),
          harness.emulator.mintToken({ audience }),
        ]);
        const tokenProvider = createTokenProvider({ credential, scope: scopeFor(target.engine) });
        try {
          const options = { tokenProvider, user: user() };
          expect((await settle(target.connectOnce(harness, options)))?.message).toContain(messages.expired);
          await expect(target.connectOnce(harness, options)).resolves.toBe(user());
          expect(credential.calls).toBe(2);
        } finally {
          tokenProvider.close();
        }
      });
    });

    it("an insecure config is refused before any network I/O", () => {
      const insecure = Object.entries(target.insecureConfigs(harness));
      expect(insecure.length).toBeGreaterThan(0);
      for (const [name, build] of insecure) {
        expect(build, name).toThrowError(
          expect.objectContaining({ name: "EntraAuthError", code: "INSECURE_TRANSPORT" }),
        );
      }
      const { counters } = harness.emulator;
      expect(counters.tokenRequests + counters.loginsAccepted + counters.loginsRejected).toBe(0);
    });

    it("a plaintext connection (allowInsecure) is refused by the gateway with the server's message", async () => {
      const error = await settle(target.connectPlaintext(harness));
      expect(error?.message).toMatch(messages.plaintext);
      // The gateway may count the refusal only when the client has hung up.
      await vi.waitFor(() => expect(harness.emulator.counters.rejectionsByReason["tls-required"]).toBe(1));
    });

    it("the token appears in no verbose log line, error, or inspected config/pool/provider", async () => {
      const captured: string[] = [];
      const originalLog = AzureLogger.log;
      const originalLevel = getLogLevel();
      setLogLevel("verbose");
      AzureLogger.log = (...args: unknown[]) => {
        captured.push(args.map((a) => (typeof a === "string" ? a : inspect(a, { depth: 6 }))).join(" "));
      };
      const surfaces: string[] = [];
      resetSharedTokenProviders();
      const pool = target.createPool(harness, 2);
      try {
        await target.connectOnce(harness);
        const { token: canary } = await sharedProvider().getToken();
        expect(canary.length).toBeGreaterThan(100);
        for (const reason of ["expired", "invalid", "principal"] as const) {
          harness.emulator.faults[GATEWAY_FAULTS[target.engine]].rejectNextLogins(1, reason);
          const error = await settle(target.connectOnce(harness));
          expect(error).toBeInstanceOf(Error);
          surfaces.push(String(error?.stack), inspect(error, { depth: 8, showHidden: true }));
          surfaces.push(JSON.stringify(error, Object.getOwnPropertyNames(error)));
        }
        await pool.cycle();
        const { token: current } = await sharedProvider().getToken();
        surfaces.push(
          inspect(pool.native, { depth: 8 }),
          inspect(sharedProvider(), { depth: 8, showHidden: true }),
        );
        surfaces.push(JSON.stringify(sharedProvider().stats));
        expect(captured.length).toBeGreaterThan(0); // verbose logging really was captured
        const output = [...captured, ...surfaces].join("\n");
        for (const secret of [canary, current]) {
          expect(output.includes(secret)).toBe(false);
          expect(output.includes(secret.slice(-40))).toBe(false); // not even the signature's tail
        }
        // A service principal's own credential (client secret, federated assertion) leaks nowhere either.
        const clientSecret = harness.emulator.identities[0]?.clientSecret;
        if (options.identity === "service-principal") expect(clientSecret?.length).toBeGreaterThan(20);
        if (clientSecret) expect(output.includes(clientSecret)).toBe(false);
        const federatedTokenFile = process.env.AZURE_FEDERATED_TOKEN_FILE;
        if (options.identity === "workload-identity" && federatedTokenFile) {
          const assertion = (await readFile(federatedTokenFile, "utf8")).trim();
          expect(output.includes(assertion.slice(-40))).toBe(false);
        }
        // Nor any other token issued meanwhile (rejections made the provider fetch new ones).
        expect(output).not.toMatch(JWT_PATTERN);
      } finally {
        await pool.close();
        AzureLogger.log = originalLog;
        setLogLevel(originalLevel);
      }
    });
  });
}
