import "reflect-metadata";
import v8 from "node:v8";
import vm from "node:vm";
import type { AccessToken, GetTokenOptions, TokenCredential } from "@azure/core-auth";
import { DefaultAzureCredential } from "@azure/identity";
import {
  type EntraOptions,
  type EntraTokenProvider,
  getSharedTokenProvider,
  resetSharedTokenProviders,
  scopeFor,
} from "@org/entra-core";
import { withEntra as withKnexEntra } from "@org/knex-entra";
import { withEntra as withMssqlEntra } from "@org/mssql-entra";
import { withEntra as withMysql2Entra } from "@org/mysql2-entra";
import { withEntra as withPgEntra } from "@org/pg-entra";
import { createEntraAdapter } from "@org/prisma-entra";
import { withEntra as withSequelizeEntra } from "@org/sequelize-entra";
import { holdWhileConnected, withEntra as withTediousEntra } from "@org/tedious-entra";
import { withEntra as withTypeormEntra } from "@org/typeorm-entra";
import knex, { type Knex } from "knex";
import mssql from "mssql";
import mysql from "mysql2/promise";
import pg from "pg";
import { type Options, QueryTypes, Sequelize } from "sequelize";
import { Connection, Request } from "tedious";
import { DataSource } from "typeorm";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type Harness, startHarness } from "../src/start-harness.js";

/**
 * Issue 14: a provider that no live pool uses stops refreshing and can be collected. Every
 * adapter holds the shared token provider for each open connection that signed in with its token
 * and releases it when that connection closes, so ending a pool with the library's own method
 * (`end`, `destroy`, `close`, `dispose` = Prisma's `$disconnect`) leaves the provider unheld: it
 * calls the identity endpoint no more, however long the process runs.
 *
 * One emulator (PostgreSQL and MySQL gateways, the TDS endpoint) minting 6-second tokens, the real
 * DefaultAzureCredential, and per case a counting wrapper around it as `credential`: so each case
 * has its own shared provider and its own count of token requests, and the cases run one after
 * the other before ONE shared wait past every token's refresh point and expiry.
 */

const TOKEN_LIFETIME_IN_SECONDS = 6;
/** How long a pool may take, after its end method resolved, to close its sockets (pg-pool, mysql2). */
const CLOSE_WAIT_IN_MS = 2_000;

let harness: Harness;
let real: TokenCredential;

beforeAll(async () => {
  harness = await startHarness({
    engines: ["postgresql", "mysql", "sqlserver"],
    tokenLifetimeInSeconds: TOKEN_LIFETIME_IN_SECONDS,
  });
  real = new DefaultAzureCredential();
});

afterAll(async () => {
  resetSharedTokenProviders();
  await harness?.close();
});

/** A credential object of its own (its own shared provider) that counts its calls to the real one. */
function countingCredential(): TokenCredential & { calls: number } {
  const credential = {
    calls: 0,
    getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken | null> {
      credential.calls++;
      return real.getToken(scopes, options);
    },
  };
  return credential;
}

type Engine = "postgresql" | "mysql" | "sqlserver";

/** An open pool of one library: `use()` runs queries on at least one (mostly two) connections. */
interface Opened {
  use(): Promise<void>;
  /** The library's own method that ends the pool. */
  end(): Promise<void>;
}

interface Case {
  readonly name: string;
  readonly engine: Engine;
  open(options: EntraOptions): Promise<Opened>;
}

const tds = () => ({ cryptoCredentialsDetails: { ca: harness.tls.ca } });

/** Runs `use` on two connections checked out at once, then gives them back. */
async function onTwo<C>(
  checkout: () => Promise<C>,
  use: (c: C) => Promise<unknown>,
  giveBack: (c: C) => unknown,
) {
  const connections = await Promise.all([checkout(), checkout()]);
  try {
    await Promise.all(connections.map(use));
  } finally {
    for (const connection of connections) await giveBack(connection);
  }
}

function tediousConnect(connection: Connection): Promise<void> {
  return new Promise((resolve, reject) => connection.connect((error) => (error ? reject(error) : resolve())));
}

function tediousQuery(connection: Connection, sql: string): Promise<void> {
  return new Promise((resolve, reject) =>
    connection.execSql(new Request(sql, (error) => (error ? reject(error) : resolve()))),
  );
}

function tediousClose(connection: Connection): Promise<void> {
  return new Promise((resolve) => {
    if (connection.closed) return resolve();
    connection.once("end", () => resolve());
    connection.close();
  });
}

function knexCase(client: "pg" | "mysql2" | "mssql", engine: Engine, sql = "select 1"): Case {
  return {
    name: `knex (${client}) destroy()`,
    engine,
    async open(options) {
      const connection = (
        client === "mssql" ? { options: tds() } : { ssl: harness.tls }
      ) as Knex.StaticConnectionConfig;
      const db = knex(withKnexEntra({ client, connection, pool: { min: 0, max: 3 } }, options));
      return {
        use: () =>
          onTwo(
            () => db.client.acquireConnection(),
            (c) => db.raw(sql).connection(c),
            (c) => db.client.releaseConnection(c),
          ),
        end: () => db.destroy(),
      };
    },
  };
}

interface SequelizeManager {
  getConnection(options: { type: "read" | "write" }): Promise<unknown>;
  releaseConnection(connection: unknown): Promise<void>;
}

function sequelizeCase(dialect: "postgres" | "mysql" | "mariadb" | "mssql", engine: Engine): Case {
  return {
    name: `Sequelize (${dialect}) close()`,
    engine,
    async open(options) {
      const dialectOptions =
        dialect === "mssql"
          ? { options: tds() }
          : dialect === "mariadb"
            ? { ssl: { ...harness.tls }, connectTimeout: 10_000 }
            : { ssl: harness.tls };
      const sequelize = new Sequelize(
        withSequelizeEntra(
          {
            dialect,
            logging: false,
            pool: { min: 0, max: 3 },
            dialectOptions,
            ...({ databaseVersion: dialect === "postgres" ? "15.0.0" : "10.11.0" } as Options),
          },
          options,
        ),
      );
      const manager = sequelize.connectionManager as unknown as SequelizeManager;
      return {
        async use() {
          await onTwo(
            () => manager.getConnection({ type: "write" }),
            async () => {},
            (c) => manager.releaseConnection(c),
          );
          await sequelize.query("SELECT 1 AS one", { type: QueryTypes.SELECT });
        },
        end: () => sequelize.close(),
      };
    },
  };
}

function typeormCase(type: "postgres" | "mysql" | "mssql", engine: Engine): Case {
  return {
    name: `TypeORM 0.3 (${type}) destroy()`,
    engine,
    async open(options) {
      const connection = type === "mssql" ? { options: tds() } : { ssl: harness.tls, poolSize: 3 };
      const dataSource = new DataSource(withTypeormEntra({ type, ...connection } as never, options) as never);
      await dataSource.initialize();
      return {
        async use() {
          await Promise.all([dataSource.query("SELECT 1 AS one"), dataSource.query("SELECT 1 AS one")]);
          if (type === "mssql") return;
          await onTwo(
            async () => {
              const runner = dataSource.createQueryRunner();
              await runner.connect();
              return runner;
            },
            (runner) => runner.query("SELECT 1 AS one"),
            (runner) => runner.release(),
          );
        },
        end: () => dataSource.destroy(),
      };
    },
  };
}

const SELECT_1 = { sql: "SELECT 1 AS one", args: [], argTypes: [] } as never;

function prismaCase(provider: "postgresql" | "mysql" | "sqlserver", engine: Engine): Case {
  return {
    name: `Prisma (${provider}) $disconnect (adapter.dispose())`,
    engine,
    async open(options) {
      const config =
        provider === "postgresql"
          ? { provider, ssl: harness.tls, max: 3 }
          : provider === "mysql"
            ? { provider, ssl: harness.tls, connectionLimit: 3, pingTimeout: 10_000 }
            : { provider, options: tds() };
      const adapter = await createEntraAdapter(config as never, options).connect();
      return {
        async use() {
          await adapter.queryRaw(SELECT_1);
          if (provider === "sqlserver") {
            await Promise.all([adapter.queryRaw(SELECT_1), adapter.queryRaw(SELECT_1)]);
            return;
          }
          // Each transaction checks a connection out of the pool: two at once need two connections.
          await onTwo(
            () => adapter.startTransaction(),
            (transaction) => transaction.queryRaw(SELECT_1),
            (transaction) => transaction.commit(),
          );
        },
        // What PrismaClient.$disconnect() calls.
        end: () => adapter.dispose(),
      };
    },
  };
}

const cases: Case[] = [
  {
    name: "pg Pool end()",
    engine: "postgresql",
    async open(options) {
      const pool = new pg.Pool(withPgEntra({ ssl: harness.tls, max: 3 }, options));
      return {
        use: () =>
          onTwo(
            () => pool.connect(),
            (client) => client.query("select 1"),
            (client) => client.release(),
          ),
        end: () => pool.end(),
      };
    },
  },
  {
    name: "mysql2 pool end()",
    engine: "mysql",
    async open(options) {
      const pool = mysql.createPool(withMysql2Entra({ ssl: harness.tls, connectionLimit: 3 }, options));
      return {
        use: () =>
          onTwo(
            () => pool.getConnection(),
            (connection) => connection.query("select 1"),
            (connection) => connection.release(),
          ),
        end: () => pool.end(),
      };
    },
  },
  knexCase("pg", "postgresql"),
  knexCase("mysql2", "mysql"),
  sequelizeCase("postgres", "postgresql"),
  sequelizeCase("mysql", "mysql"),
  sequelizeCase("mariadb", "mysql"),
  typeormCase("postgres", "postgresql"),
  typeormCase("mysql", "mysql"),
  prismaCase("postgresql", "postgresql"),
  prismaCase("mysql", "mysql"),
  {
    name: "mssql ConnectionPool close()",
    engine: "sqlserver",
    async open(options) {
      const pool = await new mssql.ConnectionPool(
        withMssqlEntra({ options: tds(), pool: { min: 0, max: 3 } }, options),
      ).connect();
      return {
        async use() {
          await Promise.all([
            pool.request().query("SELECT 1 AS one"),
            pool.request().query("SELECT 1 AS one"),
          ]);
        },
        end: () => pool.close(),
      };
    },
  },
  {
    name: "tedious Connection close() (with holdWhileConnected)",
    engine: "sqlserver",
    async open(options) {
      const config = withTediousEntra({ options: tds() }, options);
      const connections = [new Connection(config), new Connection(config)].map((c) => holdWhileConnected(c));
      return {
        async use() {
          await Promise.all(connections.map(tediousConnect));
          await Promise.all(connections.map((c) => tediousQuery(c, "SELECT 1 AS one")));
        },
        end: async () => {
          await Promise.all(connections.map(tediousClose));
        },
      };
    },
  },
  knexCase("mssql", "sqlserver", "SELECT 1 AS one"),
  sequelizeCase("mssql", "sqlserver"),
  typeormCase("mssql", "sqlserver"),
  prismaCase("sqlserver", "sqlserver"),
];

interface Outcome {
  readonly credential: TokenCredential & { calls: number };
  readonly provider: EntraTokenProvider;
  readonly holdsOpen: number;
  readonly holdsAtEnd: number;
  readonly closeMs: number;
  readonly callsAtEnd: number;
}

const outcomes = new Map<string, Outcome>();

describe("ending a pool with the library's own method releases the shared provider", () => {
  it.each(cases)("$name", async ({ name, engine, open }) => {
    const credential = countingCredential();
    const opened = await open({ credential });
    await opened.use();
    const provider = getSharedTokenProvider({ credential, scope: scopeFor(engine, "localhost") });
    const holdsOpen = provider.stats.holds;
    expect(holdsOpen, "holds while the pool has open connections").toBeGreaterThan(0);
    await opened.end();
    const holdsAtEnd = provider.stats.holds;
    const ended = Date.now();
    await vi.waitFor(() => expect(provider.stats.holds).toBe(0), { timeout: CLOSE_WAIT_IN_MS, interval: 2 });
    outcomes.set(name, {
      credential,
      provider,
      holdsOpen,
      holdsAtEnd,
      closeMs: Date.now() - ended,
      callsAtEnd: credential.calls,
    });
  });

  it("after the ends, no provider calls the identity endpoint again, past every refresh point and expiry", async () => {
    expect(outcomes.size).toBe(cases.length);
    const requestsAfterEnds = harness.emulator.counters.tokenRequests;
    // The last token any of them holds expires by then; an unheld provider never refreshes it.
    const expiries = [...outcomes.values()].map((o) => o.provider.stats.expiresOnTimestamp ?? 0);
    const waitUntil = Math.max(...expiries) + 1_000;
    // Positive control: a pool left open keeps its provider refreshing in the background.
    const control = countingCredential();
    const pool = new pg.Pool(withPgEntra({ ssl: harness.tls, max: 1 }, { credential: control }));
    await pool.query("select 1");
    const controlCallsBefore = control.calls;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, waitUntil - Date.now())));
    const controlRefreshes = control.calls - controlCallsBefore;
    await pool.end();

    const rows = [...outcomes].map(([name, o]) => ({
      name,
      holdsOpen: o.holdsOpen,
      holdsAtEnd: o.holdsAtEnd,
      closeMs: o.closeMs,
      requestsAfterEnd: o.credential.calls - o.callsAtEnd,
      refreshesWhileOpen: o.provider.stats.refreshes,
    }));
    console.info(
      `pool lifecycle (token lifetime ${TOKEN_LIFETIME_IN_SECONDS} s):\n` +
        rows
          .map(
            (r) =>
              `  ${r.name}: holds open ${r.holdsOpen}, at end() ${r.holdsAtEnd} (0 after ${r.closeMs} ms), ` +
              `token requests after end ${r.requestsAfterEnd}`,
          )
          .join("\n") +
        `\n  emulator token requests after the ends: ${harness.emulator.counters.tokenRequests - requestsAfterEnds},` +
        ` all from the control pool left open (${control.calls}: its first token and ${controlRefreshes} background refresh(es))`,
    );
    for (const row of rows) expect(row.requestsAfterEnd, row.name).toBe(0);
    expect(controlRefreshes).toBeGreaterThan(0);
    // Every request the emulator saw after the ends came from the control pool.
    expect(harness.emulator.counters.tokenRequests - requestsAfterEnds).toBe(control.calls);
    outcomes.clear();
  });
});

describe("providers of ended pools are garbage-collected", () => {
  const POOLS = 200;

  /** One pool with a credential of its own: one query, end(), and only weak references kept. */
  async function usePool(): Promise<{ credential: WeakRef<object>; provider: WeakRef<object> }> {
    const credential = countingCredential();
    const pool = new pg.Pool(withPgEntra({ ssl: harness.tls, max: 1 }, { credential }));
    await pool.query("select 1");
    const provider = getSharedTokenProvider({ credential, scope: scopeFor("postgresql", "localhost") });
    expect(provider.stats.holds).toBe(1);
    await pool.end();
    await vi.waitFor(() => expect(provider.stats.holds).toBe(0), { timeout: CLOSE_WAIT_IN_MS, interval: 2 });
    return { credential: new WeakRef(credential), provider: new WeakRef(provider) };
  }

  it(`${POOLS} pg pools with distinct credentials: after end(), every credential and provider is collected`, async () => {
    const refs: { credential: WeakRef<object>; provider: WeakRef<object> }[] = [];
    for (let batch = 0; batch < POOLS / 20; batch++) {
      refs.push(...(await Promise.all(Array.from({ length: 20 }, usePool))));
    }
    v8.setFlagsFromString("--expose-gc");
    const gc = vm.runInNewContext("gc") as () => void;
    // Several rounds: finalizers (of holds, timers, registry entries) run between GCs. A WeakRef
    // read keeps its target alive until the end of the job, so each gc() runs in a job of its own
    // and the refs are read only after the last one.
    for (let round = 0; round < 8; round++) {
      await new Promise((resolve) => setImmediate(resolve));
      gc();
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const credentialsAlive = refs.filter((ref) => ref.credential.deref() !== undefined).length;
    const providersAlive = refs.filter((ref) => ref.provider.deref() !== undefined).length;
    console.info(
      `pool lifecycle GC: ${POOLS - credentialsAlive} of ${POOLS} credentials and ` +
        `${POOLS - providersAlive} of ${POOLS} providers collected`,
    );
    expect(credentialsAlive).toBe(0);
    expect(providersAlive).toBe(0);
  });
});
