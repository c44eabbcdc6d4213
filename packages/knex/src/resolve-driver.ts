import { EntraAuthError } from "@org/entra-core";
import type { Knex } from "knex";

/** The driver adapters `withEntra` hands a knex `connection` to. */
export type KnexEntraDriver = "pg" | "mysql2" | "mssql";

/** knex client names (and aliases) that `withEntra` supports, by the driver adapter they use. */
const SUPPORTED: Readonly<Record<string, KnexEntraDriver>> = {
  pg: "pg",
  postgres: "pg",
  postgresql: "pg",
  mysql2: "mysql2",
  mssql: "mssql",
};

/** knex client names that reach a database Entra could serve, but through a driver we cannot hook. */
const REFUSED: Readonly<Record<string, string>> = {
  pgnative:
    'The pg-native driver cannot take a password function, so it cannot present a fresh token per connection. Use client: "pg".',
  "pg-native":
    'The pg-native driver cannot take a password function, so it cannot present a fresh token per connection. Use client: "pg".',
  mysql:
    'The old "mysql" (mysqljs) driver has no hook for a per-connection token and no clear-password plugin. Use client: "mysql2" (npm install mysql2).',
  mariadb:
    'The "mariadb" connector only takes a static password, which an expiring token cannot be. Use client: "mysql2" (npm install mysql2); it works with Azure Database for MySQL and MariaDB servers.',
};

/**
 * Maps a knex config's `client` (or the deprecated `dialect`) to the driver adapter that wires
 * Entra authentication into its `connection`.
 *
 * @param config - The knex config. Its `client` must be a client name; defaults to none (an error).
 * @returns `"pg"` for `pg`, `postgres`, `postgresql`; `"mysql2"` for `mysql2`; `"mssql"` for `mssql`.
 * @throws EntraAuthError `MISSING_SETTING` without a client, `INVALID_SETTING` for a client class,
 *   `pgnative`, `mysql`, `mariadb` or any client Azure's Entra sign-in cannot reach.
 */
export function resolveDriver(config: Pick<Knex.Config, "client" | "dialect">): KnexEntraDriver {
  const client = config.client ?? config.dialect;
  if (client === undefined || client === "") {
    throw new EntraAuthError("MISSING_SETTING", "The knex config has no `client`.", {
      hint: 'Set client: "pg" (Azure Database for PostgreSQL), "mysql2" (Azure Database for MySQL) or "mssql" (Azure SQL).',
    });
  }
  if (typeof client !== "string") {
    throw new EntraAuthError("INVALID_SETTING", "The knex config's `client` is a class, not a name.", {
      hint: 'Pass the client by name (client: "pg", "mysql2" or "mssql") so @org/knex-entra knows which driver hook to use.',
    });
  }
  const driver = SUPPORTED[client];
  if (driver) return driver;
  const reason = REFUSED[client];
  throw new EntraAuthError(
    "INVALID_SETTING",
    `knex client "${client}" cannot use Microsoft Entra authentication through @org/knex-entra.`,
    {
      hint:
        reason ??
        'Supported clients: "pg", "postgres", "postgresql" (Azure Database for PostgreSQL), "mysql2" (Azure Database for MySQL) and "mssql" (Azure SQL).',
    },
  );
}
