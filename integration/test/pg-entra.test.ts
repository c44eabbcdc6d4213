import type { AccessToken, TokenCredential } from "@azure/core-auth";
import { createTokenProvider, resetSharedTokenProviders } from "@org/entra-core";
import { withEntra } from "@org/pg-entra";
import pg from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "../src/start-harness.js";

let harness: Harness;

beforeAll(async () => {
  harness = await startHarness({ tokenLifetimeInSeconds: 3600 });
});

afterAll(async () => {
  resetSharedTokenProviders();
  await harness?.close();
});

beforeEach(() => {
  harness.emulator.faults.identity.reset();
  harness.emulator.resetCounters();
});

/** A credential that hands out the given tokens in turn, claiming each is valid for an hour. */
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

async function connectOnce(config: pg.ClientConfig): Promise<string> {
  const client = new pg.Client(config);
  try {
    await client.connect();
    const { rows } = await client.query<{ user: string }>("select current_user as user");
    return rows[0]?.user ?? "";
  } finally {
    await client.end().catch(() => {});
  }
}

describe("pg through the emulator (real DefaultAzureCredential, TLS verified)", () => {
  it("1. a pg.Pool from withEntra runs queries as the mapped role", async () => {
    const pool = new pg.Pool(withEntra(harness.pgConfig({ max: 3 })));
    try {
      const { rows } = await pool.query<{ user: string; ssl: boolean }>(
        "select current_user as user, 41 + 1 as answer",
      );
      expect(rows[0]).toMatchObject({ user: harness.emulator.identities[0]?.name, answer: 42 });
      const results = await Promise.all(
        Array.from({ length: 6 }, (_, i) => pool.query("select $1::int as i", [i])),
      );
      expect(results.map((r) => r.rows[0].i)).toEqual([0, 1, 2, 3, 4, 5]);
    } finally {
      await pool.end();
    }
    expect(harness.emulator.counters.loginsAccepted).toBeGreaterThanOrEqual(1);
    expect(harness.emulator.counters.loginsRejected).toBe(0);
  });

  it("1b. a pool learns the user name from the token when none is configured", async () => {
    const env = { ...process.env, AZURE_POSTGRESQL_USER: undefined };
    const pool = new pg.Pool(withEntra(harness.pgConfig({ max: 1 }), { env }));
    try {
      const { rows } = await pool.query<{ user: string }>("select current_user as user");
      expect(rows[0]?.user).toBe(harness.emulator.identities[0]?.name);
    } finally {
      await pool.end();
    }
  });

  it("4. identity endpoint down while the cached token is valid: no connection fails", async () => {
    const pool = new pg.Pool(withEntra(harness.pgConfig({ max: 2 })));
    try {
      const warm = await pool.connect(); // warm the shared provider
      await warm.query("select 1");
      warm.release(true);
      harness.emulator.faults.identity.set({ mode: "down" });
      const before = harness.emulator.counters.loginsAccepted;
      for (let i = 0; i < 10; i++) {
        const client = await pool.connect();
        await client.query("select 1");
        client.release(true); // destroy: the next checkout is a new physical connection
      }
      expect(harness.emulator.counters.loginsAccepted - before).toBe(10);
      expect(harness.emulator.counters.loginsRejected).toBe(0);
    } finally {
      await pool.end();
    }
  });

  describe("5. rejected tokens carry the Azure message and say what to do", () => {
    const user = () => harness.emulator.identities[0]?.name as string;

    it.each([
      {
        name: "expired",
        mint: () => harness.emulator.mintToken({ expired: true }),
        azure: "The access token has expired. Please acquire a new token and retry.",
        code: "TOKEN_EXPIRED",
      },
      {
        name: "wrong audience",
        mint: () => harness.emulator.mintToken({ audience: "https://vault.azure.net" }),
        azure:
          'does not have a valid audience claim. Please acquire a new token for the resource "https://ossrdbms-aad.database.windows.net".',
        code: "TOKEN_AUDIENCE",
      },
      {
        name: "badly signed",
        mint: () => harness.emulator.mintToken({ signature: "bad" }),
        azure: "An error occurred while validating the access token. Please acquire a new token and retry",
        code: "TOKEN_INVALID",
      },
      {
        name: "wrong principal",
        mint: () => harness.emulator.mintToken({ identity: "someone-else" }),
        azure: "password authentication failed for user",
        code: "PRINCIPAL_UNKNOWN",
      },
    ])("$name", async ({ mint, azure, code }) => {
      const token = mint();
      const tokenProvider = createTokenProvider({
        credential: scriptedCredential([token]),
        scope: "https://ossrdbms-aad.database.windows.net/.default",
      });
      try {
        const error = await connectOnce(
          withEntra(harness.pgConfig({ user: user() }), { tokenProvider }),
        ).then(
          () => undefined,
          (e: Error) => e,
        );
        expect(error).toBeInstanceOf(Error);
        expect(error?.message).toContain(azure);
        expect(error?.message).toContain(code);
        expect(error?.message).not.toContain(token);
        expect(harness.emulator.counters.loginsRejected).toBe(1);
      } finally {
        tokenProvider.close();
      }
    });

    it("after the server rejects a token as expired, the next connection uses a freshly fetched one", async () => {
      const credential = scriptedCredential([
        harness.emulator.mintToken({ expired: true }),
        harness.emulator.mintToken(),
      ]);
      const tokenProvider = createTokenProvider({
        credential,
        scope: "https://ossrdbms-aad.database.windows.net/.default",
      });
      try {
        const config = withEntra(harness.pgConfig({ user: user() }), { tokenProvider });
        await expect(connectOnce(config)).rejects.toThrow(/has expired/);
        await expect(connectOnce(config)).resolves.toBe(user());
        expect(credential.calls).toBe(2);
      } finally {
        tokenProvider.close();
      }
    });
  });

  it("6. an insecure config is refused before any network I/O", async () => {
    const before = harness.emulator.counters;
    for (const insecure of [
      { ssl: false },
      { ssl: { ca: harness.emulator.ca, rejectUnauthorized: false } },
    ]) {
      expect(() => withEntra({ ...harness.pgConfig(), ...insecure })).toThrowError(
        expect.objectContaining({ name: "EntraAuthError", code: "INSECURE_TRANSPORT" }),
      );
    }
    const after = harness.emulator.counters;
    expect(after.tokenRequests).toBe(before.tokenRequests);
    expect(after.loginsAccepted + after.loginsRejected).toBe(before.loginsAccepted + before.loginsRejected);
  });

  it("a plaintext connection (allowInsecure) is refused by the gateway with the Azure pg_hba message", async () => {
    const config = withEntra({ ...harness.pgConfig(), ssl: false }, { allowInsecure: true });
    await expect(connectOnce(config)).rejects.toThrow(/no pg_hba.conf entry for host .* no encryption/);
    expect(harness.emulator.counters.rejectionsByReason["tls-required"]).toBe(1);
  });
});
