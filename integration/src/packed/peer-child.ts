/**
 * The app a user would write, run by peer-ranges.packed.test.ts with Node's own type stripping
 * (Node >= 22.18) from a clean npm project that holds the packed @org tarballs and one version of
 * each peer. It gets the emulator's environment (identity endpoint, NODE_EXTRA_CA_CERTS,
 * AZURE_POSTGRESQL_* / AZURE_MYSQL_* / AZURE_SQL_*) and nothing else, and configures every adapter
 * the documented way: `withEntra(...)` / `createEntraAdapter(...)` with the Service Connector
 * variables, no credential passed.
 *
 * argv[2] is a JSON {@link PeerChildRequest}. Per engine of one adapter it runs, in this order:
 * 1. tls: the idiomatic "TLS off" config (`ssl: false`, `encrypt: false`) must be refused with
 *    EntraAuthError INSECURE_TRANSPORT. Then it tells the parent ("tls" message over IPC) and waits
 *    for its answer, so the parent can check that no token was requested and no login reached the
 *    emulator so far.
 * 2. login: a new connection per engine (all engines at once) returns the session's user.
 * 3. rotation: after `waitMs` (past the lifetime of the token used in 2 and the gateways' clock
 *    skew, so a reused token would be refused), a new connection per engine again.
 * Then it sends the "done" message with the {@link PeerChildReport} and exits.
 *
 * Only erasable TypeScript syntax here: Node runs this file as it is. It imports nothing relative.
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

/** What the parent asks for. */
export interface PeerChildRequest {
  readonly adapter: string;
  readonly engines: readonly string[];
  /** The peers whose resolved versions to report, as seen from the adapter package. */
  readonly peers: readonly string[];
  readonly waitMs: number;
}

/** How one step ended: the session user, or the error (name, code, message). */
export type StepOutcome =
  | { readonly ok: true; readonly user: string }
  | { readonly ok: false; readonly name: string; readonly code?: string; readonly message: string };

/** What the child sends back with the "done" message. */
export interface PeerChildReport {
  readonly adapter: string;
  /** peer -> version resolved from the adapter package's folder (node_modules lookup). */
  readonly versions: Record<string, string | null>;
  readonly engines: Record<string, { tls: StepOutcome; login: StepOutcome; rotation: StepOutcome }>;
}

/** A user app's view of one adapter x engine. */
interface EngineApp {
  /** Opens a NEW connection, asks the server who the session is, closes it. */
  whoAmI(): Promise<string>;
  /** Builds the idiomatic insecure config and uses it the way `whoAmI` does; must throw. */
  insecure(): Promise<unknown>;
}

// biome-ignore lint/suspicious/noExplicitAny: the packages are loaded at run time, at any version.
type Loose = any;

const WHO_AM_I = {
  postgresql: "select current_user as user",
  mysql: "select substring_index(current_user(), '@', 1) as user",
  mariadb: "select substring_index(current_user(), '@', 1) as user",
  sqlserver: "SELECT SUSER_SNAME() AS [user]",
} as const;

type Engine = keyof typeof WHO_AM_I;

/** A package as an app sees it: ESM named exports, or a CommonJS package's `module.exports`. */
const load = async (name: string): Promise<Loose> => {
  const module = await import(name);
  return module.default ?? module;
};

function first(rows: Loose): string {
  const row = Array.isArray(rows) ? rows[0] : rows;
  return String(row?.user ?? row?.[0]);
}

async function pgApp(): Promise<Record<string, EngineApp>> {
  const { withEntra } = await load("@org/pg-entra");
  const pg = await load("pg");
  return {
    postgresql: {
      async whoAmI() {
        const client = new pg.Client(withEntra());
        await client.connect();
        try {
          return first((await client.query(WHO_AM_I.postgresql)).rows);
        } finally {
          await client.end();
        }
      },
      async insecure() {
        const client = new pg.Client(withEntra({ ssl: false }));
        await client.connect();
        await client.end();
      },
    },
  };
}

async function postgresApp(): Promise<Record<string, EngineApp>> {
  const { withEntra } = await load("@org/postgres-entra");
  const postgres = await load("postgres");
  return {
    postgresql: {
      async whoAmI() {
        const sql = postgres(withEntra({ max: 1 }));
        try {
          return first(await sql.unsafe(WHO_AM_I.postgresql));
        } finally {
          await sql.end();
        }
      },
      async insecure() {
        const sql = postgres(withEntra({ ssl: false }));
        await sql.end();
      },
    },
  };
}

async function mysql2App(): Promise<Record<string, EngineApp>> {
  const { withEntra } = await load("@org/mysql2-entra");
  const mysql = await load("mysql2/promise");
  return {
    mysql: {
      async whoAmI() {
        const connection = await mysql.createConnection(withEntra());
        try {
          const [rows] = await connection.query(WHO_AM_I.mysql);
          return first(rows);
        } finally {
          await connection.end();
        }
      },
      async insecure() {
        const connection = await mysql.createConnection(withEntra({ ssl: false }));
        await connection.end();
      },
    },
  };
}

async function knexApp(engines: readonly string[]): Promise<Record<string, EngineApp>> {
  const { withEntra } = await load("@org/knex-entra");
  const knex = await load("knex");
  const clients: Record<string, string> = { postgresql: "pg", mysql: "mysql2", sqlserver: "mssql" };
  const rowsOf = (client: string, result: Loose) =>
    client === "pg" ? result.rows : client === "mysql2" ? result[0] : result;
  const apps: Record<string, EngineApp> = {};
  for (const engine of engines) {
    const client = clients[engine] as string;
    const insecureConnection = client === "mssql" ? { options: { encrypt: false } } : { ssl: false };
    apps[engine] = {
      async whoAmI() {
        const db = knex(withEntra({ client, pool: { min: 0, max: 1 } }));
        try {
          return first(rowsOf(client, await db.raw(WHO_AM_I[engine as Engine])));
        } finally {
          await db.destroy();
        }
      },
      async insecure() {
        const db = knex(withEntra({ client, connection: insecureConnection, pool: { min: 0, max: 1 } }));
        try {
          await db.raw("select 1");
        } finally {
          await db.destroy();
        }
      },
    };
  }
  return apps;
}

async function sequelizeApp(engines: readonly string[]): Promise<Record<string, EngineApp>> {
  const { withEntra } = await load("@org/sequelize-entra");
  const { Sequelize } = await load("sequelize");
  const dialects: Record<string, string> = {
    postgresql: "postgres",
    mysql: "mysql",
    mariadb: "mariadb",
    sqlserver: "mssql",
  };
  // The mariadb connector's connectTimeout defaults to 1 s: too short for a TLS login on a busy CI box.
  const driverOptions = (engine: string) => (engine === "mariadb" ? { connectTimeout: 10_000 } : {});
  const apps: Record<string, EngineApp> = {};
  for (const engine of engines) {
    const dialect = dialects[engine] as string;
    const insecureDriver = dialect === "mssql" ? { options: { encrypt: false } } : { ssl: false };
    const use = async (options: object) => {
      const sequelize = new Sequelize(withEntra({ dialect, logging: false, ...options }));
      try {
        // A raw query, as most apps write it: [rows, metadata].
        const [rows] = await sequelize.query(WHO_AM_I[engine as Engine]);
        return first(rows);
      } finally {
        await sequelize.close();
      }
    };
    apps[engine] = {
      whoAmI: () => use({ dialectOptions: driverOptions(engine) }),
      insecure: () => use({ dialectOptions: { ...driverOptions(engine), ...insecureDriver } }),
    };
  }
  return apps;
}

async function typeormApp(engines: readonly string[]): Promise<Record<string, EngineApp>> {
  await import("reflect-metadata").catch(() => {});
  const { withEntra } = await load("@org/typeorm-entra");
  const { DataSource } = await load("typeorm");
  const types: Record<string, string> = { postgresql: "postgres", mysql: "mysql", sqlserver: "mssql" };
  const apps: Record<string, EngineApp> = {};
  for (const engine of engines) {
    const type = types[engine] as string;
    const insecureOptions = type === "mssql" ? { options: { encrypt: false } } : { ssl: false };
    const use = async (options: object) => {
      const dataSource = new DataSource(withEntra({ type, poolSize: 1, ...options }));
      await dataSource.initialize();
      try {
        return first(await dataSource.query(WHO_AM_I[engine as Engine]));
      } finally {
        await dataSource.destroy();
      }
    };
    apps[engine] = { whoAmI: () => use({}), insecure: () => use(insecureOptions) };
  }
  return apps;
}

async function prismaApp(engines: readonly string[]): Promise<Record<string, EngineApp>> {
  const { createEntraAdapter } = await load("@org/prisma-entra");
  const providers: Record<string, string> = {
    postgresql: "postgresql",
    mysql: "mysql",
    sqlserver: "sqlserver",
  };
  const apps: Record<string, EngineApp> = {};
  for (const engine of engines) {
    const provider = providers[engine] as string;
    const insecureConfig = provider === "sqlserver" ? { options: { encrypt: false } } : { ssl: false };
    // What PrismaClient does with the factory: connect(), queryRaw(...), dispose().
    const use = async (config: object) => {
      const adapter = await createEntraAdapter({ provider, ...config }).connect();
      try {
        const result = await adapter.queryRaw({ sql: WHO_AM_I[engine as Engine], args: [], argTypes: [] });
        return String(result.rows[0]?.[0]);
      } finally {
        await adapter.dispose();
      }
    };
    apps[engine] = { whoAmI: () => use({}), insecure: () => use(insecureConfig) };
  }
  return apps;
}

async function tediousApp(): Promise<Record<string, EngineApp>> {
  const { withEntra } = await load("@org/tedious-entra");
  const { Connection, Request } = await load("tedious");
  const use = (config: object) =>
    new Promise<string>((resolve, reject) => {
      const connection = new Connection(config);
      let user = "";
      const finish = (error: Error | undefined) => {
        connection.once("end", () => (error ? reject(error) : resolve(user)));
        connection.close();
      };
      connection.connect((error: Error | undefined) => {
        if (error) return reject(error);
        const request = new Request(WHO_AM_I.sqlserver, (failure: Error | undefined) => finish(failure));
        request.on("row", (columns: Loose) => {
          user = String(columns[0]?.value);
        });
        connection.execSql(request);
      });
    });
  return {
    sqlserver: {
      whoAmI: () => use(withEntra()),
      insecure: async () => use(withEntra({ options: { encrypt: false } })),
    },
  };
}

async function mssqlApp(): Promise<Record<string, EngineApp>> {
  const { withEntra } = await load("@org/mssql-entra");
  const mssql = await load("mssql");
  const use = async (config: object) => {
    const pool = new mssql.ConnectionPool(config);
    await pool.connect();
    try {
      return first((await pool.request().query(WHO_AM_I.sqlserver)).recordset);
    } finally {
      await pool.close();
    }
  };
  return {
    sqlserver: {
      whoAmI: () => use(withEntra({ pool: { min: 0, max: 1 } })),
      insecure: async () => use(withEntra({ options: { encrypt: false }, pool: { min: 0, max: 1 } })),
    },
  };
}

const APPS: Record<string, (engines: readonly string[]) => Promise<Record<string, EngineApp>>> = {
  "@org/pg-entra": pgApp,
  "@org/postgres-entra": postgresApp,
  "@org/mysql2-entra": mysql2App,
  "@org/knex-entra": knexApp,
  "@org/sequelize-entra": sequelizeApp,
  "@org/typeorm-entra": typeormApp,
  "@org/prisma-entra": prismaApp,
  "@org/tedious-entra": tediousApp,
  "@org/mssql-entra": mssqlApp,
};

/** The version of `peer` that `require` would find from the adapter package (exports ignored). */
function resolvedVersion(adapter: string, peer: string): string | null {
  const adapterManifest = createRequire(join(process.cwd(), "noop.js")).resolve(`${adapter}/package.json`);
  for (let dir = dirname(adapterManifest); ; dir = dirname(dir)) {
    const manifest = join(dir, "node_modules", peer, "package.json");
    if (existsSync(manifest)) return JSON.parse(readFileSync(manifest, "utf8")).version;
    if (dirname(dir) === dir) return null;
  }
}

async function outcome(step: () => Promise<unknown>): Promise<StepOutcome> {
  try {
    return { ok: true, user: String(await step()) };
  } catch (error) {
    const e = error as { name?: string; code?: unknown; message?: string };
    return {
      ok: false,
      name: String(e?.name),
      ...(typeof e?.code === "string" ? { code: e.code } : {}),
      message: String(e?.message ?? error).slice(0, 600),
    };
  }
}

function ask(message: object): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!process.send) return reject(new Error("peer-child needs an IPC channel to its parent"));
    process.once("message", () => resolve());
    process.send(message);
  });
}

async function main(): Promise<void> {
  const request = JSON.parse(process.argv[2] ?? "{}") as PeerChildRequest;
  const versions = Object.fromEntries(
    request.peers.map((peer) => [peer, resolvedVersion(request.adapter, peer)]),
  );
  const build = APPS[request.adapter];
  if (!build) throw new Error(`peer-child: unknown adapter ${request.adapter}`);
  const apps = await build(request.engines);
  const tls: Record<string, StepOutcome> = {};
  for (const engine of request.engines)
    tls[engine] = await outcome(() => (apps[engine] as EngineApp).insecure());
  await ask({ phase: "tls" });
  const run = (engine: string) => outcome(() => (apps[engine] as EngineApp).whoAmI());
  const login = await Promise.all(request.engines.map(run));
  await new Promise((resolve) => setTimeout(resolve, request.waitMs));
  const rotation = await Promise.all(request.engines.map(run));
  const report: PeerChildReport = {
    adapter: request.adapter,
    versions,
    engines: Object.fromEntries(
      request.engines.map((engine, i) => [
        engine,
        {
          tls: tls[engine] as StepOutcome,
          login: login[i] as StepOutcome,
          rotation: rotation[i] as StepOutcome,
        },
      ]),
    ),
  };
  await ask({ phase: "done", report });
  process.exit(0);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
