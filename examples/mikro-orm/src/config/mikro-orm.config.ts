import { fileURLToPath } from "node:url";
import type { Options } from "@mikro-orm/core";
import { Migrator } from "@mikro-orm/migrations";
import { defineConfig as defineMySqlConfig } from "@mikro-orm/mysql";
import { defineConfig as definePostgreSqlConfig } from "@mikro-orm/postgresql";
import { withEntra as withMysql2Entra } from "@org/mysql2-entra";
import { withEntra as withPgEntra } from "@org/pg-entra";
import { Note } from "../entities/note.js";

/** The databases this example runs on, chosen with `DB_ENGINE` (`postgresql` unless it says `mysql`). */
export type Engine = "postgresql" | "mysql";

/** The engine `DB_ENGINE` names: `mysql`, or `postgresql` for anything else (and when unset). */
export function engineFromEnv(env: NodeJS.ProcessEnv = process.env): Engine {
  return env.DB_ENGINE === "mysql" ? "mysql" : "postgresql";
}

/** What both engines share: the entities and the migrator, with one migrations folder per engine. */
function common(engine: Engine) {
  return {
    entities: [Note],
    extensions: [Migrator],
    migrations: {
      path: fileURLToPath(new URL(`../../migrations/${engine}`, import.meta.url)),
      // `migration:create` diffs the entities against the live database (signed in with Entra),
      // so no snapshot file is kept next to the migrations or rewritten by every `up` and `down`.
      snapshot: false,
    },
  };
}

/**
 * MikroORM on Azure Database for PostgreSQL with Entra ID. `withEntra` from `@org/pg-entra` reads
 * host, port, database and user from the Service Connector variables (`AZURE_POSTGRESQL_*`) and
 * returns a pg config whose `password` is a function pg calls for every new physical connection
 * (a current token from `DefaultAzureCredential`) and whose `ssl` verifies the server. MikroORM 7
 * passes `driverOptions` to its `pg.Pool` over its own options, so every connection it opens signs
 * in with a fresh token; it gets the names it keeps for itself (`dbName`, ...) from the same config.
 */
export function postgresqlConfig() {
  const { host, port, user, database, ...driverOptions } = withPgEntra();
  return definePostgreSqlConfig({
    host,
    port,
    user,
    dbName: database,
    driverOptions,
    ...common("postgresql"),
  });
}

/**
 * MikroORM on Azure Database for MySQL with Entra ID: the same with `@org/mysql2-entra`
 * (`AZURE_MYSQL_*`), whose mysql2 config answers the server's switch to `mysql_clear_password` with
 * a current token on every new connection, over TLS that verifies the certificate and host name.
 */
export function mysqlConfig() {
  const { host, port, user, database, ...driverOptions } = withMysql2Entra();
  return defineMySqlConfig({ host, port, user, dbName: database, driverOptions, ...common("mysql") });
}

/** The configuration for `engine`, typed for `MikroORM.init` of `@mikro-orm/core` (either driver). */
export function mikroOrmConfig(engine: Engine = engineFromEnv()): Partial<Options> {
  return engine === "mysql" ? mysqlConfig() : postgresqlConfig();
}
