import { createRequire } from "node:module";
import {
  assertSecureTls,
  type EntraAccessToken,
  EntraAuthError,
  type EntraOptions,
  type EntraTarget,
  guardMariadbStream,
  holdTokenProvider,
  logger,
  type MariadbStreamOption,
  reactToServerRejection,
  resolveEntraTarget,
  resolveMariadbSsl,
} from "@org/entra-core";
import type {
  ConnectionInfo,
  IsolationLevel,
  SqlDriverAdapter,
  SqlDriverAdapterFactory,
  SqlQuery,
  SqlResultSet,
  Transaction,
  TransactionOptions,
} from "@prisma/driver-adapter-utils";
import { loadPeer } from "./load-peer.js";

/** Options of `@prisma/adapter-mariadb` that still apply (`database` comes from the config). */
export interface PrismaMariaDbAdapterOptions {
  /** Use the text protocol instead of prepared statements. Defaults to `false`. */
  readonly useTextProtocol?: boolean;
  /** Called with errors of connections held by transactions. */
  readonly onConnectionError?: (error: Error) => void;
}

/**
 * The mariadb `logger` option: one function for everything, or one per kind.
 *
 * @inline
 */
type MariaDbLogger =
  | ((message: unknown) => void)
  | {
      /** Receives the connector's network traces. */
      readonly network?: (message: unknown) => void;
      /** Receives the queries the connector runs. */
      readonly query?: (message: unknown) => void;
      /** Receives every connection error. */
      readonly error?: (error: Error) => void;
      /** Receives the connector's warnings. */
      readonly warning?: (message: unknown) => void;
    };

/**
 * `createEntraAdapter` config for Azure Database for MySQL: the options of a mariadb connector
 * pool (`host`, `port`, `database`, `ssl`, `connectionLimit`, `acquireTimeout`, `idleTimeout`,
 * ...) plus the provider. There is no `password`: each inner pool gets a current access token.
 */
export interface EntraMysqlAdapterConfig {
  /** Selects `@prisma/adapter-mariadb` with pool rotation. */
  readonly provider: "mysql";
  /** Server host. Defaults to `AZURE_MYSQL_HOST`, then the connector's `localhost`. */
  readonly host?: string;
  /** Server port. Defaults to `AZURE_MYSQL_PORT`, then 3306. */
  readonly port?: number;
  /** Database. Defaults to `AZURE_MYSQL_DATABASE`. */
  readonly database?: string;
  /** Database user. Defaults to `options.username`, `AZURE_MYSQL_USER`, then the name in the token. */
  readonly user?: string;
  /**
   * TLS options of the mariadb connector. Must verify certificates (the token is sent in clear
   * text inside TLS); `rejectUnauthorized: true` is set unless given. Defaults to `true` (Node's
   * CA store plus `NODE_EXTRA_CA_CERTS`). Each connection is opened through a guard that refuses
   * a server claiming to be MariaDB, whose certificate the pinned connector would not check.
   */
  readonly ssl?: boolean | Readonly<Record<string, unknown>>;
  /** Connections per inner pool. Defaults to the connector's 10. */
  readonly connectionLimit?: number;
  /**
   * Idle connections an inner pool keeps open (and re-opens in the background). Defaults to 1, so
   * that a new pool does not open `connectionLimit` connections at each rotation.
   */
  readonly minimumIdle?: number;
  /** If set, must allow `mysql_clear_password`, the plugin Azure switches Entra users to. */
  readonly restrictedAuth?: string | readonly string[];
  /** mariadb logger; its `error` function still receives every error. */
  readonly logger?: MariaDbLogger;
  /** Options for the inner `new PrismaMariaDb(pool, adapterOptions)`. */
  readonly adapterOptions?: PrismaMariaDbAdapterOptions;
  /** Any other mariadb pool or connection option, passed through. */
  readonly [option: string]: unknown;
}

/** Counters of a rotating MySQL adapter; a snapshot each time it is read. */
export interface EntraMysqlAdapterStats {
  /** Inner pools created, one per token (and one more after a rejected login). */
  readonly poolsCreated: number;
  /** Inner pools ended after they drained. */
  readonly poolsEnded: number;
  /** Retired pools still finishing queries or transactions they accepted before retirement. */
  readonly poolsDraining: number;
  /** Logins the server rejected (the pool was then ended and its waiting queries failed). */
  readonly loginsRejected: number;
}

/** The parts of a mariadb pool this module uses (public mariadb API). */
interface MariaDbPool {
  end(): Promise<void>;
  on(event: "error", listener: (error: Error) => void): unknown;
  /** Emitted with each connection the pool has opened (logged in). */
  on(event: "connection", listener: (connection: MariaDbConnection) => void): unknown;
  activeConnections(): number;
}

/** A connection as the pool's `connection` event hands it over: an EventEmitter with its socket. */
interface MariaDbConnection {
  /** The socket (a `tls.TLSSocket` once TLS is up); its `close` ends the connection's hold. */
  readonly socket?: { once?(event: "close", listener: () => void): unknown };
  once?(event: "end", listener: () => void): unknown;
}

interface MariaDbModule {
  createPool(config: Record<string, unknown>): MariaDbPool;
  /** The connector's version (`@prisma/adapter-mariadb` 7.10 pins 3.4.5). */
  readonly version?: string;
}

type PrismaMariaDbFactory = new (
  pool: MariaDbPool,
  options: Record<string, unknown>,
) => { connect(): Promise<SqlDriverAdapter> };

/** One inner pool: a mariadb pool created with one token, wrapped by one `PrismaMariaDb` adapter. */
interface Generation {
  readonly id: number;
  readonly token: string;
  readonly expiresOnTimestamp: number;
  pool?: MariaDbPool;
  ready: Promise<SqlDriverAdapter>;
  inner?: SqlDriverAdapter;
  /** Never resolves; rejects when the server rejects this pool's token. */
  readonly failure: Promise<never>;
  fail(error: Error): void;
  failed?: Error;
  /** Queries running and transactions open on this pool. */
  busy: number;
  retired: boolean;
  ended: boolean;
  timer?: ReturnType<typeof setTimeout>;
  /** Ends the hold on the shared provider of each connection of this pool still open. */
  readonly releases: Set<() => void>;
}

/** Settings resolved once, when the factory is created. */
interface MysqlSettings {
  /** The resolved target: shared provider, user name when one was given, `allowInsecure`. */
  readonly target: EntraTarget;
  readonly database: string | undefined;
  readonly poolConfig: Readonly<Record<string, unknown>>;
  readonly userLogger: MariaDbLogger | undefined;
  readonly adapterOptions: PrismaMariaDbAdapterOptions;
}

const ADAPTER_NAME = "@org/prisma-entra (@prisma/adapter-mariadb)";
/** A pool is retired this long before its token expires even when no newer token was seen. */
const MAX_RETIRE_MARGIN_IN_MS = 60_000;

/**
 * Resolves the config (Service Connector variables, TLS policy, username) and returns the rotating
 * adapter factory. Throws `EntraAuthError` before any network I/O for insecure or invalid configs.
 */
export function createEntraMariaDbAdapter(
  config: EntraMysqlAdapterConfig,
  options: EntraOptions,
): EntraMariaDbAdapterFactory {
  const {
    provider: _provider,
    adapterOptions = {},
    logger: userLogger,
    password,
    ...rest
  } = config as EntraMysqlAdapterConfig & { password?: unknown };
  if (password !== undefined && password !== "") {
    throw new EntraAuthError("INVALID_SETTING", "The MySQL config has a static password.", {
      hint: "Remove `password`: @org/prisma-entra gives each inner pool a current Entra access token.",
    });
  }
  if (rest.restrictedAuth !== undefined) {
    const allowed =
      typeof rest.restrictedAuth === "string" ? rest.restrictedAuth.split(",") : rest.restrictedAuth;
    if (!allowed.map((name) => name.trim()).includes("mysql_clear_password")) {
      throw new EntraAuthError("INVALID_SETTING", "restrictedAuth does not allow mysql_clear_password.", {
        hint: "Azure switches Entra users to mysql_clear_password: add it to restrictedAuth or remove the option.",
      });
    }
  }
  const target = resolveEntraTarget("mysql", rest, options);
  const { host, port, database } = target;
  const tls = target.tls(rest.ssl, "ssl");
  const { ssl, finding } = resolveMariadbSsl(tls.value, tls.setting);
  assertSecureTls(finding, { allowInsecure: target.allowInsecure });

  const poolConfig: Record<string, unknown> = {
    ...rest,
    ...(host === undefined ? {} : { host }),
    ...(port === undefined ? {} : { port }),
    ...(database === undefined ? {} : { database }),
    ssl,
    minimumIdle: rest.minimumIdle ?? 1,
    // The connector's 1 s default abandons TLS logins that carry a multi-KB token under load,
    // after the server may already have accepted them.
    connectTimeout: rest.connectTimeout ?? 10_000,
    // What @prisma/adapter-mariadb applies to pools it creates itself.
    prepareCacheLength: rest.prepareCacheLength ?? 0,
  };
  delete poolConfig.user;
  return new EntraMariaDbAdapterFactory({
    target,
    database,
    poolConfig: Object.freeze(poolConfig),
    userLogger,
    adapterOptions,
  });
}

/**
 * A Prisma driver adapter factory for MySQL that keeps every new physical connection on a
 * currently valid token, although the mariadb connector (and so `@prisma/adapter-mariadb`) only
 * takes a static password: each token gets its own inner pool, new work always goes to the pool of
 * the token the shared provider currently hands out, and older pools drain and end. See the README,
 * "How MySQL works without a per-connection hook".
 *
 * @example
 * ```ts
 * const prisma = new PrismaClient({ adapter: createEntraAdapter({ provider: "mysql", database: "app" }) });
 * ```
 */
export class EntraMariaDbAdapterFactory implements SqlDriverAdapterFactory {
  /** Prisma's provider name for MySQL. */
  readonly provider = "mysql" as const;
  /** Names this adapter in Prisma's diagnostics. */
  readonly adapterName = ADAPTER_NAME;
  readonly #settings: MysqlSettings;

  /** Use {@link createEntraAdapter} with `provider: "mysql"`. */
  constructor(settings: MysqlSettings) {
    this.#settings = settings;
  }

  /**
   * Creates the adapter Prisma uses and opens its first inner pool, so that credential, TLS and
   * login problems surface here. One adapter per call; Prisma calls it once.
   */
  async connect(): Promise<EntraMariaDbAdapter> {
    const adapter = new EntraMariaDbAdapter(this.#settings);
    try {
      await adapter.warmUp();
    } catch (error) {
      await adapter.dispose();
      throw error;
    }
    return adapter;
  }
}

/**
 * The adapter Prisma talks to: a `SqlDriverAdapter` that routes each query and transaction to the
 * inner `@prisma/adapter-mariadb` adapter of the current token.
 */
export class EntraMariaDbAdapter implements SqlDriverAdapter {
  /** Prisma's provider name for MySQL. */
  readonly provider = "mysql" as const;
  /** Names this adapter in Prisma's diagnostics. */
  readonly adapterName = ADAPTER_NAME;
  readonly #settings: MysqlSettings;
  #current: Generation | undefined;
  readonly #live = new Set<Generation>();
  #closed = false;
  #poolsCreated = 0;
  #poolsEnded = 0;
  #loginsRejected = 0;

  /** Use {@link EntraMariaDbAdapterFactory.connect}. */
  constructor(settings: MysqlSettings) {
    this.#settings = settings;
  }

  /** Counters of inner pools, for monitoring the rotation. */
  get stats(): EntraMysqlAdapterStats {
    let draining = 0;
    for (const generation of this.#live) if (generation.retired) draining++;
    return {
      poolsCreated: this.#poolsCreated,
      poolsEnded: this.#poolsEnded,
      poolsDraining: draining,
      loginsRejected: this.#loginsRejected,
    };
  }

  /** Opens the pool of the current token. Called by `connect()`. */
  async warmUp(): Promise<void> {
    await this.#run(async () => undefined);
  }

  queryRaw(query: SqlQuery): Promise<SqlResultSet> {
    return this.#run((inner) => inner.queryRaw(query));
  }

  executeRaw(query: SqlQuery): Promise<number> {
    return this.#run((inner) => inner.executeRaw(query));
  }

  executeScript(script: string): Promise<void> {
    return this.#run((inner) => inner.executeScript(script));
  }

  async startTransaction(isolationLevel?: IsolationLevel): Promise<Transaction> {
    const generation = await this.#acquire();
    try {
      const inner = await Promise.race([generation.ready, generation.failure]);
      const transaction = await Promise.race([inner.startTransaction(isolationLevel), generation.failure]);
      // The transaction keeps its pool (and connection) busy until it commits or rolls back.
      return new TrackedTransaction(transaction, () => this.#release(generation));
    } catch (error) {
      this.#release(generation);
      throw error;
    }
  }

  getConnectionInfo(): ConnectionInfo {
    return (
      this.#current?.inner?.getConnectionInfo?.() ?? {
        schemaName: this.#settings.database,
        supportsRelationJoins: false,
      }
    );
  }

  /**
   * Ends every inner pool (the connector waits up to 10 s for connections in use). Once it
   * resolves, no connection of this adapter holds the shared token provider any more.
   */
  async dispose(): Promise<void> {
    this.#closed = true;
    this.#current = undefined;
    const ending: Promise<void>[] = [];
    for (const generation of this.#live) {
      generation.retired = true;
      ending.push(this.#end(generation));
    }
    await Promise.all(ending);
  }

  async #run<T>(work: (inner: SqlDriverAdapter) => Promise<T>): Promise<T> {
    const generation = await this.#acquire();
    try {
      const inner = await Promise.race([generation.ready, generation.failure]);
      return await Promise.race([work(inner), generation.failure]);
    } finally {
      this.#release(generation);
    }
  }

  /**
   * The pool of the token the provider hands out now, creating it when the token changed. The
   * provider never hands out a token inside its must-refresh margin, so a pool receiving new work
   * has a token that is still valid for at least that margin.
   */
  async #acquire(): Promise<Generation> {
    if (this.#closed) {
      throw new EntraAuthError("PROVIDER_CLOSED", "The Prisma adapter was disposed.", {
        hint: "Create a new PrismaClient (or call connect() on the factory) to reconnect.",
      });
    }
    const access = await this.#settings.target.provider.getToken();
    let generation = this.#current;
    const newer =
      !generation ||
      generation.retired ||
      (generation.token !== access.token && access.expiresOnTimestamp >= generation.expiresOnTimestamp);
    if (newer) {
      generation = this.#create(access);
      const previous = this.#current;
      this.#current = generation;
      if (previous) this.#retire(previous);
    }
    const chosen = generation as Generation;
    chosen.busy++;
    return chosen;
  }

  #release(generation: Generation): void {
    generation.busy--;
    if (generation.retired && generation.busy === 0) void this.#end(generation);
  }

  /** No new work goes to a retired pool; it ends as soon as its running work is done. */
  #retire(generation: Generation): void {
    if (generation.retired) return;
    generation.retired = true;
    clearTimeout(generation.timer);
    if (this.#current === generation) this.#current = undefined;
    if (generation.busy === 0) void this.#end(generation);
  }

  async #end(generation: Generation): Promise<void> {
    if (generation.ended) return;
    generation.ended = true;
    clearTimeout(generation.timer);
    this.#live.delete(generation);
    this.#poolsEnded++;
    await generation.pool?.end().catch(() => {});
    // The pool has ended (or given up on) every connection; their sockets close a moment later.
    for (const release of [...generation.releases]) release();
  }

  /**
   * Holds the shared provider for one connection of a pool, from its login until its socket
   * closes (the connector emits `end` instead when it closes a connection on an error, after
   * removing the socket's listeners): the provider refreshes ahead of expiry while connections are
   * open, so the next query finds a newer token and moves to a new pool in time.
   */
  #hold(generation: Generation, connection: MariaDbConnection): void {
    if (generation.ended) return;
    const release = holdTokenProvider(this.#settings.target.provider, connection);
    const done = () => {
      release();
      generation.releases.delete(done);
    };
    generation.releases.add(done);
    connection.socket?.once?.("close", done);
    connection.once?.("end", done);
  }

  #create(access: EntraAccessToken): Generation {
    const settings = this.#settings;
    let fail: (error: Error) => void = () => {};
    const failure = new Promise<never>((_, reject) => {
      fail = reject;
    });
    failure.catch(() => {});
    const generation: Generation = {
      id: ++this.#poolsCreated,
      token: access.token,
      expiresOnTimestamp: access.expiresOnTimestamp,
      ready: failure,
      failure,
      fail: (error) => fail(error),
      busy: 0,
      retired: false,
      ended: false,
      releases: new Set(),
    };
    this.#live.add(generation);
    try {
      const user = settings.target.userFor(access.token);
      const { PrismaMariaDb } = loadPeer<{ PrismaMariaDb: PrismaMariaDbFactory }>(
        "@prisma/adapter-mariadb",
        "mysql",
      );
      const mariadb = loadMariaDb();
      const pool = mariadb.createPool({
        ...settings.poolConfig,
        ...guardedStream(settings, mariadb.version),
        user,
        password: access.token,
        logger: chainLogger(settings.userLogger, (error) => this.#onConnectionError(generation, error)),
      });
      // Without a listener, a failed background connection would be an uncaught 'error' event.
      pool.on("error", (error) => {
        logger.warning(`MySQL pool ${generation.id} could not open a connection: ${error.message}`);
      });
      pool.on("connection", (connection) => this.#hold(generation, connection));
      generation.pool = pool;
      generation.ready = new PrismaMariaDb(pool, {
        ...settings.adapterOptions,
        database: settings.database,
        disposeExternalPool: false,
      })
        .connect()
        .then((inner) => {
          generation.inner = inner;
          return inner;
        });
      generation.ready.catch(() => {});
    } catch (error) {
      generation.fail(error as Error);
      this.#retire(generation);
      return generation;
    }
    // Backstop for idle apps: retire the pool shortly before its token expires even if no query
    // arrived to notice a newer token, so that it opens no connection with an expired token.
    const remaining = access.expiresOnTimestamp - Date.now();
    const margin = Math.min(MAX_RETIRE_MARGIN_IN_MS, Math.max(0, remaining) / 8);
    generation.timer = setTimeout(() => this.#retire(generation), Math.max(0, remaining - margin));
    generation.timer.unref?.();
    return generation;
  }

  /**
   * Called synchronously by the connector for every error; acts on refused logins only. The pool is
   * ended at once, which also cancels the connector's retries with the same refused token.
   */
  #onConnectionError(
    generation: Generation,
    error: Error & { fatal?: boolean; code?: unknown; errno?: unknown },
  ): void {
    if (generation.failed) return;
    if (isUnverifiedServer(error)) {
      // Retrying cannot make this server verifiable: fail the waiting queries now, not after the
      // pool's acquire timeout, and let the next query start a new pool.
      generation.failed = error;
      generation.fail(error);
      this.#retire(generation);
      void this.#end(generation);
      return;
    }
    if (error.fatal !== true) return;
    const message = error.message;
    const described = reactToServerRejection(error, {
      engine: "mysql",
      adapter: "@org/prisma-entra",
      serverMessage: message,
      serverCode:
        typeof (error as { errno?: unknown }).errno === "number"
          ? (error as { errno: number }).errno
          : undefined,
      token: generation.token,
      user: this.#settings.target.user,
      provider: this.#settings.target.provider,
    });
    if (!described) return;
    this.#loginsRejected++;
    const failure = new EntraAuthError(
      described.code,
      `MySQL refused the Entra login: ${message} [@org/prisma-entra ${described.code}]`,
      { hint: described.hint, cause: error },
    );
    generation.failed = failure;
    generation.fail(failure);
    this.#retire(generation);
    void this.#end(generation);
  }
}

/** Counts a transaction as work of its pool until it commits or rolls back. */
class TrackedTransaction implements Transaction {
  readonly #inner: Transaction;
  readonly #done: () => void;
  #finished = false;

  constructor(inner: Transaction, done: () => void) {
    this.#inner = inner;
    this.#done = done;
  }

  get provider() {
    return this.#inner.provider;
  }

  get adapterName() {
    return this.#inner.adapterName;
  }

  get options(): TransactionOptions {
    return this.#inner.options;
  }

  queryRaw(query: SqlQuery): Promise<SqlResultSet> {
    return this.#inner.queryRaw(query);
  }

  executeRaw(query: SqlQuery): Promise<number> {
    return this.#inner.executeRaw(query);
  }

  async commit(): Promise<void> {
    try {
      await this.#inner.commit();
    } finally {
      this.#finish();
    }
  }

  async rollback(): Promise<void> {
    try {
      await this.#inner.rollback();
    } finally {
      this.#finish();
    }
  }

  async createSavepoint(name: string): Promise<void> {
    await this.#inner.createSavepoint?.(name);
  }

  async rollbackToSavepoint(name: string): Promise<void> {
    await this.#inner.rollbackToSavepoint?.(name);
  }

  async releaseSavepoint(name: string): Promise<void> {
    await this.#inner.releaseSavepoint?.(name);
  }

  #finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#done();
  }
}

/** The mariadb connector that `@prisma/adapter-mariadb` itself depends on (same copy and version). */
/** Node's codes for a certificate that failed verification (chain, validity or host name). */
const TLS_VERIFICATION_CODES = new Set([
  "ERR_TLS_CERT_ALTNAME_INVALID",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_SIGNATURE_FAILURE",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
]);

/**
 * Whether a connection failed because the server could not be verified: our greeting guard's
 * `INSECURE_TRANSPORT`, a certificate that failed verification, or a server without TLS
 * (the connector's `ER_SERVER_SSL_DISABLED`).
 */
function isUnverifiedServer(error: Error & { code?: unknown }): boolean {
  if (error.name === "EntraAuthError") return error.code === "INSECURE_TRANSPORT";
  return (
    typeof error.code === "string" &&
    (TLS_VERIFICATION_CODES.has(error.code) || error.code === "ER_SERVER_SSL_DISABLED")
  );
}

/**
 * The `stream` option that opens each connection through core's greeting guard: the connector
 * `@prisma/adapter-mariadb` pins (3.4.5) trusts any certificate of a server claiming to be
 * MariaDB and would answer its cleartext switch with the token.
 */
function guardedStream(
  settings: MysqlSettings,
  connectorVersion: string | undefined,
): { stream?: MariadbStreamOption } {
  const config = settings.poolConfig;
  if (settings.target.allowInsecure || config.socketPath) return {};
  return {
    stream: guardMariadbStream({
      host: typeof config.host === "string" ? config.host : "localhost",
      port: typeof config.port === "number" ? config.port : Number(config.port ?? 3306),
      connectorVersion,
      open: config.stream as MariadbStreamOption | undefined,
      timeoutInMs: typeof config.connectTimeout === "number" ? config.connectTimeout : undefined,
    }),
  };
}

function loadMariaDb(): MariaDbModule {
  const require = createRequire(import.meta.url);
  const adapterEntry = require.resolve("@prisma/adapter-mariadb");
  return createRequire(adapterEntry)("mariadb") as MariaDbModule;
}

function chainLogger(
  user: MariaDbLogger | undefined,
  onError: (error: Error) => void,
): Exclude<MariaDbLogger, (message: unknown) => void> {
  if (typeof user === "function") {
    return {
      network: user,
      query: user,
      warning: user,
      error: (error) => {
        onError(error);
        user(error);
      },
    };
  }
  return {
    ...user,
    error: (error) => {
      onError(error);
      user?.error?.(error);
    },
  };
}
