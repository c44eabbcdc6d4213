import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  authorizeLogin,
  authorizeSqlLogin,
  type LoginRejectionReason,
  ossrdbmsResource,
} from "./authorize-login.js";
import {
  type IdentityEndpointCounters,
  type IdentityFault,
  startIdentityEndpoint,
} from "./identity-endpoint.js";
import { runMysqlAdminStatements } from "./mysql/mysql-backend-login.js";
import { startMysqlGateway } from "./mysql/mysql-gateway.js";
import type { MysqlPersona } from "./mysql/mysql-persona.js";
import { startPgGateway } from "./pg/pg-gateway.js";
import { type EmulatedIdentity, type IdentitySpec, resolveIdentities } from "./resolve-identities.js";
import { startSqlServerEndpoint } from "./tds/tds-server.js";
import { createTlsAuthority, type TlsAuthority } from "./tls-authority.js";
import {
  createTokenIssuer,
  defaultTenantId,
  type JsonWebKeySet,
  type MintTokenOptions,
} from "./token-issuer.js";

/**
 * PostgreSQL gateway options of {@link EmulatorOptions.postgres}.
 *
 * Defaults to the values named on each member.
 */
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
  /** Extra roles (e.g. Entra groups) and the object ids allowed to log in as each. Defaults to none. */
  readonly roles?: Readonly<Record<string, readonly string[]>>;
}

/**
 * MySQL gateway options of {@link EmulatorOptions.mysql}.
 *
 * Defaults to the values named on each member.
 */
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
  /** Extra users (e.g. Entra groups) and the object ids allowed to log in as each. Defaults to none. */
  readonly users?: Readonly<Record<string, readonly string[]>>;
  /**
   * What the gateway's greeting claims to be: `mysql8` (MySQL 8.0.42, as Azure Database for MySQL)
   * whatever the backend, or `mariadb` (the backend's own greeting). Defaults to `mysql8`.
   */
  readonly persona?: MysqlPersona;
}

/**
 * Azure SQL Database (TDS) endpoint options of {@link EmulatorOptions.sqlserver}. The endpoint
 * answers a small set of statements itself; there is no SQL Server behind it.
 *
 * Defaults to the values named on each member.
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
   * a database user under its own name. Defaults to none.
   */
  readonly users?: Readonly<Record<string, readonly string[]>>;
  /** Server name in error messages and `@@SERVERNAME`. Defaults to `emulated-sql`. */
  readonly serverName?: string;
}

/**
 * Options of {@link startEmulator}.
 *
 * Defaults to the values named on each member.
 */
export interface EmulatorOptions {
  /** Tenant id of issued tokens. Defaults to `72f988bf-0000-4000-8000-00000000e417`. */
  readonly tenantId?: string;
  /** Interface the servers listen on. Defaults to `127.0.0.1`. */
  readonly host?: string;
  /** Port of the identity endpoint. Defaults to 0 (ephemeral). */
  readonly identityPort?: number;
  /** Lifetime of tokens from the identity endpoint. Defaults to 3600 seconds. */
  readonly tokenLifetimeInSeconds?: number;
  /** The managed identities. Defaults to one system-assigned identity named `emulated-app`. */
  readonly identities?: readonly IdentitySpec[];
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

/**
 * Options of {@link Emulator.mintToken}.
 *
 * Defaults to the values named on each member.
 */
export interface EmulatorMintOptions {
  /**
   * The principal: a configured identity's name, any other name (minted as a user-assigned
   * identity), or an identity object. Defaults to the default (first) identity.
   */
  readonly identity?: string | IdentitySpec | EmulatedIdentity;
  /**
   * The `aud` claim. Defaults to `https://ossrdbms-aad.database.windows.net`; use
   * `https://database.windows.net` (or `https://database.windows.net/`) for Azure SQL.
   */
  readonly audience?: string;
  /** Seconds from `iat` to `exp`. Defaults to the emulator's token lifetime. */
  readonly lifetimeInSeconds?: number;
  /** Mint a token that expired a minute beyond the clock skew. Defaults to false. */
  readonly expired?: boolean;
  /** `bad` makes the signature fail verification. Defaults to `valid`. */
  readonly signature?: "valid" | "bad";
  /** Tenant of the token (`tid` and `iss`). Defaults to the emulator's tenant. */
  readonly tenantId?: string;
  /** Seconds from `iat` to `nbf`. Defaults to 0. */
  readonly notBeforeOffsetInSeconds?: number;
  /** `iat` in epoch seconds. Defaults to now. */
  readonly issuedAt?: number;
  /** Extra or overriding claims. Defaults to none. */
  readonly claims?: Readonly<Record<string, unknown>>;
}

/**
 * A snapshot of the emulator's counters.
 *
 * Defaults to all zeros at start and after `resetCounters()`.
 */
export interface EmulatorCounters extends IdentityEndpointCounters {
  /** Database logins accepted (backend session opened), over all engines. */
  readonly loginsAccepted: number;
  /** Database logins refused (by validation, injection, TLS policy or the backend). */
  readonly loginsRejected: number;
  /** Refusals per reason (`expired`, `audience`, `invalid`, `principal`, `tls-required`, `backend`), over all engines. */
  readonly rejectionsByReason: Readonly<Record<string, number>>;
  /** The same three counters per database engine. */
  readonly byEngine: Readonly<Record<DatabaseEngine, EngineLoginCounters>>;
}

/**
 * A database engine the emulator fronts.
 *
 * Defaults to none: every login belongs to one.
 */
export type DatabaseEngine = "postgres" | "mysql" | "sqlserver";

/**
 * Login counters of one engine (see {@link EmulatorCounters.byEngine}).
 *
 * Defaults to all zeros.
 */
export interface EngineLoginCounters {
  readonly loginsAccepted: number;
  readonly loginsRejected: number;
  readonly rejectionsByReason: Readonly<Record<string, number>>;
}

/**
 * The variables an app process needs, ready to spread into `process.env` or a child's env.
 *
 * Defaults to the identity variables only when PostgreSQL is disabled.
 */
export interface EmulatorEnv {
  readonly IDENTITY_ENDPOINT: string;
  readonly IDENTITY_HEADER: string;
  readonly AZURE_TOKEN_CREDENTIALS: "ManagedIdentityCredential";
  readonly NODE_EXTRA_CA_CERTS: string;
  readonly AZURE_POSTGRESQL_HOST?: string;
  readonly AZURE_POSTGRESQL_PORT?: string;
  readonly AZURE_POSTGRESQL_DATABASE?: string;
  readonly AZURE_POSTGRESQL_USER?: string;
  readonly AZURE_POSTGRESQL_SSL?: "true";
  readonly AZURE_POSTGRESQL_CLIENTID?: string;
  readonly AZURE_MYSQL_HOST?: string;
  readonly AZURE_MYSQL_PORT?: string;
  readonly AZURE_MYSQL_DATABASE?: string;
  readonly AZURE_MYSQL_USER?: string;
  readonly AZURE_MYSQL_SSL?: "true";
  readonly AZURE_MYSQL_CLIENTID?: string;
  readonly AZURE_SQL_SERVER?: string;
  readonly AZURE_SQL_PORT?: string;
  readonly AZURE_SQL_DATABASE?: string;
  readonly AZURE_SQL_AUTHENTICATIONTYPE?: "azure-active-directory-default";
  readonly AZURE_SQL_CLIENTID?: string;
  readonly [name: string]: string | undefined;
}

/**
 * A running emulator.
 *
 * Defaults to no faults and zero counters.
 */
export interface Emulator extends AsyncDisposable {
  /** App Service identity endpoint URL (`IDENTITY_ENDPOINT`), ending in `/msi/token`. */
  readonly identityEndpoint: string;
  /** The `X-IDENTITY-HEADER` secret (`IDENTITY_HEADER`). */
  readonly identityHeader: string;
  /** Base URL for the IMDS protocol (`AZURE_POD_IDENTITY_AUTHORITY_HOST`). */
  readonly imdsAuthorityHost: string;
  /** Tenant id of issued tokens. */
  readonly tenantId: string;
  /** The identities; the first is the default. */
  readonly identities: readonly EmulatedIdentity[];
  /** PEM of the TLS CA to trust. */
  readonly ca: string;
  /** Public signing keys. */
  readonly jwks: JsonWebKeySet;
  /** Where the PostgreSQL gateway listens; undefined when disabled. */
  readonly postgres?: { readonly host: "localhost"; readonly port: number; readonly database: string };
  /** Where the MySQL gateway listens; undefined when disabled. */
  readonly mysql?: { readonly host: "localhost"; readonly port: number; readonly database: string };
  /** Where the Azure SQL (TDS) endpoint listens; undefined when disabled. */
  readonly sqlserver?: { readonly host: "localhost"; readonly port: number; readonly database: string };
  /** Variables for an app process. */
  readonly env: EmulatorEnv;
  /**
   * Lifetime of the tokens the identity endpoint issues from now on (and the default for
   * `mintToken`), in seconds; settable at run time. Defaults to the `tokenLifetimeInSeconds` option.
   */
  tokenLifetimeInSeconds: number;
  /** Mints a token directly (any principal, audience, lifetime, or deliberately broken). */
  mintToken(options?: EmulatorMintOptions): string;
  /** Fault injection. */
  readonly faults: {
    readonly identity: { set(fault: IdentityFault): void; reset(): void };
    readonly postgres: {
      /** Refuse the next `count` logins with `reason`. Defaults to `invalid`. */
      rejectNextLogins(count: number, reason?: LoginRejectionReason): void;
      /** Drops pending injected rejections. */
      reset(): void;
    };
    readonly mysql: {
      /** Refuse the next `count` MySQL logins with `reason`. Defaults to `invalid`. */
      rejectNextLogins(count: number, reason?: LoginRejectionReason): void;
      /** Drops pending injected rejections. */
      reset(): void;
    };
    readonly sqlserver: {
      /** Refuse the next `count` Azure SQL logins with `reason` (error 18456). Defaults to `invalid`. */
      rejectNextLogins(count: number, reason?: LoginRejectionReason): void;
      /** Drops pending injected rejections. */
      reset(): void;
    };
  };
  /** A snapshot of the counters. */
  readonly counters: EmulatorCounters;
  /** Sets every counter to zero. */
  resetCounters(): void;
  /** Stops every server, destroys sockets, stops PGlite and removes the CA file. Idempotent. */
  close(): Promise<void>;
}

/**
 * Starts the emulator: a managed-identity endpoint (App Service and IMDS protocols) issuing
 * RS256 tokens, a TLS PostgreSQL gateway that validates them in front of PGlite or a real server,
 * (when asked) a TLS MySQL gateway in front of a real MySQL/MariaDB server, and (when asked) an
 * Azure SQL Database (TDS) endpoint that validates Entra tokens and answers a few statements itself.
 *
 * @example
 * ```ts
 * await using emulator = await startEmulator();
 * Object.assign(process.env, emulator.env);
 * const pool = new pg.Pool(withEntra());
 * ```
 *
 * Defaults to tenant `72f988bf-0000-4000-8000-00000000e417`, one system-assigned identity
 * `emulated-app`, one-hour tokens, 127.0.0.1 with ephemeral ports, and a PGlite backend (or the
 * server in `ENTRA_EMULATOR_POSTGRES_URL`).
 */
export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const now = options.now ?? Date.now;
  const host = options.host ?? "127.0.0.1";
  const tenantId = options.tenantId ?? defaultTenantId;
  const tokenLifetimeInSeconds = options.tokenLifetimeInSeconds ?? 3600;
  const clockSkewInSeconds = options.clockSkewInSeconds ?? 30;
  const identities = resolveIdentities(options.identities);
  const defaultIdentity = identities[0] as EmulatedIdentity;
  const postgresOptions =
    options.postgres === undefined
      ? { backend: process.env.ENTRA_EMULATOR_POSTGRES_URL ?? "pglite" }
      : options.postgres;
  const mysqlOptions = resolveMysqlOptions(options.mysql);
  const sqlserverOptions =
    options.sqlserver === undefined
      ? process.env.ENTRA_EMULATOR_SQLSERVER === "1"
        ? {}
        : undefined
      : options.sqlserver || undefined;

  const cleanups: Array<() => Promise<void>> = [];
  const runCleanups = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) {
      await cleanup().catch(() => undefined);
    }
  };

  try {
    const [tls, issuer] = await Promise.all([
      createTlsAuthority({ given: options.tls, now }),
      createTokenIssuer({ tenantId, now }),
    ]);

    const caDirectory = await mkdtemp(join(tmpdir(), "entra-emulator-"));
    cleanups.push(() => rm(caDirectory, { recursive: true, force: true }));
    const caFile = join(caDirectory, "ca.pem");
    await writeFile(caFile, tls.ca, { mode: 0o644 });

    const endpoint = await startIdentityEndpoint({
      issuer,
      identities,
      host,
      port: options.identityPort,
      tokenLifetimeInSeconds,
      cacheTokens: options.cacheTokens,
      now,
    });
    cleanups.push(() => endpoint.close());

    const pendingRejections: LoginRejectionReason[] = [];
    const pendingMysqlRejections: LoginRejectionReason[] = [];
    const pendingSqlRejections: LoginRejectionReason[] = [];
    let logins = emptyEngineCounters();
    const countLogin =
      (engine: DatabaseEngine) =>
      (event: { accepted: boolean; reason?: string }): void => {
        const counters = logins[engine];
        if (event.accepted) {
          counters.loginsAccepted += 1;
          return;
        }
        counters.loginsRejected += 1;
        const reason = event.reason ?? "backend";
        counters.rejectionsByReason[reason] = (counters.rejectionsByReason[reason] ?? 0) + 1;
      };
    /** The token checks and principal mapping of a PostgreSQL or MySQL gateway, at this moment. */
    const loginPolicy = (
      roles: Readonly<Record<string, readonly string[]>>,
      pending: LoginRejectionReason[],
    ) => ({
      tenantId,
      jwks: issuer.jwks,
      nowMs: now(),
      clockSkewInSeconds,
      roles,
      pendingRejections: pending,
    });
    let postgres: Emulator["postgres"];

    if (postgresOptions) {
      const roles = postgresOptions.roles ?? {};
      const roleNames = [...new Set([...identities.map((identity) => identity.name), ...Object.keys(roles)])];
      const backend = await startBackend(postgresOptions, roleNames, cleanups);
      const gateway = await startPgGateway({
        host,
        port: postgresOptions.port ?? 0,
        tls: { key: tls.key, cert: tls.cert },
        requireTls: postgresOptions.requireTls ?? true,
        backend: backend.target,
        authorize: (request) => authorizeLogin(request, loginPolicy(roles, pendingRejections)),
        onLogin: countLogin("postgres"),
      });
      cleanups.push(() => gateway.close());
      postgres = Object.freeze({
        host: "localhost" as const,
        port: gateway.port,
        database: backend.database,
      });
    }

    let mysql: Emulator["mysql"];
    if (mysqlOptions) {
      const users = mysqlOptions.users ?? {};
      const userNames = [...new Set([...identities.map((identity) => identity.name), ...Object.keys(users)])];
      const backend = await prepareMysqlBackend(mysqlOptions, userNames);
      const gateway = await startMysqlGateway({
        host,
        port: mysqlOptions.port ?? 0,
        tls: { key: tls.key, cert: tls.cert },
        requireTls: mysqlOptions.requireTls ?? true,
        persona: mysqlOptions.persona,
        backend: backend.target,
        authorize: (request) => authorizeLogin(request, loginPolicy(users, pendingMysqlRejections)),
        onLogin: countLogin("mysql"),
      });
      cleanups.push(() => gateway.close());
      mysql = Object.freeze({ host: "localhost" as const, port: gateway.port, database: backend.database });
    }

    let sqlserver: Emulator["sqlserver"];
    if (sqlserverOptions) {
      const users = sqlserverOptions.users ?? {};
      const database = sqlserverOptions.database ?? "emulated-db";
      const principals = identities.map((identity) => identity.name);
      const endpointServer = await startSqlServerEndpoint({
        host,
        port: sqlserverOptions.port ?? 0,
        tls: { key: tls.key, cert: tls.cert },
        requireTls: sqlserverOptions.requireTls ?? true,
        database,
        tenantId,
        serverName: sqlserverOptions.serverName,
        authorize: (request) =>
          authorizeSqlLogin(request, {
            tenantId,
            jwks: issuer.jwks,
            nowMs: now(),
            clockSkewInSeconds,
            principals,
            users,
            pendingRejections: pendingSqlRejections,
          }),
        onLogin: countLogin("sqlserver"),
      });
      cleanups.push(() => endpointServer.close());
      sqlserver = Object.freeze({ host: "localhost" as const, port: endpointServer.port, database });
    }

    const env: Record<string, string> = {
      IDENTITY_ENDPOINT: endpoint.appServiceEndpoint,
      IDENTITY_HEADER: endpoint.identityHeader,
      AZURE_TOKEN_CREDENTIALS: "ManagedIdentityCredential",
      NODE_EXTRA_CA_CERTS: caFile,
    };
    if (postgres) {
      env.AZURE_POSTGRESQL_HOST = postgres.host;
      env.AZURE_POSTGRESQL_PORT = String(postgres.port);
      env.AZURE_POSTGRESQL_DATABASE = postgres.database;
      env.AZURE_POSTGRESQL_USER = defaultIdentity.name;
      env.AZURE_POSTGRESQL_SSL = "true";
      if (defaultIdentity.kind === "user") env.AZURE_POSTGRESQL_CLIENTID = defaultIdentity.clientId;
    }
    if (mysql) {
      env.AZURE_MYSQL_HOST = mysql.host;
      env.AZURE_MYSQL_PORT = String(mysql.port);
      env.AZURE_MYSQL_DATABASE = mysql.database;
      env.AZURE_MYSQL_USER = defaultIdentity.name;
      env.AZURE_MYSQL_SSL = "true";
      if (defaultIdentity.kind === "user") env.AZURE_MYSQL_CLIENTID = defaultIdentity.clientId;
    }

    if (sqlserver) {
      env.AZURE_SQL_SERVER = sqlserver.host;
      env.AZURE_SQL_PORT = String(sqlserver.port);
      env.AZURE_SQL_DATABASE = sqlserver.database;
      env.AZURE_SQL_AUTHENTICATIONTYPE = "azure-active-directory-default";
      if (defaultIdentity.kind === "user") env.AZURE_SQL_CLIENTID = defaultIdentity.clientId;
    }

    const resolveForMint = (identity: EmulatorMintOptions["identity"]): EmulatedIdentity => {
      if (identity === undefined) return defaultIdentity;
      if (typeof identity === "string") {
        return (
          identities.find((candidate) => candidate.name === identity) ??
          (resolveIdentities([{ name: identity, kind: "user" }])[0] as EmulatedIdentity)
        );
      }
      if ("resourceId" in identity) return identity;
      return resolveIdentities([identity])[0] as EmulatedIdentity;
    };

    let closing: Promise<void> | undefined;
    const close = () => {
      closing ??= runCleanups();
      return closing;
    };

    return {
      identityEndpoint: endpoint.appServiceEndpoint,
      identityHeader: endpoint.identityHeader,
      imdsAuthorityHost: endpoint.url,
      tenantId,
      identities,
      ca: tls.ca,
      jwks: issuer.jwks,
      postgres,
      mysql,
      sqlserver,
      env: Object.freeze(env) as EmulatorEnv,
      get tokenLifetimeInSeconds() {
        return endpoint.tokenLifetimeInSeconds;
      },
      set tokenLifetimeInSeconds(seconds: number) {
        endpoint.tokenLifetimeInSeconds = seconds;
      },
      mintToken(mint = {}) {
        const lifetimeInSeconds = mint.lifetimeInSeconds ?? endpoint.tokenLifetimeInSeconds;
        const nowSeconds = Math.floor(now() / 1000);
        const request: MintTokenOptions = {
          identity: resolveForMint(mint.identity),
          audience: mint.audience ?? ossrdbmsResource,
          lifetimeInSeconds,
          issuedAt: mint.expired ? nowSeconds - lifetimeInSeconds - clockSkewInSeconds - 60 : mint.issuedAt,
          notBeforeOffsetInSeconds: mint.notBeforeOffsetInSeconds,
          tenantId: mint.tenantId,
          signature: mint.signature,
          claims: mint.claims,
        };
        return issuer.mintToken(request).token;
      },
      faults: Object.freeze({
        identity: Object.freeze({
          set: (fault: IdentityFault) => endpoint.setFault(fault),
          reset: () => endpoint.resetFault(),
        }),
        postgres: Object.freeze({
          rejectNextLogins(count: number, reason: LoginRejectionReason = "invalid") {
            for (let index = 0; index < count; index += 1) pendingRejections.push(reason);
          },
          reset() {
            pendingRejections.length = 0;
          },
        }),
        mysql: Object.freeze({
          rejectNextLogins(count: number, reason: LoginRejectionReason = "invalid") {
            for (let index = 0; index < count; index += 1) pendingMysqlRejections.push(reason);
          },
          reset() {
            pendingMysqlRejections.length = 0;
          },
        }),
        sqlserver: Object.freeze({
          rejectNextLogins(count: number, reason: LoginRejectionReason = "invalid") {
            for (let index = 0; index < count; index += 1) pendingSqlRejections.push(reason);
          },
          reset() {
            pendingSqlRejections.length = 0;
          },
        }),
      }),
      get counters(): EmulatorCounters {
        const total = sumLoginCounters(logins.postgres, logins.mysql, logins.sqlserver);
        return Object.freeze({
          ...endpoint.counters,
          ...total,
          byEngine: Object.freeze({
            postgres: freezeLoginCounters(logins.postgres),
            mysql: freezeLoginCounters(logins.mysql),
            sqlserver: freezeLoginCounters(logins.sqlserver),
          }),
        });
      },
      resetCounters() {
        endpoint.resetCounters();
        logins = emptyEngineCounters();
      },
      close,
      [Symbol.asyncDispose]: close,
    };
  } catch (error) {
    await runCleanups();
    throw error;
  }
}

interface StartedBackend {
  readonly target: { host: string; port: number; password?: string; database?: string };
  readonly database: string;
}

async function startBackend(
  options: EmulatorPostgresOptions,
  roleNames: readonly string[],
  cleanups: Array<() => Promise<void>>,
): Promise<StartedBackend> {
  if (options.backend === "pglite") {
    const [{ PGlite }, { PGLiteSocketServer }] = await Promise.all([
      import("@electric-sql/pglite"),
      import("@electric-sql/pglite-socket"),
    ]);
    const db = await PGlite.create();
    cleanups.push(() => db.close());
    for (const role of roleNames) {
      const exists = await db.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [role]);
      if (exists.rows.length === 0) await db.exec(`CREATE ROLE ${quoteIdentifier(role)} LOGIN`);
      await db.exec(`GRANT ALL ON SCHEMA public TO ${quoteIdentifier(role)}`);
    }
    const server = new PGLiteSocketServer({ db, host: "127.0.0.1", port: 0, maxConnections: 64 });
    await server.start();
    cleanups.push(() => server.stop());
    const port = Number(server.getServerConn().split(":").pop());
    // PGlite has a single database; the gateway logs in to it whatever the client asked for.
    const database = options.database ?? "postgres";
    return { target: { host: "127.0.0.1", port, database: "postgres" }, database };
  }

  let url: URL;
  try {
    url = new URL(options.backend);
  } catch {
    throw new TypeError('postgres.backend must be "pglite" or a postgres:// URL.');
  }
  if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") {
    throw new TypeError('postgres.backend must be "pglite" or a postgres:// URL.');
  }
  const password = url.password ? decodeURIComponent(url.password) : undefined;
  const urlDatabase = decodeURIComponent(url.pathname.replace(/^\//, ""));
  const database = options.database ?? (urlDatabase || "postgres");
  const backendHost = url.hostname.replace(/^\[(.*)\]$/, "$1") || "127.0.0.1";
  const port = url.port ? Number(url.port) : 5432;
  if (options.createRoles ?? true) await createRoles(options.backend, roleNames, password);
  return { target: { host: backendHost, port, password }, database };
}

async function createRoles(connectionString: string, roleNames: readonly string[], password?: string) {
  const { default: pg } = await import("pg");
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    for (const role of roleNames) {
      const exists = await client.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [role]);
      if (exists.rowCount === 0) {
        const withPassword = password === undefined ? "" : ` PASSWORD ${quoteLiteral(password)}`;
        try {
          await client.query(`CREATE ROLE ${quoteIdentifier(role)} LOGIN${withPassword}`);
        } catch (error) {
          // Another emulator created it between our check and our CREATE: that is fine.
          if ((error as { code?: string }).code !== "42710") throw error;
        }
      }
      await client.query(`GRANT ALL ON SCHEMA public TO ${quoteIdentifier(role)}`).catch(() => undefined);
    }
  } finally {
    await client.end().catch(() => undefined);
  }
}

function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

function quoteLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

interface LoginCounters {
  loginsAccepted: number;
  loginsRejected: number;
  rejectionsByReason: Record<string, number>;
}

function emptyLoginCounters(): LoginCounters {
  return { loginsAccepted: 0, loginsRejected: 0, rejectionsByReason: {} };
}

function emptyEngineCounters(): Record<DatabaseEngine, LoginCounters> {
  return { postgres: emptyLoginCounters(), mysql: emptyLoginCounters(), sqlserver: emptyLoginCounters() };
}

function freezeLoginCounters(counters: LoginCounters): EngineLoginCounters {
  return Object.freeze({
    ...counters,
    rejectionsByReason: Object.freeze({ ...counters.rejectionsByReason }),
  });
}

function sumLoginCounters(...engines: LoginCounters[]): EngineLoginCounters {
  const rejectionsByReason: Record<string, number> = {};
  for (const engine of engines) {
    for (const [reason, count] of Object.entries(engine.rejectionsByReason)) {
      rejectionsByReason[reason] = (rejectionsByReason[reason] ?? 0) + count;
    }
  }
  return {
    loginsAccepted: engines.reduce((sum, engine) => sum + engine.loginsAccepted, 0),
    loginsRejected: engines.reduce((sum, engine) => sum + engine.loginsRejected, 0),
    rejectionsByReason: Object.freeze(rejectionsByReason),
  };
}

/** The MySQL backend when no URL is given. */
const DEFAULT_MYSQL_URL = "mysql://root@127.0.0.1:3306/test";

function resolveMysqlOptions(given: EmulatorOptions["mysql"]): EmulatorMysqlOptions | undefined {
  if (given === false) return undefined;
  const fromEnv = process.env.ENTRA_EMULATOR_MYSQL_URL;
  if (given === undefined) return fromEnv ? { backend: fromEnv } : undefined;
  return { ...given, backend: given.backend ?? fromEnv ?? DEFAULT_MYSQL_URL };
}

interface PreparedMysqlBackend {
  readonly target: { host: string; port: number; password?: string };
  readonly database: string;
}

async function prepareMysqlBackend(
  options: EmulatorMysqlOptions,
  userNames: readonly string[],
): Promise<PreparedMysqlBackend> {
  let url: URL;
  try {
    url = new URL(options.backend ?? DEFAULT_MYSQL_URL);
  } catch {
    throw new TypeError("mysql.backend must be a mysql:// URL.");
  }
  if (url.protocol !== "mysql:" && url.protocol !== "mariadb:") {
    throw new TypeError("mysql.backend must be a mysql:// URL.");
  }
  const password = url.password ? decodeURIComponent(url.password) : undefined;
  const urlDatabase = decodeURIComponent(url.pathname.replace(/^\//, ""));
  const database = options.database ?? (urlDatabase || "test");
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1") || "127.0.0.1";
  const port = url.port ? Number(url.port) : 3306;
  if (options.createUsers ?? true) {
    const identified = password === undefined ? "" : ` IDENTIFIED BY ${quoteMysqlString(password)}`;
    const statements = [`CREATE DATABASE IF NOT EXISTS ${quoteMysqlIdentifier(database)}`];
    for (const user of userNames) {
      const account = `${quoteMysqlString(user)}@'%'`;
      statements.push(
        `CREATE USER IF NOT EXISTS ${account}${identified}`,
        `GRANT ALL ON ${quoteMysqlIdentifier(database)}.* TO ${account}`,
      );
    }
    await runMysqlAdminStatements(
      { host, port, user: decodeURIComponent(url.username) || "root", password },
      statements,
    );
  }
  return { target: { host, port, password }, database };
}

function quoteMysqlIdentifier(name: string): string {
  return `\`${name.replaceAll("`", "``")}\``;
}

function quoteMysqlString(value: string): string {
  return `'${value.replaceAll("\\", "\\\\").replaceAll("'", "''")}'`;
}
