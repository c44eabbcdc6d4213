import type { Connection } from "tedious";
import { afterEach, describe, expect, it } from "vitest";
import { startEmulator } from "../start-emulator.js";
import {
  closeTedious,
  connectTedious,
  fakeSqlAuthorize,
  queryTedious,
  startTdsFixture,
  type TdsFixture,
} from "./tds-test-fixture.js";

const EXPIRED_MESSAGE =
  "Query cannot be executed, access token is expired. Please login with a new access token and execute query again.";

/** Resolves when the connection ends (the server closed it). */
function ended(connection: Connection): Promise<void> {
  return new Promise((resolve) => {
    if (connection.closed) resolve();
    else connection.once("end", () => resolve());
  });
}

describe("a request on a session whose token expired (Azure SQL error 37396)", () => {
  let fixture: TdsFixture | undefined;
  afterEach(async () => {
    await fixture?.close();
    fixture = undefined;
  });

  /** An endpoint whose logins carry `exp` = 1_000 s and whose clock the test moves. */
  async function expiringFixture(clock: { nowMs: number }, expired: number[]) {
    fixture = await startTdsFixture({
      authorize: (request) => {
        const decision = fakeSqlAuthorize(request);
        return decision.ok ? { ...decision, expiresOnTimestamp: 1_000_000 } : decision;
      },
      isSessionExpired: (expiresOnTimestamp) => clock.nowMs >= expiresOnTimestamp,
      onSessionExpired: () => expired.push(clock.nowMs),
    });
    return fixture;
  }

  it("runs requests until expiry, then answers 37396 and closes the connection", async () => {
    const clock = { nowMs: 999_000 };
    const expired: number[] = [];
    const { config } = await expiringFixture(clock, expired);
    const connection = await connectTedious(config());
    const messages: Array<{ number: number; class: number; state: number; message: string }> = [];
    connection.on("errorMessage", (token) => messages.push(token));
    try {
      expect((await queryTedious(connection, "SELECT 1")).rows).toEqual([[1]]);
      clock.nowMs = 1_000_000;
      const error = await queryTedious(connection, "SELECT 1").then(
        () => undefined,
        (failure: Error & { number?: number; class?: number; state?: number }) => failure,
      );
      expect(error?.message).toBe(EXPIRED_MESSAGE);
      expect(error).toMatchObject({ number: 37396, class: 14, state: 1 });
      expect(messages).toMatchObject([{ number: 37396, class: 14, state: 1, message: EXPIRED_MESSAGE }]);
      await ended(connection);
      expect(expired).toEqual([1_000_000]);
    } finally {
      await closeTedious(connection);
    }
  });

  it("also ends a session whose next request is an RPC or a transaction-manager request", async () => {
    const clock = { nowMs: 0 };
    const expired: number[] = [];
    const { config } = await expiringFixture(clock, expired);
    const rpc = await connectTedious(config());
    const transaction = await connectTedious(config());
    clock.nowMs = 2_000_000;
    try {
      await expect(queryTedious(rpc, "SELECT 1", { rpc: true })).rejects.toMatchObject({ number: 37396 });
      await expect(
        new Promise<void>((resolve, reject) =>
          transaction.beginTransaction((error) => (error ? reject(error) : resolve())),
        ),
      ).rejects.toMatchObject({ number: 37396 });
      await Promise.all([ended(rpc), ended(transaction)]);
      expect(expired).toHaveLength(2);
    } finally {
      await Promise.all([closeTedious(rpc), closeTedious(transaction)]);
    }
  });

  it("never ends a session without isSessionExpired, nor one whose login has no expiry", async () => {
    fixture = await startTdsFixture({ isSessionExpired: () => true });
    // fakeSqlAuthorize's decisions carry no expiresOnTimestamp: nothing to compare with.
    const connection = await connectTedious(fixture.config());
    try {
      expect((await queryTedious(connection, "SELECT 2")).rows).toEqual([[2]]);
    } finally {
      await closeTedious(connection);
    }
  });
});

describe("startEmulator sqlserver.expireSessions", () => {
  const audience = "https://database.windows.net/";

  it("ends sessions past exp plus the clock skew, counts them, and can be switched at run time", async () => {
    let nowMs = Date.now();
    await using emulator = await startEmulator({
      postgres: false,
      sqlserver: {},
      clockSkewInSeconds: 5,
      now: () => nowMs,
    });
    const config = (token: string) => ({
      server: "localhost",
      authentication: { type: "azure-active-directory-access-token" as const, options: { token } },
      options: {
        port: emulator.sqlserver?.port,
        encrypt: "strict" as const,
        trustServerCertificate: false,
        cryptoCredentialsDetails: { ca: emulator.ca },
      },
    });
    const open = async () => connectTedious(config(emulator.mintToken({ audience, lifetimeInSeconds: 60 })));

    const first = await open();
    try {
      // Past exp but within the skew: still served.
      nowMs += 64_000;
      expect((await queryTedious(first, "SELECT 1")).rows).toEqual([[1]]);
      nowMs += 1_000; // exp + skew reached
      await expect(queryTedious(first, "SELECT 1")).rejects.toMatchObject({ number: 37396 });
      await ended(first);
      expect(emulator.counters.sessionsExpired).toBe(1);
    } finally {
      await closeTedious(first);
    }

    emulator.faults.sqlserver.expireSessions(false);
    const second = await open();
    try {
      nowMs += 3_600_000;
      expect((await queryTedious(second, "SELECT 1")).rows).toEqual([[1]]);
      emulator.faults.sqlserver.reset(); // back to the option's setting: on
      await expect(queryTedious(second, "SELECT 1")).rejects.toMatchObject({ number: 37396 });
      expect(emulator.counters.sessionsExpired).toBe(2);
      emulator.resetCounters();
      expect(emulator.counters.sessionsExpired).toBe(0);
    } finally {
      await closeTedious(second);
    }
  });

  it("starts off with expireSessions: false; faults.sqlserver.expireSessions(true) turns it on", async () => {
    let nowMs = Date.now();
    await using emulator = await startEmulator({
      postgres: false,
      sqlserver: { expireSessions: false },
      clockSkewInSeconds: 0,
      now: () => nowMs,
    });
    const connection = await connectTedious({
      server: "localhost",
      authentication: {
        type: "azure-active-directory-access-token",
        options: { token: emulator.mintToken({ audience, lifetimeInSeconds: 60 }) },
      },
      options: {
        port: emulator.sqlserver?.port,
        encrypt: "strict",
        trustServerCertificate: false,
        cryptoCredentialsDetails: { ca: emulator.ca },
      },
    });
    try {
      nowMs += 120_000;
      expect((await queryTedious(connection, "SELECT 1")).rows).toEqual([[1]]);
      expect(emulator.counters.sessionsExpired).toBe(0);
      emulator.faults.sqlserver.expireSessions(true);
      await expect(queryTedious(connection, "SELECT 1")).rejects.toMatchObject({ number: 37396 });
    } finally {
      await closeTedious(connection);
    }
  });
});
