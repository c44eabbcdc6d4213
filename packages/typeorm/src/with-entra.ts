import { EntraAuthError, type EntraOptions } from "@org/entra-core";
import type { DataSourceOptionsLike, TypeormOptionsView } from "./data-source-options-like.js";
import { withEntraMssql } from "./mssql-options.js";
import { withEntraMysql } from "./mysql-options.js";
import { withEntraPostgres } from "./postgres-options.js";

/**
 * Wires Microsoft Entra authentication into TypeORM `DataSourceOptions` (TypeORM 0.3.x and 1.x):
 * every new physical connection of the DataSource's pool presents a currently valid access token,
 * fetched once and shared by every pool in the process, refreshed ahead of expiry. Migrations and
 * the TypeORM CLI use the same DataSource, so they authenticate the same way.
 *
 * - `type: "postgres"`: `password` becomes `@org/pg-entra`'s token function and `ssl` its verified
 *   TLS setting. A `url` is parsed into `host`, `port`, `username`, `database` (pg would otherwise
 *   silently drop the token function); it must not contain a password.
 * - `type: "mysql"` / `"mariadb"`: `extra.authPlugins` gets `@org/mysql2-entra`'s clear-password
 *   plugin, `ssl` its verified TLS object, and `connectorPackage` is set to `"mysql2"` (TypeORM
 *   0.3.x loads the old `mysql` package first, which cannot send a token). A `url` is parsed into
 *   fields (its parts win, as in TypeORM).
 * - `type: "mssql"` (Azure SQL): `extra.authentication` becomes `@org/mssql-entra`'s
 *   `{ type: "token-credential", options: { credential } }` (TypeORM merges `extra` last into the
 *   mssql config; its own `authentication` union has no such type), `options.encrypt` defaults to
 *   `"strict"` and `options.trustServerCertificate` to `false`, and `extra.beforeConnect` explains
 *   rejected logins. `username`, `password`, `domain` (NTLM) and TypeORM's `azure-active-directory-*`
 *   authentication types are refused (they build a new credential per login or carry a secret).
 * - `host`, `port`, `database` and `username` default to the Service Connector variables
 *   (`AZURE_POSTGRESQL_*` / `AZURE_MYSQL_*` / `AZURE_SQL_*`, which has no username); the username
 *   then falls back to `options.username` and finally to the token's claims (managed identity
 *   name, UPN).
 * - Driver connection fields in `extra` (`ssl`, `password`, `connectionString`, `authPlugins`, ...)
 *   override TypeORM's own fields in the driver, so they are checked and wired the same way.
 * - `replication: { master, slaves }` is wired node by node (PostgreSQL nodes inherit the top-level
 *   `ssl` when they have none).
 * - A static password, TLS off, or TLS without certificate verification throw `EntraAuthError`
 *   (`INVALID_SETTING`, `INSECURE_TRANSPORT`) before any I/O; the latter unless `allowInsecure: true`.
 * - Every other field (`entities`, `migrations`, `synchronize`, `poolSize`, ...) is kept as is.
 *
 * Connection fields you leave out come from the Service Connector variables; TLS is verified; tokens
 * come from the process-wide shared provider with `DefaultAzureCredential` unless you pass a credential.
 *
 * @example
 * ```ts
 * import "reflect-metadata";
 * import { DataSource } from "typeorm";
 * import { withEntra } from "@org/typeorm-entra";
 *
 * export const dataSource = new DataSource(
 *   withEntra({ type: "postgres", host: "myserver.postgres.database.azure.com", database: "app", entities: [User] }),
 * );
 * await dataSource.initialize();
 * ```
 *
 * @param dataSourceOptions - Your TypeORM `DataSourceOptions` with `type` `"postgres"`, `"mysql"`, `"mariadb"` or `"mssql"`.
 * @param options - Credential, username and refresh options (the credential defaults to `DefaultAzureCredential`).
 * @returns A copy of `dataSourceOptions` with the Entra hooks, TLS and connection fields set, and `url` removed.
 * @throws EntraAuthError `INVALID_SETTING` (unsupported `type`, static password or SQL login, `connectorPackage: "mysql"`),
 *   `INSECURE_TRANSPORT` or `USERNAME_UNRESOLVED`, before any I/O.
 */
export function withEntra<T extends DataSourceOptionsLike>(
  dataSourceOptions: T,
  options: EntraOptions = {},
): T {
  const view = dataSourceOptions as unknown as TypeormOptionsView;
  switch (view.type) {
    case "postgres":
      return withEntraPostgres(view, options) as unknown as T;
    case "mysql":
    case "mariadb":
      return withEntraMysql(view, options) as unknown as T;
    case "mssql":
      return withEntraMssql(view, options) as unknown as T;
    default:
      throw new EntraAuthError(
        "INVALID_SETTING",
        `TypeORM \`type: "${String(view.type)}"\` is not supported by @org/typeorm-entra.`,
        {
          hint: 'Use `type: "postgres"` for Azure Database for PostgreSQL, `type: "mysql"` / `"mariadb"` for Azure Database for MySQL, or `type: "mssql"` for Azure SQL.',
        },
      );
  }
}
