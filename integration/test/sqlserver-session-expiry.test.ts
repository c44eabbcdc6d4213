import "reflect-metadata";
import { resetSharedTokenProviders } from "@org/entra-core";
import { withEntra as withKnexEntra } from "@org/knex-entra";
import { withEntra as withMssqlEntra } from "@org/mssql-entra";
import { withEntra as withSequelizeEntra } from "@org/sequelize-entra";
import {
  explainEntraError,
  sessionExpiresSoon,
  sessionTokenExpiresOn,
  trackSessionExpiry,
  watchEntraErrors,
  withEntra as withTediousEntra,
} from "@org/tedious-entra";
import { withEntra as withTypeormEntra } from "@org/typeorm-entra";
import knex, { type Knex } from "knex";
import mssql from "mssql";
import { QueryTypes, Sequelize } from "sequelize";
import { Connection, Request } from "tedious";
import { DataSource } from "typeorm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "../src/start-harness.js";

/**
 * Azure SQL ends a session whose login token has expired at its next request (error 37396), and
 * the emulator does the same (clock skew 0 here). Each adapter's pool must retire sessions before
 * their token expires, so that over several short token lifetimes no query ever meets 37396; a
 * session held open past expiry anyway gets 37396 with our explanation.
 */

const LIFETIME_IN_SECONDS = 4; // far under MSAL's 5-minute reuse threshold: every fetch reaches the emulator
const RUN_FOR_IN_MS = Number(process.env.ENTRA_IT_SESSION_EXPIRY_MS ?? 13_000); // > 3 lifetimes
const WORKERS = 3;
const POOL_SIZE = 2;
const JWT_PATTERN = /eyJ[\w-]{10,}\.eyJ[\w-]{10,}/;

let harness: Harness;
const tds = () => ({ cryptoCredentialsDetails: { ca: harness.tls.ca } });

beforeAll(async () => {
  harness = await startHarness({
    engines: ["sqlserver"],
    tokenLifetimeInSeconds: LIFETIME_IN_SECONDS,
    clockSkewInSeconds: 0,
  });
});

afterAll(async () => {
  resetSharedTokenProviders();
  await harness?.close();
});

beforeEach(() => harness.emulator.resetCounters());

/** One library under load: `query` runs `SELECT 1` through its pool; `sessions` counts the sessions it opened. */
interface Client {
  readonly name: string;
  query(): Promise<unknown>;
  sessions(): number;
  close(): Promise<void>;
}

function tediousConnect(connection: Connection): Promise<Connection> {
  return new Promise((resolve, reject) =>
    connection.connect((error) => (error ? reject(error) : resolve(connection))),
  );
}

function tediousQuery(connection: Connection, sql: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let value: unknown;
    const request = new Request(sql, (error) => (error ? reject(error) : resolve(value)));
    request.on("row", (columns) => {
      value = columns[0]?.value;
    });
    connection.execSqlBatch(request);
  });
}

function tediousClose(connection: Connection | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (!connection || connection.closed) return resolve();
    connection.once("end", () => resolve());
    connection.close();
  });
}

/** tedious has no pool: one shared connection, replaced when closed or when its session token expires soon. */
function tediousClient(): Client {
  const config = withTediousEntra({ options: tds() });
  let current: Promise<Connection> | undefined;
  let opened = 0;
  let queue: Promise<unknown> = Promise.resolve();
  const acquire = async () => {
    const connection = await current?.catch(() => undefined);
    if (!connection || connection.closed || sessionExpiresSoon(connection)) {
      void tediousClose(connection);
      opened++;
      current = tediousConnect(trackSessionExpiry(watchEntraErrors(new Connection(config))));
    }
    return current as Promise<Connection>;
  };
  return {
    name: "tedious",
    // tedious runs one request at a time per connection.
    query: () => {
      const run = queue.then(async () => tediousQuery(await acquire(), "SELECT 1 AS one"));
      queue = run.catch(() => undefined);
      return run;
    },
    sessions: () => opened,
    close: async () => tediousClose(await current?.catch(() => undefined)),
  };
}

function mssqlClient(): Client {
  let opened = 0;
  const pool = new mssql.ConnectionPool(
    withMssqlEntra({
      options: tds(),
      pool: { min: 0, max: POOL_SIZE },
      beforeConnect: () => {
        opened++;
      },
    }),
  );
  const ready = pool.connect();
  return {
    name: "mssql",
    query: async () => (await ready).request().query("SELECT 1 AS one"),
    sessions: () => opened,
    close: async () => {
      await ready.catch(() => undefined);
      await pool.close();
    },
  };
}

function knexClient(): Client {
  let opened = 0;
  const connection = { options: tds() } as unknown as Knex.MsSqlConnectionConfig;
  const db = knex(
    withKnexEntra({
      client: "mssql",
      connection,
      pool: {
        min: 0,
        max: POOL_SIZE,
        afterCreate: (raw: unknown, done: (error: Error | null, raw: unknown) => void) => {
          opened++;
          done(null, raw);
        },
      },
    }),
  );
  return {
    name: "knex",
    query: () => db.raw("SELECT 1 AS one"),
    sessions: () => opened,
    close: () => db.destroy(),
  };
}

function sequelizeClient(): Client {
  let opened = 0;
  const sequelize = new Sequelize(
    withSequelizeEntra({
      dialect: "mssql",
      logging: false,
      dialectOptions: { options: tds() },
      pool: { min: 0, max: POOL_SIZE },
      hooks: {
        afterConnect: () => {
          opened++;
        },
      },
    }),
  );
  return {
    name: "Sequelize",
    query: () => sequelize.query("SELECT 1 AS one", { type: QueryTypes.SELECT }),
    sessions: () => opened,
    close: () => sequelize.close(),
  };
}

function typeormClient(): Client {
  let opened = 0;
  const dataSource = new DataSource(
    withTypeormEntra({
      type: "mssql",
      options: tds(),
      pool: { min: 0, max: POOL_SIZE },
      extra: {
        beforeConnect: () => {
          opened++;
        },
      },
    }) as never,
  );
  const ready = dataSource.initialize();
  return {
    name: "TypeORM",
    query: async () => (await ready).query("SELECT 1 AS one"),
    sessions: () => opened,
    close: async () => {
      await ready.catch(() => undefined);
      if (dataSource.isInitialized) await dataSource.destroy();
    },
  };
}

async function runFor(client: Client, deadline: number): Promise<{ queries: number; failures: string[] }> {
  let queries = 0;
  const failures: string[] = [];
  const worker = async () => {
    while (Date.now() < deadline) {
      await client.query().then(
        () => queries++,
        (error: Error) => failures.push(error.message),
      );
      await new Promise((resolve) => setTimeout(resolve, 40));
    }
  };
  await Promise.all(Array.from({ length: WORKERS }, worker));
  return { queries, failures };
}

describe("Azure SQL sessions whose token expires (error 37396)", () => {
  it(`mssql, tedious, knex, Sequelize and TypeORM retire sessions before expiry: zero failed queries over ${RUN_FOR_IN_MS / 1000 / LIFETIME_IN_SECONDS} token lifetimes`, async () => {
    resetSharedTokenProviders();
    const clients = [mssqlClient(), tediousClient(), knexClient(), sequelizeClient(), typeormClient()];
    const deadline = Date.now() + RUN_FOR_IN_MS;
    let results: Array<{ queries: number; failures: string[] }>;
    try {
      results = await Promise.all(clients.map((client) => runFor(client, deadline)));
    } finally {
      await Promise.all(clients.map((client) => client.close()));
    }
    const { counters } = harness.emulator;
    const lifetimes = RUN_FOR_IN_MS / 1000 / LIFETIME_IN_SECONDS;
    const report = clients.map((client, index) => ({
      name: client.name,
      queries: results[index]?.queries,
      sessions: client.sessions(),
      failures: results[index]?.failures ?? [],
    }));
    console.info(
      `session expiry over ${lifetimes} lifetimes of ${LIFETIME_IN_SECONDS} s: ` +
        report.map((r) => `${r.name} ${r.queries} queries / ${r.sessions} sessions`).join(", ") +
        `; emulator: ${counters.byEngine.sqlserver.loginsAccepted} logins, ` +
        `${counters.tokenRequests} token requests, ${counters.sessionsExpired} sessions ended with 37396`,
    );
    expect(report.filter((r) => r.failures.length > 0)).toEqual([]);
    // No session was ever sent a request after its token expired...
    expect(counters.sessionsExpired).toBe(0);
    expect(counters.loginsRejected).toBe(0);
    for (const r of report) {
      expect(r.queries, r.name).toBeGreaterThan(lifetimes * 10);
      // ...because each pool replaced its sessions as their tokens neared expiry: with sessions
      // in constant use, at least one new session per token lifetime.
      expect(r.sessions, r.name).toBeGreaterThanOrEqual(Math.floor(lifetimes));
    }
    const opened = report.reduce((sum, r) => sum + r.sessions, 0);
    expect(counters.byEngine.sqlserver.loginsAccepted).toBeGreaterThanOrEqual(opened);
  }, 40_000);

  describe("a session held open past its token's expiry gets 37396, explained and without a token", () => {
    /** Waits until the emulator (clock skew 0) considers the connection's session token expired. */
    async function pastExpiry(connection: object): Promise<void> {
      const expiresOn = sessionTokenExpiresOn(connection);
      expect(expiresOn).toBeTypeOf("number");
      await new Promise((resolve) =>
        setTimeout(resolve, Math.max(0, (expiresOn as number) - Date.now()) + 100),
      );
    }

    function ended(connection: Connection): Promise<void> {
      return new Promise((resolve) => {
        if (connection.closed) resolve();
        else connection.once("end", () => resolve());
      });
    }

    function expectExplained37396(error: unknown): void {
      expect(error).toBeInstanceOf(Error);
      const failure = error as Error & { number?: number };
      expect(failure.message).toContain("Query cannot be executed, access token is expired.");
      expect(failure.message).toContain("[@org/tedious-entra TOKEN_EXPIRED]");
      expect(failure.message).toContain("Close this connection and run the query on a new one");
      expect(failure.message).not.toMatch(JWT_PATTERN);
      expect(explainEntraError(failure)).toHaveProperty("entraCode", "TOKEN_EXPIRED");
      expect(failure.message.match(/\[@org\/tedious-entra/g)).toHaveLength(1);
    }

    it("a tedious connection kept across the expiry (watchEntraErrors)", async () => {
      resetSharedTokenProviders();
      const connection = await tediousConnect(
        trackSessionExpiry(watchEntraErrors(new Connection(withTediousEntra({ options: tds() })))),
      );
      try {
        await expect(tediousQuery(connection, "SELECT 1")).resolves.toBe(1);
        await pastExpiry(connection);
        const error = await tediousQuery(connection, "SELECT 1").then(
          () => undefined,
          (failure: unknown) => failure,
        );
        expectExplained37396(error);
        expect((error as { number?: number }).number).toBe(37396);
        expect(harness.emulator.counters.sessionsExpired).toBe(1);
      } finally {
        await tediousClose(connection);
      }
    }, 15_000);

    it("an mssql transaction held across the expiry; the pool then replaces the session", async () => {
      resetSharedTokenProviders();
      const tracked: Connection[] = [];
      const pool = new mssql.ConnectionPool(
        withMssqlEntra({
          options: tds(),
          pool: { min: 0, max: 1 },
          beforeConnect: (connection) => {
            tracked.push(connection as unknown as Connection);
          },
        }),
      );
      await pool.connect();
      try {
        const transaction = new mssql.Transaction(pool);
        await transaction.begin();
        await transaction.request().query("SELECT 1 AS one");
        const session = tracked.at(-1) as Connection;
        await pastExpiry(session);
        const error = await transaction
          .request()
          .query("SELECT 1 AS one")
          .then(
            () => undefined,
            (failure: unknown) => failure,
          );
        expectExplained37396(error);
        // The emulator closes the session after 37396. A request sent before tedious has seen the
        // close races it and tedious 19 rejects internally (unhandled "No event 'socketError' in
        // state 'Final'"), so roll back once the session is gone: the rollback then fails cleanly.
        await ended(session);
        await expect(transaction.rollback()).rejects.toThrow();
        expect(harness.emulator.counters.sessionsExpired).toBe(1);
        // The ended session is not handed out again: the next query runs on a new session.
        const { recordset } = await pool.request().query<{ one: number }>("SELECT 1 AS one");
        expect(recordset).toEqual([{ one: 1 }]);
        expect(harness.emulator.counters.sessionsExpired).toBe(1);
      } finally {
        await pool.close();
      }
    }, 15_000);
  });
});
