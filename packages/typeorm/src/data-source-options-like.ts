/**
 * The one field `withEntra` requires of a TypeORM `DataSourceOptions`. Structural, so that the
 * options of TypeORM 0.3.x and 1.x (and any `DataSourceOptions` union member) are accepted without
 * this package importing a specific `typeorm`. Defaults: none, `type` is required.
 */
export interface DataSourceOptionsLike {
  /** TypeORM's driver type (required): `"postgres"`, `"mysql"`, `"mariadb"` or `"mssql"` are wired; others are refused. */
  readonly type: "postgres" | "mysql" | "mariadb" | "mssql" | (string & {});
}

/**
 * The connection fields TypeORM reads from the options, or from one `replication` node
 * (`PostgresConnectionCredentialsOptions`, `MysqlConnectionCredentialsOptions`).
 */
export interface ConnectionCredentials {
  readonly url?: string;
  readonly host?: string;
  readonly port?: number;
  readonly username?: string;
  readonly password?: unknown;
  readonly database?: string;
  /** PostgreSQL only: per node. MySQL reads `ssl` from the top-level options for every node. */
  readonly ssl?: unknown;
  /** MySQL only. */
  readonly socketPath?: string;
  readonly [key: string]: unknown;
}

/** What `withEntra` reads of the options of TypeORM's postgres, mysql and mssql drivers. */
export interface TypeormOptionsView extends ConnectionCredentials {
  readonly type: string;
  /** Passed to the driver's pool last: it overrides every field TypeORM derives. */
  readonly extra?: Record<string, unknown>;
  readonly replication?: {
    readonly master: ConnectionCredentials;
    readonly slaves: readonly ConnectionCredentials[];
    readonly [key: string]: unknown;
  };
  /** TypeORM 0.3.x only: `"mysql"` (its default) or `"mysql2"`. */
  readonly connectorPackage?: string;
  /** A driver module given instead of letting TypeORM load it. */
  readonly driver?: unknown;
  /** MySQL only: passed to the driver for every node. */
  readonly insecureAuth?: boolean;
}
