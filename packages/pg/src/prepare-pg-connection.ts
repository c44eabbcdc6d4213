import { createRequire } from "node:module";
import {
  assertSecureTls,
  EntraAuthError,
  type EntraOptions,
  type EntraTarget,
  holdTokenProvider,
  inspectTlsPeer,
  inspectTlsValue,
  reactToServerRejection,
  resolveEntraTarget,
} from "@org/entra-core";
import type pg from "pg";
import { parseIntoClientConfig } from "pg-connection-string";

/** The pg config shape `withEntra` accepts and returns: a `pg.PoolConfig` or `pg.ClientConfig`. */
export type PgEntraConfig = pg.PoolConfig;

/** pg's `Client` option: the class a pool (or knex, TypeORM) builds its connections from. */
export type PgClientConstructor = NonNullable<pg.PoolConfig["Client"]>;

/**
 * A pg config prepared for Entra authentication, from {@link preparePgConnection}: the pieces the
 * ORM adapters compose into their own options.
 */
export interface PgEntraConnection {
  /**
   * The pg config: your fields (a `connectionString` parsed into them), host, port, database and
   * user resolved, verified `ssl`, and the async `password` hook that hands pg a token for each
   * new connection.
   */
  readonly config: PgEntraConfig;
  /** The resolved target: settings, shared provider, and the user name when one was given. */
  readonly target: EntraTarget;
  /**
   * A pg `Client` class that reads the user name from the token before it connects: pg sends the
   * name before it asks for the password. Pools need it when `target.user` is `undefined`.
   *
   * @param Base - The class to extend. Defaults to pg's own `Client` (loaded only now).
   */
  userLearningClient(Base?: PgClientConstructor): PgClientConstructor;
}

/** How an adapter built on this one names its settings in error messages. */
export interface PrepareNaming {
  /** Where the `ssl` value came from in the caller's own options, e.g. `dialectOptions.ssl`. Defaults to `ssl`. */
  readonly sslSetting?: string;
}

/** pg calls the password function with `this` bound to the connecting `pg.Client`. */
type PasswordFunction = (this: unknown) => Promise<string>;

/** The parts of a connecting `pg.Client` the password hook looks at (pg's own fields). */
interface ConnectingClient {
  readonly user?: string;
  readonly host?: string;
  readonly connection?: {
    /** The socket pg writes to: a `tls.TLSSocket` once TLS is up. */
    readonly stream?: unknown;
    prependListener?(event: "errorMessage", listener: (message: Error) => void): unknown;
    removeListener?(event: "errorMessage", listener: (message: Error) => void): unknown;
    once?(event: "readyForQuery" | "end", listener: () => void): unknown;
  };
}

/**
 * Prepares a node-postgres config for Entra authentication without any I/O: resolves host, port,
 * database and user (config, then `options.username`, then the Service Connector variables),
 * applies the TLS policy, finds the shared token provider, and builds the `password` hook. The
 * driver adapter's `withEntra` and the ORM adapters (knex, Sequelize, TypeORM) build on it.
 *
 * - TLS is on and verified (`ssl: { rejectUnauthorized: true }`). A config that disables TLS,
 *   certificate verification or the host name check, and a process with
 *   `NODE_TLS_REJECT_UNAUTHORIZED=0`, throw `EntraAuthError` (`INSECURE_TRANSPORT`) unless
 *   `allowInsecure: true`.
 * - The `password` hook checks the live connection before it fetches a token (TLS up, chain
 *   verified, certificate issued for the host) and reacts to the server's answer: an expired or
 *   invalid token is dropped, and the error says what to change.
 * - Each connection that got a token holds the shared provider until it ends, so the provider
 *   refreshes ahead of expiry while a pool has open connections and stops after `pool.end()`.
 * - A `connectionString` is parsed into fields so that it cannot silently drop the hook; it must
 *   not contain a password. Both forms libpq knows are read: the URL
 *   (`postgresql://user@host:5432/db?sslmode=require`) and `keyword=value`
 *   (`host=... port=5432 dbname=db user=... sslmode=require`), as Azure's portal shows them.
 *   `sslmode` `prefer`, `require` and `verify-ca` mean verified TLS here (as in pg 8) and are
 *   parsed without pg-connection-string's deprecation warning.
 *
 * @example
 * ```ts
 * const { config, target, userLearningClient } = preparePgConnection({ host, database }, options);
 * const pool = new pg.Pool(target.user ? config : { ...config, Client: userLearningClient() });
 * ```
 *
 * @param config - Your pg `PoolConfig` / `ClientConfig`. Defaults to `{}` (Service Connector variables).
 * @param naming - How the caller's options name the settings, for error messages.
 * @throws EntraAuthError `INSECURE_TRANSPORT`, or `INVALID_SETTING` (a static password, a
 *   malformed `AZURE_POSTGRESQL_*` variable), before any I/O.
 */
export function preparePgConnection(
  config?: PgEntraConfig,
  options: EntraOptions = {},
  naming: PrepareNaming = {},
): PgEntraConnection {
  const { connectionString, ...rest } = config ?? {};
  const fromUrl = connectionString ? parseConnectionString(connectionString) : {};
  // pg lets the URL win over explicit fields; keep that precedence.
  const merged: PgEntraConfig = { ...rest, ...fromUrl };

  if (typeof merged.password === "string" && merged.password !== "") {
    throw new EntraAuthError("INVALID_SETTING", "The pg config has a static password.", {
      hint: "Remove `password`: @org/pg-entra supplies a fresh Entra access token for each connection.",
    });
  }

  const target = resolveEntraTarget("postgresql", merged, options);
  const tls = target.tls(
    merged.ssl,
    connectionString && fromUrl.ssl !== undefined
      ? "sslmode in connectionString"
      : (naming.sslSetting ?? "ssl"),
  );
  assertSecureTls(inspectTlsValue(tls.value, tls.setting), { allowInsecure: target.allowInsecure });
  const ssl = (
    target.allowInsecure ? tls.value : verifyingSsl(tls.value as PgEntraConfig["ssl"])
  ) as PgEntraConfig["ssl"];
  const servername =
    typeof ssl === "object" && ssl !== null ? (ssl as { servername?: string }).servername : undefined;

  const prepared: PgEntraConfig = {
    ...merged,
    ...defined({ host: target.host, port: target.port, database: target.database, user: target.user }),
    ssl,
    password: createPasswordFunction(target, servername),
  };
  return Object.freeze({
    config: prepared,
    target,
    userLearningClient: (Base?: PgClientConstructor) =>
      createUserLearningClient(Base ?? loadPgClient(), target),
  });
}

function defined<R extends Record<string, unknown>>(record: R): Partial<R> {
  return Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined)) as Partial<R>;
}

/**
 * The sslmode values pg-connection-string 2.x reads as `verify-full` while printing a multi-line
 * "SECURITY WARNING" (once per process) that they will mean less in pg v9. Azure's portal puts
 * `sslmode=require` in every connection string it shows. This adapter always verifies the
 * certificate and host name (the TLS policy below refuses anything weaker), so they are rewritten
 * to the `verify-full` they already mean here, and nothing is printed. With `uselibpqcompat=true`
 * the string asks for libpq's weaker meanings: it is left as is, and the TLS policy refuses it.
 */
const VERIFY_FULL_ALIASES = new Set(["prefer", "require", "verify-ca"]);

/**
 * libpq's `keyword=value` form (`host=h port=5432 dbname=d user=u sslmode=require`): values may be
 * single-quoted, and `\` escapes the next character. `undefined` when the string is not in that
 * form (pg-connection-string reads only URLs: it would take the whole string as a database name).
 */
function parseKeywordValueString(connectionString: string): Map<string, string> | undefined {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(connectionString.trim())) return undefined;
  const pattern = /\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*('(?:[^'\\]|\\.)*'|(?:[^\s'\\]|\\.)*)/y;
  const values = new Map<string, string>();
  let index = 0;
  while (index < connectionString.length) {
    if (/^\s*$/.test(connectionString.slice(index))) break;
    pattern.lastIndex = index;
    const match = pattern.exec(connectionString);
    if (!match) return undefined;
    const raw = match[2] as string;
    const unquoted = raw.startsWith("'") ? raw.slice(1, -1) : raw;
    values.set(match[1] as string, unquoted.replace(/\\(.)/g, "$1"));
    index = pattern.lastIndex;
  }
  return values.size > 0 ? values : undefined;
}

/** The connection string as a URL pg-connection-string parses without its sslmode warning. */
function normalizeConnectionString(connectionString: string): { url: string; database?: string } {
  const keywords = parseKeywordValueString(connectionString);
  if (keywords) {
    const { dbname, ...rest } = Object.fromEntries(keywords) as Record<string, string>;
    if (rest.uselibpqcompat !== "true" && rest.sslmode && VERIFY_FULL_ALIASES.has(rest.sslmode)) {
      rest.sslmode = "verify-full";
    }
    // Every keyword as a query parameter: pg-connection-string reads host, port and user from
    // there too; the database is set afterwards, unchanged by URL decoding.
    return { url: `postgresql://?${new URLSearchParams(rest)}`, database: dbname };
  }
  if (/[?&]uselibpqcompat=true(?:&|#|$)/.test(connectionString)) return { url: connectionString };
  return {
    url: connectionString.replace(
      /([?&]sslmode=)(prefer|require|verify-ca)(?=&|#|$)/g,
      (_match, prefix: string) => `${prefix}verify-full`,
    ),
  };
}

function parseConnectionString(connectionString: string): PgEntraConfig {
  const { url, database } = normalizeConnectionString(connectionString);
  const parsed = parseIntoClientConfig(url) as PgEntraConfig;
  if (database !== undefined) parsed.database = database;
  if (typeof parsed.password === "string" && parsed.password !== "") {
    throw new EntraAuthError("INVALID_SETTING", "The connectionString contains a password.", {
      hint: "Remove the password from the URL: @org/pg-entra supplies a fresh Entra access token for each connection.",
    });
  }
  const { password: _dropped, ...fields } = parsed;
  return Object.fromEntries(
    Object.entries(fields).filter(([, value]) => value !== undefined && value !== null),
  ) as PgEntraConfig;
}

/**
 * pg's TLS options with `rejectUnauthorized: true` set explicitly: pg passes them to
 * `tls.connect`, where an unset value would follow `NODE_TLS_REJECT_UNAUTHORIZED`.
 */
function verifyingSsl(ssl: PgEntraConfig["ssl"]): PgEntraConfig["ssl"] {
  if (ssl === true) return { rejectUnauthorized: true };
  if (typeof ssl === "object" && ssl !== null) return { ...ssl, rejectUnauthorized: true };
  return ssl;
}

function createPasswordFunction(target: EntraTarget, servername: string | undefined): PasswordFunction {
  return async function password(this: unknown) {
    const client = this as ConnectingClient | undefined;
    // pg calls the hook as a method of the client whose connection asked for the password; only
    // then is there a socket the token is about to be written to.
    if (client?.connection && !target.allowInsecure) {
      assertSecureTls(inspectTlsPeer(client.connection.stream, servername ?? client.host));
    }
    // Watch the connection's end before waiting for the token: a connection that ends meanwhile
    // (connect timeout, server gone) must not be held.
    const watch = client ? watchConnection(client) : undefined;
    const { token } = await target.provider.getToken();
    if (client && watch && !watch.ended) {
      // One hold per connection (pg asks once per connect; a second call must not add one): the
      // shared provider refreshes ahead in the background while a connection that signed in with
      // its token is open, and stops once the pool's connections have ended.
      watch.release ??= holdTokenProvider(target.provider, client);
      watchAuthFailure(client, watch, target, token);
    }
    return token;
  };
}

/**
 * What the password hook keeps per pg `Connection`, all ended by one `end` listener: pg emits
 * `end` when the socket closes, whatever closed it (`client.end()` and so `pool.end()`, a failed
 * login, which the server follows by closing the connection, a network error, a connect timeout).
 */
interface ConnectionWatch {
  /** Set by the connection's `end` event. */
  ended: boolean;
  /** Ends the hold on the shared provider, once taken. */
  release?: () => void;
  /** Removes the `errorMessage` listener of {@link watchAuthFailure}. */
  detach?: () => void;
}

/** The watch of each connection the hook has seen, keyed by pg's `Connection` object. */
const watches = new WeakMap<object, ConnectionWatch>();

function watchConnection(client: ConnectingClient): ConnectionWatch | undefined {
  const connection = client.connection;
  if (!connection?.once) return undefined;
  let watch = watches.get(connection);
  if (!watch) {
    const created: ConnectionWatch = { ended: false };
    connection.once("end", () => {
      created.ended = true;
      created.detach?.();
      created.release?.();
    });
    watches.set(connection, created);
    watch = created;
  }
  return watch;
}

/**
 * Listens for the server's answer to the token on this connection: pg emits the server's
 * ErrorResponse as `errorMessage` before it rejects `connect()` with it, so core's reaction
 * (drop an expired or invalid token, say what to change) runs on that error first. The listener
 * is removed at `readyForQuery` (signed in) or by the connection's `end` ({@link watchConnection}).
 */
function watchAuthFailure(
  client: ConnectingClient,
  watch: ConnectionWatch,
  target: EntraTarget,
  token: string,
): void {
  const connection = client.connection;
  if (!connection?.prependListener || !connection.removeListener || !connection.once) return;
  const onError = (error: Error) => {
    reactToServerRejection(error, {
      engine: "postgresql",
      adapter: "@org/pg-entra",
      token,
      user: client.user,
      provider: target.provider,
    });
  };
  watch.detach?.();
  connection.prependListener("errorMessage", onError);
  const detach = () => connection.removeListener?.("errorMessage", onError);
  watch.detach = detach;
  connection.once("readyForQuery", detach);
}

/**
 * pg's own `Client`, loaded only when a pool must learn the user name from the token, so that
 * packages building on this one (knex, Sequelize, TypeORM adapters) do not need `pg` installed for
 * MySQL-only apps.
 */
function loadPgClient(): PgClientConstructor {
  return (createRequire(import.meta.url)("pg") as typeof pg).Client;
}

function createUserLearningClient(Base: PgClientConstructor, target: EntraTarget): PgClientConstructor {
  const Client = Base as unknown as typeof pg.Client;
  class EntraClient extends Client {
    override connect(): Promise<pg.Client>;
    override connect(callback: (err: Error) => void): void;
    override connect(callback?: (err: Error) => void): Promise<pg.Client> | undefined {
      const ready = target.resolveUser().then((user) => {
        const params = (this as unknown as { connectionParameters: { user: string } }).connectionParameters;
        params.user = user;
        (this as unknown as { user: string }).user = user;
      });
      if (callback) {
        ready.then(
          () => super.connect(callback),
          (error: Error) => callback(error),
        );
        return undefined;
      }
      return ready.then(() => super.connect());
    }
  }
  return EntraClient as unknown as PgClientConstructor;
}
