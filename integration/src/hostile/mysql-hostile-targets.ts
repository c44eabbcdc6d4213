import "reflect-metadata";
import type { EntraOptions } from "@org/entra-core";
import { withEntra as withKnexEntra } from "@org/knex-entra";
import { withEntra as withMysql2Entra } from "@org/mysql2-entra";
import { createEntraAdapter } from "@org/prisma-entra";
import { withEntra as withSequelizeEntra } from "@org/sequelize-entra";
import { withEntra as withTypeormEntra } from "@org/typeorm-entra";
import mariadbLatest from "mariadb";
import mariadb345 from "mariadb345";
import mysql from "mysql2/promise";
import { type HostileAddress, type HostileTarget, hostileTarget } from "./hostile-matrix.js";
import { authenticateSequelize, knexQuery, openDataSource, TYPEORM_MAJORS } from "./open-and-close.js";
import { proxyHostileTarget } from "./proxy-hostile-targets.js";

/** How a setting reaches an adapter: an `ssl` value (absent for the defaults) or a connection URL. */
interface MysqlTls {
  readonly ssl?: boolean | Record<string, unknown>;
  readonly url?: string;
}

/** The TLS settings users write for MySQL (Azure's Node.js sample passes `ssl: { ca }`). */
const TLS_SETTINGS = {
  defaults: (): MysqlTls => ({}),
  "ssl: true": (): MysqlTls => ({ ssl: true }),
  "ssl: {} (chain only in plain mysql2)": (): MysqlTls => ({ ssl: {} }),
  "ssl: { ca }": (server: HostileAddress): MysqlTls => ({ ssl: { ca: server.ca } }),
  "ssl: { ca, checkServerIdentity }": (server: HostileAddress): MysqlTls => ({
    ssl: { ca: server.ca, checkServerIdentity: () => undefined },
  }),
};

/** For the adapters that take a URL. */
const URL_SETTING = {
  "connection URL (mysql://user@host:port/db)": (server: HostileAddress): MysqlTls => ({
    url: `mysql://hostile-canary@${server.host}:${server.port}/test`,
  }),
};

type Connect = (server: HostileAddress, tls: MysqlTls, options: EntraOptions) => Promise<unknown>;

function target(name: string, connect: Connect, acceptsUrl: boolean): HostileTarget {
  return hostileTarget({
    name,
    engine: "mysql",
    tlsSettings: acceptsUrl ? { ...TLS_SETTINGS, ...URL_SETTING } : TLS_SETTINGS,
    connect,
    refusedUpFront: ["ssl: { ca, checkServerIdentity }"],
  });
}

const fields = (server: HostileAddress) => ({ host: server.host, port: server.port, database: "test" });

/** Sequelize's mariadb dialect with a given copy of the mariadb connector. */
function sequelizeMariadb(version: string, module: object): HostileTarget {
  return target(
    `sequelize (mariadb, connector ${version})`,
    (server, { ssl }, options) =>
      authenticateSequelize(
        withSequelizeEntra(
          {
            dialect: "mariadb",
            dialectModule: module,
            ...fields(server),
            dialectOptions: { connectTimeout: 5_000, ...(ssl === undefined ? {} : { ssl }) },
          },
          options,
        ),
      ),
    false,
  );
}

export const mysqlHostileTargets: readonly HostileTarget[] = [
  target(
    "mysql2",
    async (server, { ssl, url }, options) => {
      const config = url ? { uri: url } : { ...fields(server), ...(ssl === undefined ? {} : { ssl }) };
      const connection = await mysql.createConnection({
        ...withMysql2Entra(config as mysql.ConnectionOptions, options),
        connectTimeout: 5_000,
      });
      try {
        await connection.query("select 1");
      } finally {
        await connection.end().catch(() => {});
      }
    },
    true,
  ),
  target(
    "knex (mysql2)",
    async (server, { ssl, url }, options) => {
      const connection = url ?? { ...fields(server), ...(ssl === undefined ? {} : { ssl }) };
      await knexQuery(withKnexEntra({ client: "mysql2", connection }, options), "select 1");
    },
    true,
  ),
  target(
    "sequelize (mysql)",
    (server, { ssl }, options) =>
      authenticateSequelize(
        withSequelizeEntra(
          { dialect: "mysql", ...fields(server), dialectOptions: ssl === undefined ? {} : { ssl } },
          options,
        ),
      ),
    false,
  ),
  sequelizeMariadb(mariadb345.version, mariadb345),
  sequelizeMariadb(mariadbLatest.version, mariadbLatest),
  ...TYPEORM_MAJORS.map(([major, DataSource]) =>
    target(
      `${major} (mysql)`,
      (server, { ssl, url }, options) =>
        openDataSource(
          DataSource,
          withTypeormEntra(
            url
              ? { type: "mysql", url, poolSize: 1, connectTimeout: 5_000 }
              : {
                  type: "mysql",
                  ...fields(server),
                  poolSize: 1,
                  connectTimeout: 5_000,
                  ...(ssl === undefined ? {} : { ssl }),
                },
            options,
          ),
        ),
      true,
    ),
  ),
  target(
    "prisma (adapter-mariadb, its pinned connector)",
    async (server, { ssl }, options) => {
      const factory = createEntraAdapter(
        {
          provider: "mysql",
          ...fields(server),
          ...(ssl === undefined ? {} : { ssl }),
          connectionLimit: 1,
          connectTimeout: 5_000,
          acquireTimeout: 6_000,
        },
        options,
      );
      const adapter = await factory.connect();
      try {
        await adapter.queryRaw({ sql: "select 1", args: [], argTypes: [] });
      } finally {
        await adapter.dispose();
      }
    },
    false,
  ),
  proxyHostileTarget("mysql"),
];
