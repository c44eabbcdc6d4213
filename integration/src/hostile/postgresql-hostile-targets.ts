import "reflect-metadata";
import type { EntraOptions } from "@org/entra-core";
import { withEntra as withKnexEntra } from "@org/knex-entra";
import { withEntra as withPgEntra } from "@org/pg-entra";
import { withEntra as withPostgresEntra } from "@org/postgres-entra";
import { createEntraAdapter } from "@org/prisma-entra";
import { withEntra as withSequelizeEntra } from "@org/sequelize-entra";
import { withEntra as withTypeormEntra } from "@org/typeorm-entra";
import pg from "pg";
import postgres from "postgres";
import { type HostileAddress, type HostileTarget, hostileTarget } from "./hostile-matrix.js";
import { authenticateSequelize, knexQuery, openDataSource, TYPEORM_MAJORS } from "./open-and-close.js";
import { proxyHostileTarget } from "./proxy-hostile-targets.js";

/** How a setting reaches an adapter: an `ssl` value (absent for the defaults) or a connection URL. */
interface PgTls {
  readonly ssl?: boolean | Record<string, unknown>;
  readonly url?: string;
}

/** The TLS settings users write for PostgreSQL, including the Azure portal's connection string. */
const TLS_SETTINGS = {
  defaults: (): PgTls => ({}),
  "ssl: true": (): PgTls => ({ ssl: true }),
  "ssl: { ca }": (server: HostileAddress): PgTls => ({ ssl: { ca: server.ca } }),
  "ssl: { ca, checkServerIdentity }": (server: HostileAddress): PgTls => ({
    ssl: { ca: server.ca, checkServerIdentity: () => undefined },
  }),
  // The portal's libpq URL for PostgreSQL flexible server.
  "portal connection string (sslmode=require)": (server: HostileAddress): PgTls => ({
    url: `postgresql://hostile-canary@${server.host}:${server.port}/postgres?sslmode=require`,
  }),
};

/** One target per adapter: `connect(server, { ssl } | { url }, options)` opens, queries, closes. */
function target(
  name: string,
  connect: (server: HostileAddress, tls: PgTls, options: EntraOptions) => Promise<unknown>,
): HostileTarget {
  return hostileTarget({
    name,
    engine: "postgresql",
    tlsSettings: TLS_SETTINGS,
    connect,
    refusedUpFront: ["ssl: { ca, checkServerIdentity }"],
  });
}

const CONNECT_TIMEOUT_IN_MS = 10_000;

export const postgresqlHostileTargets: readonly HostileTarget[] = [
  target("pg", async (server, { ssl, url }, options) => {
    const config = url
      ? { connectionString: url }
      : { host: server.host, port: server.port, database: "postgres", ...(ssl === undefined ? {} : { ssl }) };
    const client = new pg.Client({
      ...withPgEntra(config, options),
      connectionTimeoutMillis: CONNECT_TIMEOUT_IN_MS,
    });
    try {
      await client.connect();
      await client.query("select 1");
    } finally {
      await client.end().catch(() => {});
    }
  }),
  target("knex (pg)", async (server, { ssl, url }, options) => {
    const connection = url
      ? url
      : { host: server.host, port: server.port, database: "postgres", ...(ssl === undefined ? {} : { ssl }) };
    await knexQuery(withKnexEntra({ client: "pg", connection }, options), "select 1");
  }),
  target("sequelize (postgres)", async (server, { ssl, url }, options) => {
    const fields = url ? fromUrl(url) : { host: server.host, port: server.port, database: "postgres" };
    const dialectOptions = url ? { ssl: true } : ssl === undefined ? {} : { ssl };
    await authenticateSequelize(
      withSequelizeEntra({ dialect: "postgres", ...fields, dialectOptions }, options),
    );
  }),
  ...TYPEORM_MAJORS.map(([major, DataSource]) =>
    target(`${major} (postgres)`, (server, { ssl, url }, options) =>
      openDataSource(
        DataSource,
        withTypeormEntra(
          url
            ? { type: "postgres", url, poolSize: 1 }
            : {
                type: "postgres",
                host: server.host,
                port: server.port,
                database: "postgres",
                poolSize: 1,
                ...(ssl === undefined ? {} : { ssl }),
              },
          options,
        ),
      ),
    ),
  ),
  target("prisma (adapter-pg)", async (server, { ssl, url }, options) => {
    const config = url
      ? { provider: "postgresql" as const, connectionString: url, max: 1 }
      : {
          provider: "postgresql" as const,
          host: server.host,
          port: server.port,
          database: "postgres",
          max: 1,
          connectionTimeoutMillis: CONNECT_TIMEOUT_IN_MS,
          ...(ssl === undefined ? {} : { ssl }),
        };
    const adapter = await createEntraAdapter(config, options).connect();
    try {
      await adapter.queryRaw({ sql: "select 1", args: [], argTypes: [] });
    } finally {
      await adapter.dispose();
    }
  }),
  hostileTarget<{ readonly ssl?: PgTls["ssl"] | "require" | "verify-full"; readonly url?: string }>({
    name: "postgres.js",
    engine: "postgresql",
    // postgres.js's own strings too: "require" skips the certificate check in postgres.js itself.
    tlsSettings: {
      ...TLS_SETTINGS,
      'ssl: "require"': () => ({ ssl: "require" }),
      'ssl: "verify-full"': () => ({ ssl: "verify-full" }),
    },
    refusedUpFront: ["ssl: { ca, checkServerIdentity }"],
    async connect(server, { ssl, url }, options) {
      const config = withPostgresEntra(
        url ?? {
          host: server.host,
          port: server.port,
          database: "postgres",
          ...(ssl === undefined ? {} : { ssl }),
        },
        options,
      );
      const sql = postgres({
        ...config,
        max: 1,
        connect_timeout: CONNECT_TIMEOUT_IN_MS / 1000,
        onnotice: () => {},
      });
      try {
        await sql`select 1`;
      } finally {
        await sql.end({ timeout: 0 }).catch(() => {});
      }
    },
  }),
  proxyHostileTarget("postgresql"),
];

/** Sequelize takes no URL in its options: the fields of the portal's URL, as a user copies them. */
function fromUrl(url: string): { host: string; port: number; database: string; username: string } {
  const parsed = new URL(url);
  return {
    host: parsed.hostname,
    port: Number(parsed.port),
    database: parsed.pathname.slice(1),
    username: decodeURIComponent(parsed.username),
  };
}
