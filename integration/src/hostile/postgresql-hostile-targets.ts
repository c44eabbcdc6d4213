import "reflect-metadata";
import { withEntra as withKnexEntra } from "@org/knex-entra";
import { withEntra as withPgEntra } from "@org/pg-entra";
import { createEntraAdapter } from "@org/prisma-entra";
import { withEntra as withSequelizeEntra } from "@org/sequelize-entra";
import { withEntra as withTypeormEntra } from "@org/typeorm-entra";
import pg from "pg";
import type { HostileAddress, HostileAttempt, HostileTarget } from "./hostile-matrix.js";
import { authenticateSequelize, knexQuery, openDataSource, TYPEORM_MAJORS } from "./open-and-close.js";

/** The TLS settings users write for PostgreSQL, as the `ssl` value (or its absence). */
const SSL_SETTINGS = {
  defaults: () => undefined,
  "ssl: true": () => true,
  "ssl: { ca }": (server: HostileAddress) => ({ ca: server.ca }),
  "ssl: { ca, checkServerIdentity }": (server: HostileAddress) => ({
    ca: server.ca,
    checkServerIdentity: () => undefined,
  }),
} as const;

/** Settings the adapters must refuse before any I/O. */
const REFUSED_UP_FRONT = ["ssl: { ca, checkServerIdentity }"];

/** The Azure portal's connection string for PostgreSQL flexible server (libpq URL form, `sslmode=require`). */
function portalUrl(server: HostileAddress): string {
  return `postgresql://hostile-canary@${server.host}:${server.port}/postgres?sslmode=require`;
}

type SslValue = ReturnType<(typeof SSL_SETTINGS)[keyof typeof SSL_SETTINGS]>;

/** One target per adapter: `connect(server, ssl | url, options)` opens, queries, closes. */
function target(
  name: string,
  connect: (
    server: HostileAddress,
    tls: { ssl?: SslValue; url?: string },
    options: Parameters<HostileAttempt>[1],
  ) => Promise<unknown>,
): HostileTarget {
  const settings: Record<string, HostileAttempt> = {};
  for (const [setting, ssl] of Object.entries(SSL_SETTINGS)) {
    settings[setting] = (server, options) => {
      const value = ssl(server);
      return connect(server, value === undefined ? {} : { ssl: value }, options);
    };
  }
  settings["portal connection string (sslmode=require)"] = (server, options) =>
    connect(server, { url: portalUrl(server) }, options);
  return {
    name,
    engine: "postgresql",
    settings: settings as HostileTarget["settings"],
    refusedUpFront: REFUSED_UP_FRONT,
  };
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
