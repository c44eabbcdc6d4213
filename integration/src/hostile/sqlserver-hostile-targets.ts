import "reflect-metadata";
import type { EntraOptions } from "@org/entra-core";
import { withEntra as withKnexEntra } from "@org/knex-entra";
import { withEntra as withMssqlEntra } from "@org/mssql-entra";
import { createEntraAdapter } from "@org/prisma-entra";
import { withEntra as withSequelizeEntra } from "@org/sequelize-entra";
import { withEntra as withTediousEntra } from "@org/tedious-entra";
import { withEntra as withTypeormEntra } from "@org/typeorm-entra";
import type { Knex } from "knex";
import mssql from "mssql";
import { Connection } from "tedious";
import {
  type HostileAddress,
  type HostileAttempt,
  type HostileTarget,
  hostileTarget,
} from "./hostile-matrix.js";
import { authenticateSequelize, knexQuery, openDataSource, TYPEORM_MAJORS } from "./open-and-close.js";
import { proxyHostileTarget } from "./proxy-hostile-targets.js";

/** The tedious `options` users write for Azure SQL (TLS-wise). */
const TLS_SETTINGS = {
  defaults: () => ({}),
  "encrypt: true (Encrypt=True)": () => ({ encrypt: true }),
  'encrypt: "strict"': () => ({ encrypt: "strict" }),
  "cryptoCredentialsDetails: { ca }": (server: HostileAddress) => ({
    cryptoCredentialsDetails: { ca: server.ca },
  }),
  "encrypt: true, cryptoCredentialsDetails: { ca }": (server: HostileAddress) => ({
    encrypt: true,
    cryptoCredentialsDetails: { ca: server.ca },
  }),
} as const;

type TediousTls = Record<string, unknown>;
type Connect = (server: HostileAddress, tls: TediousTls, options: EntraOptions) => Promise<unknown>;

function target(name: string, connect: Connect, extra: Record<string, HostileAttempt> = {}): HostileTarget {
  return hostileTarget<TediousTls>({ name, engine: "sqlserver", tlsSettings: TLS_SETTINGS, connect, extra });
}

function connectTedious(connection: Connection): Promise<void> {
  return new Promise((resolve, reject) => connection.connect((error) => (error ? reject(error) : resolve())));
}

/** The ADO.NET connection string the Azure portal prints for Entra authentication. */
function portalConnectionString(server: HostileAddress): string {
  return `Server=tcp:${server.host},${server.port};Initial Catalog=app;Persist Security Info=False;MultipleActiveResultSets=False;Encrypt=True;TrustServerCertificate=False;Connection Timeout=10;Authentication="Active Directory Default";`;
}

async function mssqlPool(config: mssql.config): Promise<void> {
  const pool = new mssql.ConnectionPool(config);
  try {
    await pool.connect();
    await pool.request().query("SELECT 1");
  } finally {
    await pool.close().catch(() => {});
  }
}

export const sqlserverHostileTargets: readonly HostileTarget[] = [
  target("tedious", async (server, tls, options) => {
    const connection = new Connection(
      withTediousEntra(
        {
          server: server.host,
          options: { port: server.port, database: "app", connectTimeout: 10_000, ...tls },
        },
        options,
      ),
    );
    connection.on("error", () => {});
    try {
      await connectTedious(connection);
    } finally {
      connection.close();
    }
  }),
  target(
    "mssql",
    (server, tls, options) =>
      mssqlPool(
        withMssqlEntra(
          {
            server: server.host,
            port: server.port,
            database: "app",
            connectionTimeout: 10_000,
            options: tls,
            pool: { min: 0, max: 1 },
          },
          options,
        ),
      ),
    {
      "portal connection string (Encrypt=True)": (server, options) =>
        mssqlPool(withMssqlEntra(portalConnectionString(server), options)),
    },
  ),
  target("knex (mssql)", async (server, tls, options) => {
    const connection = {
      server: server.host,
      port: server.port,
      database: "app",
      options: tls,
      connectionTimeout: 10_000,
    } as unknown as Knex.MsSqlConnectionConfig;
    await knexQuery(withKnexEntra({ client: "mssql", connection }, options), "SELECT 1");
  }),
  target("sequelize (mssql)", (server, tls, options) =>
    authenticateSequelize(
      withSequelizeEntra(
        {
          dialect: "mssql",
          host: server.host,
          port: server.port,
          database: "app",
          dialectOptions: { options: { connectTimeout: 10_000, ...tls } },
        },
        options,
      ),
    ),
  ),
  ...TYPEORM_MAJORS.map(([major, DataSource]) =>
    target(`${major} (mssql)`, (server, tls, options) =>
      openDataSource(
        DataSource,
        withTypeormEntra(
          {
            type: "mssql",
            host: server.host,
            port: server.port,
            database: "app",
            connectionTimeout: 10_000,
            options: tls,
            pool: { max: 1, min: 0 },
          } as never,
          options,
        ),
      ),
    ),
  ),
  target("prisma (adapter-mssql)", async (server, tls, options) => {
    const factory = createEntraAdapter(
      {
        provider: "sqlserver",
        server: server.host,
        port: server.port,
        database: "app",
        connectionTimeout: 10_000,
        options: tls,
      } as never,
      options,
    );
    const adapter = await factory.connect();
    try {
      await adapter.queryRaw({ sql: "SELECT 1", args: [], argTypes: [] } as never);
    } finally {
      await adapter.dispose();
    }
  }),
  proxyHostileTarget("sqlserver"),
];
