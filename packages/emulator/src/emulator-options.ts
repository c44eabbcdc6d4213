import type { MysqlPersona } from "./mysql/mysql-persona.js";
import { type EmulatedIdentity, type IdentitySpec, resolveIdentities } from "./resolve-identities.js";
import type { TlsAuthority } from "./tls-authority.js";
import { defaultTenantId } from "./token-issuer.js";

/** The MySQL backend when neither `backend` nor `ENTRA_EMULATOR_MYSQL_URL` names one. */
export const DEFAULT_MYSQL_URL = "mysql://root@127.0.0.1:3306/test";

/** Options of `startEmulator`. */
export interface EmulatorOptions {
  /** Tenant id of issued tokens. Defaults to `72f988bf-0000-4000-8000-00000000e417`. */
  readonly tenantId?: string;
  /** Interface the servers listen on. Defaults to `127.0.0.1`. */
  readonly host?: string;
  /** Port of the identity endpoint. Defaults to 0 (ephemeral). */
  readonly identityPort?: number;
  /** Lifetime of tokens from the identity endpoint. Defaults to 3600 seconds. */
  readonly tokenLifetimeInSeconds?: number;
  /**
   * The identities: managed identities and service principals (`kind: "servicePrincipal"`). Defaults
   * to one system-assigned identity named `emulated-app`. The first is the default one, the one
   * `env` describes.
   */
  readonly identities?: readonly IdentitySpec[];
  /**
   * How `env` makes a service-principal default identity sign in: `secret` (`AZURE_CLIENT_SECRET`),
   * `certificate` (`AZURE_CLIENT_CERTIFICATE_PATH`, a PEM file the emulator writes and registers) or
   * `workloadIdentity` (`AZURE_FEDERATED_TOKEN_FILE`, a token of the emulator's OIDC issuer that it
   * rewrites before it expires, as the kubelet does). Defaults to `secret`.
   */
  readonly servicePrincipalCredential?: ServicePrincipalCredential;
  /** Port of the Entra authority (`AZURE_AUTHORITY_HOST`). Defaults to 0 (ephemeral). */
  readonly authorityPort?: number;
  /** TLS key, certificate chain and CA to use. Defaults to a freshly generated CA and server certificate. */
  readonly tls?: TlsAuthority;
  /** Clock skew tolerated when validating tokens at login. Defaults to 30 seconds. */
  readonly clockSkewInSeconds?: number;
  /** Clock in epoch milliseconds, for token times and validation. Defaults to `Date.now`. */
  readonly now?: () => number;
  /** Return the same token per (identity, resource) until half-life, like the MI back-end. Defaults to false. */
  readonly cacheTokens?: boolean;
  /**
   * The PostgreSQL gateway, or `false` for none.
   * Defaults to `{ backend: process.env.ENTRA_EMULATOR_POSTGRES_URL ?? "pglite" }`.
   */
  readonly postgres?: false | EmulatorPostgresOptions;
  /**
   * The MySQL gateway in front of a real MySQL/MariaDB server, or `false` for none.
   * Defaults to off, or `{ backend: process.env.ENTRA_EMULATOR_MYSQL_URL }` when that variable is set.
   */
  readonly mysql?: false | EmulatorMysqlOptions;
  /**
   * The Azure SQL Database (TDS) endpoint, or `false` for none.
   * Defaults to off, or `{}` when `ENTRA_EMULATOR_SQLSERVER=1`.
   */
  readonly sqlserver?: false | EmulatorSqlServerOptions;
}

/** How a service principal signs in (see {@link EmulatorOptions.servicePrincipalCredential}). */
export type ServicePrincipalCredential = "secret" | "certificate" | "workloadIdentity";

/** PostgreSQL gateway options of {@link EmulatorOptions.postgres}. */
export interface EmulatorPostgresOptions {
  /** `pglite` for an embedded PGlite, or a `postgres://user:password@host:port/db` URL of a real server. */
  readonly backend: "pglite" | string;
  /** Port of the token-validating gateway. Defaults to 0 (ephemeral). */
  readonly port?: number;
  /** Refuse logins without TLS, as Azure does. Defaults to true. */
  readonly requireTls?: boolean;
  /**
   * Create a LOGIN role per identity (and per extra role) on the backend if absent.
   * Defaults to true (always done for `pglite`).
   */
  readonly createRoles?: boolean;
  /** Database name advertised in `env`. Defaults to the URL's database, else `postgres`. */
  readonly database?: string;
  /** Extra roles (e.g. Entra groups) and the object ids allowed to log in as each. */
  readonly roles?: Readonly<Record<string, readonly string[]>>;
}

/** MySQL gateway options of {@link EmulatorOptions.mysql}. */
export interface EmulatorMysqlOptions {
  /**
   * A `mysql://user:password@host:port/db` URL of a real MySQL or MariaDB server. Defaults to
   * `process.env.ENTRA_EMULATOR_MYSQL_URL ?? "mysql://root@127.0.0.1:3306/test"`.
   */
  readonly backend?: string;
  /** Port of the token-validating gateway. Defaults to 0 (ephemeral). */
  readonly port?: number;
  /** Refuse logins without TLS (error 3159), as Azure does. Defaults to true. */
  readonly requireTls?: boolean;
  /**
   * Create `'<name>'@'%'` per identity (and per extra user) with the URL's password, the database,
   * and `GRANT ALL ON <db>.*`, if absent. Defaults to true.
   */
  readonly createUsers?: boolean;
  /** Database name advertised in `env` (and granted). Defaults to the URL's database, else `test`. */
  readonly database?: string;
  /** Extra users (e.g. Entra groups) and the object ids allowed to log in as each. */
  readonly users?: Readonly<Record<string, readonly string[]>>;
  /**
   * What the gateway's greeting claims to be: `mysql8` (MySQL 8.0.42, as Azure Database for MySQL)
   * whatever the backend, or `mariadb` (the backend's own greeting). Defaults to `mysql8`.
   */
  readonly persona?: MysqlPersona;
}

/**
 * Azure SQL Database (TDS) endpoint options of {@link EmulatorOptions.sqlserver}. The endpoint answers a
 * small set of statements itself; there is no SQL Server behind it.
 */
export interface EmulatorSqlServerOptions {
  /** Port of the TDS endpoint. Defaults to 0 (ephemeral). */
  readonly port?: number;
  /** The database (`DB_NAME()`, `AZURE_SQL_DATABASE`). Defaults to `emulated-db`. */
  readonly database?: string;
  /**
   * Require encryption (TLS 1.2 inside PRELOGIN with `encrypt: true`, or TDS 8 with
   * `encrypt: "strict"`), as Azure does. Defaults to true.
   */
  readonly requireTls?: boolean;
  /**
   * Extra database users (e.g. Entra groups) and the object ids that are members. Every identity is
   * a database user under its own name.
   */
  readonly users?: Readonly<Record<string, readonly string[]>>;
  /** Server name in error messages and `@@SERVERNAME`. Defaults to `emulated-sql`. */
  readonly serverName?: string;
  /**
   * End a session whose login token has expired (past `exp` plus `clockSkewInSeconds`) when its
   * next request arrives, with error 37396 `Query cannot be executed, access token is expired...`,
   * and close the connection, as Azure SQL does. Switch it at run time with
   * `faults.sqlserver.expireSessions()`; `counters.sessionsExpired` counts such sessions.
   * Defaults to true.
   */
  readonly expireSessions?: boolean;
}

/** {@link EmulatorOptions} with the defaults applied; an engine that does not run is undefined. */
export interface ResolvedEmulatorOptions {
  readonly now: () => number;
  readonly host: string;
  readonly tenantId: string;
  readonly identityPort?: number;
  readonly tokenLifetimeInSeconds: number;
  /** The resolved identities; the first is the default one. */
  readonly identities: readonly EmulatedIdentity[];
  readonly servicePrincipalCredential: ServicePrincipalCredential;
  readonly authorityPort?: number;
  readonly tls?: TlsAuthority;
  readonly clockSkewInSeconds: number;
  readonly cacheTokens?: boolean;
  readonly postgres?: EmulatorPostgresOptions;
  readonly mysql?: EmulatorMysqlOptions;
  readonly sqlserver?: EmulatorSqlServerOptions;
}

/**
 * Applies the defaults of {@link EmulatorOptions}, reading the engines' switches from `env`
 * (`ENTRA_EMULATOR_POSTGRES_URL`, `ENTRA_EMULATOR_MYSQL_URL`, `ENTRA_EMULATOR_SQLSERVER`), which
 * defaults to `process.env`. Throws on an identity that cannot be resolved.
 *
 * @example
 * resolveEmulatorOptions({ postgres: false }, { ENTRA_EMULATOR_SQLSERVER: "1" }).sqlserver; // {}
 */
export function resolveEmulatorOptions(
  options: EmulatorOptions,
  env: Readonly<Record<string, string | undefined>> = process.env,
): ResolvedEmulatorOptions {
  return {
    now: options.now ?? Date.now,
    host: options.host ?? "127.0.0.1",
    tenantId: options.tenantId ?? defaultTenantId,
    identityPort: options.identityPort,
    tokenLifetimeInSeconds: options.tokenLifetimeInSeconds ?? 3600,
    identities: resolveIdentities(options.identities),
    servicePrincipalCredential: options.servicePrincipalCredential ?? "secret",
    authorityPort: options.authorityPort,
    tls: options.tls,
    clockSkewInSeconds: options.clockSkewInSeconds ?? 30,
    cacheTokens: options.cacheTokens,
    postgres:
      options.postgres === undefined
        ? { backend: env.ENTRA_EMULATOR_POSTGRES_URL ?? "pglite" }
        : options.postgres || undefined,
    mysql: resolveMysqlOptions(options.mysql, env.ENTRA_EMULATOR_MYSQL_URL),
    sqlserver:
      options.sqlserver === undefined
        ? env.ENTRA_EMULATOR_SQLSERVER === "1"
          ? {}
          : undefined
        : options.sqlserver || undefined,
  };
}

function resolveMysqlOptions(
  given: EmulatorOptions["mysql"],
  fromEnv: string | undefined,
): EmulatorMysqlOptions | undefined {
  if (given === false) return undefined;
  if (given === undefined) return fromEnv ? { backend: fromEnv } : undefined;
  return { ...given, backend: given.backend ?? fromEnv ?? DEFAULT_MYSQL_URL };
}
