import "reflect-metadata";
import { withEntra as withKnexEntra } from "@org/knex-entra";
import { withEntra as withMysql2Entra } from "@org/mysql2-entra";
import { createEntraAdapter } from "@org/prisma-entra";
import { withEntra as withSequelizeEntra } from "@org/sequelize-entra";
import { withEntra as withTypeormEntra } from "@org/typeorm-entra";
import mariadbLatest from "mariadb";
import mariadb345 from "mariadb345";
import mysql from "mysql2/promise";
import type { HostileAddress, HostileAttempt, HostileTarget } from "./hostile-matrix.js";
import { authenticateSequelize, knexQuery, openDataSource, TYPEORM_MAJORS } from "./open-and-close.js";

/** The TLS settings users write for MySQL (Azure's Node.js sample passes `ssl: { ca }`). */
const SSL_SETTINGS = {
  defaults: () => undefined,
  "ssl: true": () => true,
  "ssl: {} (chain only in plain mysql2)": () => ({}),
  "ssl: { ca }": (server: HostileAddress) => ({ ca: server.ca }),
  "ssl: { ca, checkServerIdentity }": (server: HostileAddress) => ({
    ca: server.ca,
    checkServerIdentity: () => undefined,
  }),
} as const;

const REFUSED_UP_FRONT = ["ssl: { ca, checkServerIdentity }"];

type SslValue = ReturnType<(typeof SSL_SETTINGS)[keyof typeof SSL_SETTINGS]>;
type Connect = (
  server: HostileAddress,
  tls: { ssl?: SslValue; url?: string },
  options: Parameters<HostileAttempt>[1],
) => Promise<unknown>;

function target(name: string, connect: Connect, acceptsUrl: boolean): HostileTarget {
  const settings: Record<string, HostileAttempt> = {};
  for (const [setting, ssl] of Object.entries(SSL_SETTINGS)) {
    settings[setting] = (server, options) => {
      const value = ssl(server);
      return connect(server, value === undefined ? {} : { ssl: value }, options);
    };
  }
  if (acceptsUrl) {
    settings["connection URL (mysql://user@host:port/db)"] = (server, options) =>
      connect(server, { url: `mysql://hostile-canary@${server.host}:${server.port}/test` }, options);
  }
  return {
    name,
    engine: "mysql",
    settings: settings as HostileTarget["settings"],
    refusedUpFront: REFUSED_UP_FRONT,
  };
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
];
