import { Socket } from "node:net";
import {
  assertSecureTls,
  EntraAuthError,
  type EntraOptions,
  type EntraTarget,
  holdTokenProvider,
  inspectTlsPeer,
  reactToServerRejection,
  resolveEntraTarget,
} from "@org/entra-core";
import type { ConnectionOptions } from "mysql2";
import { parseUri } from "./parse-uri.js";
import { resolveSsl } from "./resolve-ssl.js";

/**
 * The mysql2 config shape `withEntra` accepts and returns: `ConnectionOptions` for
 * `createConnection`, or its extension `PoolOptions` for `createPool` and `PoolCluster.add`
 * (callback and `mysql2/promise` APIs alike).
 */
export type Mysql2EntraConfig = ConnectionOptions;

/** The `authPlugins` entry type of mysql2. */
type AuthPluginFactory = NonNullable<ConnectionOptions["authPlugins"]>[string];

/** What mysql2 passes to an auth plugin factory (`lib/commands/auth_switch.js`). */
interface AuthPluginContext {
  /**
   * The connecting mysql2 connection; `config` is its own copy of the options, `stream` the
   * socket it writes to (a `tls.TLSSocket` once TLS is up).
   */
  readonly connection?: {
    readonly config?: { readonly user?: string; readonly host?: string };
    readonly stream?: unknown;
    once?(event: "end", listener: () => void): unknown;
  };
  /** The handshake (or change-user) command: an EventEmitter that emits `error` and `end`. */
  readonly command?: {
    prependListener?(event: "error", listener: (error: MysqlServerError) => void): unknown;
    removeListener?(event: "error", listener: (error: MysqlServerError) => void): unknown;
    once?(event: "end", listener: () => void): unknown;
  };
}

/** A mysql2 error built from the server's ERR packet. */
interface MysqlServerError extends Error {
  readonly errno?: number;
  readonly sqlMessage?: string;
}

/**
 * The per-connection `ConnectionConfig` mysql2 hands to a `stream` factory (its own fields).
 *
 * @inline
 */
interface ConnectingConfig {
  /** The user name the connection logs in with; a factory may set it before the handshake. */
  user?: string;
  /** The server to connect to. mysql2's default is `localhost`. */
  readonly host?: string;
  /** The server's port. mysql2's default is 3306. */
  readonly port?: number;
  /** A Unix socket to connect to instead of `host` and `port`. */
  readonly socketPath?: string;
  /** Whether to turn on TCP keep-alive once connected. */
  readonly enableKeepAlive?: boolean;
  /** The keep-alive initial delay in milliseconds, with `enableKeepAlive`. */
  readonly keepAliveInitialDelay?: number;
}

/** A mysql2 `stream` option: called with each new connection's own config copy. */
export type Mysql2StreamFactory = (options: { readonly config: ConnectingConfig }) => Socket;

/**
 * A mysql2 config prepared for Entra authentication, from {@link prepareMysql2Connection}: the
 * pieces the ORM adapters compose into their own options.
 */
export interface Mysql2EntraConnection {
  /**
   * The mysql2 config: your fields (a `uri` parsed into them), host, port, database and user
   * resolved, verified `ssl`, and `authPlugins.mysql_clear_password` answering the server's switch
   * to cleartext with a token. Without `stream`.
   */
  readonly config: Mysql2EntraConfig;
  /** The resolved target: settings, shared provider, and the user name when one was given. */
  readonly target: EntraTarget;
  /**
   * A mysql2 `stream` option that reads the user name from the token before the connection
   * opens its socket (mysql2 sends the name in its first packet). Needed when `target.user` is
   * `undefined`.
   */
  userLearningStream(): Mysql2StreamFactory;
}

/** Plugin and stream factories made here, so that preparing a config twice is harmless. */
const ownHooks = new WeakSet<object>();

/**
 * Prepares a mysql2 config for Entra authentication without any I/O: resolves host, port,
 * database and user (config, then `options.username`, then the Service Connector variables),
 * applies the TLS policy, finds the shared token provider, and builds the clear-password plugin.
 * The driver adapter's `withEntra` and the ORM adapters (knex, Sequelize, TypeORM) build on it.
 *
 * - TLS verifies the certificate and host name (`ssl: { verifyIdentity: true }`). A config that
 *   disables TLS, certificate or host name verification, names an SSL profile or sets
 *   `insecureAuth`, and a process with `NODE_TLS_REJECT_UNAUTHORIZED=0`, throw `EntraAuthError`
 *   (`INSECURE_TRANSPORT`) unless `allowInsecure: true`.
 * - The plugin checks the live connection before it fetches a token (TLS up, chain verified,
 *   certificate issued for the host) and reacts to the server's answer: an expired or invalid
 *   token is dropped, and the error says what to change.
 * - Each connection that got a token holds the shared provider until its socket closes, so the
 *   provider refreshes ahead of expiry while a pool has open connections and stops after `pool.end()`.
 *
 * @example
 * ```ts
 * const { config, target, userLearningStream } = prepareMysql2Connection({ host, database }, options);
 * const pool = mysql.createPool(target.user ? config : { ...config, stream: userLearningStream() });
 * ```
 *
 * @param config - Your mysql2 `ConnectionOptions` / `PoolOptions`. Defaults to `{}` (Service Connector variables).
 * @param naming - How the caller's options name the settings, for error messages.
 * @throws EntraAuthError `INSECURE_TRANSPORT`, `INVALID_SETTING` (static password, conflicting
 *   auth hooks, malformed `AZURE_MYSQL_*` variable) or `USERNAME_UNRESOLVED` (no user and a custom
 *   `stream`), before any I/O.
 */
export function prepareMysql2Connection(
  config?: Mysql2EntraConfig,
  options: EntraOptions = {},
  naming: { readonly sslSetting?: string } = {},
): Mysql2EntraConnection {
  const { uri, ...rest } = config ?? {};
  const fromUri = uri ? parseUri(uri) : {};
  const explicit = Object.fromEntries(
    Object.entries(rest).filter(([, value]) => value !== undefined && value !== null),
  ) as Mysql2EntraConfig;
  // mysql2 lets explicit fields win over the URI; keep that precedence.
  const merged: Mysql2EntraConfig = { ...fromUri, ...explicit };

  refuseStaticSecrets(merged);
  const authPlugins = merged.authPlugins ?? {};
  const existingPlugin = authPlugins.mysql_clear_password;
  if (existingPlugin && !ownHooks.has(existingPlugin)) {
    throw new EntraAuthError(
      "INVALID_SETTING",
      "The mysql2 config already has authPlugins.mysql_clear_password.",
      {
        hint: "Remove it: @org/mysql2-entra supplies the clear-password plugin that sends the Entra access token.",
      },
    );
  }
  if (merged.authSwitchHandler !== undefined) {
    throw new EntraAuthError("INVALID_SETTING", "The mysql2 config has the legacy authSwitchHandler.", {
      hint: "Remove it: mysql2 would use it instead of the authPlugins entry that sends the Entra access token.",
    });
  }

  const target = resolveEntraTarget("mysql", merged, options);
  const tls = target.tls(
    merged.ssl,
    explicit.ssl === undefined && fromUri.ssl !== undefined ? "ssl in uri" : (naming.sslSetting ?? "ssl"),
  );
  const { ssl, finding } = resolveSsl(tls.value, tls.setting);
  assertSecureTls(finding, { allowInsecure: target.allowInsecure });
  if (merged.insecureAuth === true) {
    assertSecureTls(
      { setting: "insecureAuth", problem: "allows the insecure pre-4.1 password protocol" },
      { allowInsecure: target.allowInsecure },
    );
  }

  const ownStream = typeof merged.stream === "function" && ownHooks.has(merged.stream);
  if (target.user === undefined && merged.stream !== undefined && !ownStream) {
    throw new EntraAuthError(
      "USERNAME_UNRESOLVED",
      "No MySQL user name was given, and with a custom `stream` it cannot be read from the token before connecting.",
      { hint: "Pass `user` in the config, `username` in the options, or set AZURE_MYSQL_USER." },
    );
  }

  const { stream: _stream, ...withoutOwnStream } = merged;
  const prepared: Mysql2EntraConfig = {
    ...(ownStream ? withoutOwnStream : merged),
    ...defined({ host: target.host, port: target.port, database: target.database, user: target.user }),
    // mysql2 accepts `ssl: false` (plaintext; only reachable with allowInsecure) but does not type it.
    ssl: ssl as Mysql2EntraConfig["ssl"],
    authPlugins: { ...authPlugins, mysql_clear_password: createClearPasswordPlugin(target) },
  };
  return Object.freeze({
    config: prepared,
    target,
    userLearningStream: () => createUserLearningStream(target),
  });
}

function defined<R extends Record<string, unknown>>(record: R): Partial<R> {
  return Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined)) as Partial<R>;
}

function refuseStaticSecrets(config: Mysql2EntraConfig): void {
  for (const key of ["password", "password1", "passwordSha1"] as const) {
    const value = config[key];
    if (typeof value === "string" && value !== "") {
      throw new EntraAuthError("INVALID_SETTING", `The mysql2 config has a static ${key}.`, {
        hint: `Remove \`${key}\`: @org/mysql2-entra supplies a fresh Entra access token for each connection.`,
      });
    }
  }
}

/**
 * The `mysql_clear_password` plugin: mysql2 calls the factory once per auth switch with
 * `{ connection, command }` and the returned function with the server's plugin data; it answers
 * with the token and a NUL byte, like mysql2's built-in plugin. Before it does, it checks the
 * connection the token is about to be written to (TLS up, chain verified, certificate issued for
 * the host) unless insecure transport is allowed.
 */
function createClearPasswordPlugin(target: EntraTarget): AuthPluginFactory {
  const factory = (context: AuthPluginContext) => {
    return async (_pluginData: Buffer): Promise<Buffer> => {
      if (!target.allowInsecure) {
        assertSecureTls(inspectTlsPeer(context.connection?.stream, context.connection?.config?.host));
      }
      // Watch the connection's close before waiting for the token: one that closes meanwhile
      // must not be held.
      const watch = context.connection ? watchConnection(context.connection) : undefined;
      const { token } = await target.provider.getToken();
      if (context.connection && watch && !watch.closed) {
        // One hold per connection (a change-user asks again): the shared provider refreshes ahead
        // in the background while a connection that signed in with its token is open.
        watch.release ??= holdTokenProvider(target.provider, context.connection);
      }
      watchAuthFailure(context, target, token);
      return Buffer.from(`${token}\0`);
    };
  };
  ownHooks.add(factory);
  return factory as unknown as AuthPluginFactory;
}

/** What the plugin keeps per mysql2 connection: whether it closed, and its hold on the provider. */
interface ConnectionWatch {
  closed: boolean;
  /** Ends the hold on the shared provider, once taken. */
  release?: () => void;
}

/** The watch of each connection the plugin has seen. */
const watches = new WeakMap<object, ConnectionWatch>();

/** The parts of the socket the plugin watches (a `net.Socket` or `tls.TLSSocket`, or your `stream`). */
interface WatchedStream {
  readonly closed?: boolean;
  once?(event: "close", listener: () => void): unknown;
}

/**
 * Watches a mysql2 connection until it closes. The socket's `close` is what always fires: for
 * `end()` and `pool.end()` (the server closes after COM_QUIT), `destroy()`, a refused login and
 * network errors alike, while mysql2's own `end` event comes from the raw socket's `end` and is
 * not emitted once TLS took over the socket. Both are listened to; releasing is idempotent.
 */
function watchConnection(connection: NonNullable<AuthPluginContext["connection"]>): ConnectionWatch {
  let watch = watches.get(connection);
  if (watch) return watch;
  const created: ConnectionWatch = { closed: false };
  const close = () => {
    created.closed = true;
    created.release?.();
  };
  const stream = connection.stream as WatchedStream | undefined;
  if (stream?.closed === true) created.closed = true;
  stream?.once?.("close", close);
  connection.once?.("end", close);
  watches.set(connection, created);
  watch = created;
  return watch;
}

/**
 * Listens for the server's answer to the token on this handshake: mysql2 turns the server's ERR
 * packet into the error the handshake command emits, which becomes the `connect()` error. Core's
 * reaction runs on it first (the server's own text is `sqlMessage`, its number `errno`).
 */
function watchAuthFailure(
  { connection, command }: AuthPluginContext,
  target: EntraTarget,
  token: string,
): void {
  if (!command?.prependListener || !command.removeListener || !command.once) return;
  const onError = (error: MysqlServerError) => {
    reactToServerRejection(error, {
      engine: "mysql",
      adapter: "@org/mysql2-entra",
      serverMessage: typeof error.sqlMessage === "string" ? error.sqlMessage : undefined,
      serverCode: error.errno,
      token,
      user: connection?.config?.user,
      provider: target.provider,
    });
  };
  command.prependListener("error", onError);
  command.once("end", () => command.removeListener?.("error", onError));
}

/**
 * A mysql2 `stream` factory that opens the TCP (or Unix socket) connection only after the token
 * is known, and first sets the connection's `user` from the token's claims. mysql2 calls it with
 * the connection's own config copy and attaches its listeners before anything is read. A failure
 * to get a token or a name destroys the socket with that error, which mysql2 reports as the
 * connect error; mysql2's `connectTimeout` covers the wait.
 */
function createUserLearningStream(target: EntraTarget): Mysql2StreamFactory {
  const factory: Mysql2StreamFactory = ({ config }) => {
    const socket = new Socket();
    target
      .resolveUser()
      .then((user) => {
        if (socket.destroyed) return;
        config.user = user;
        socket.once("connect", () => {
          // What mysql2 does for the sockets it opens itself.
          socket.setNoDelay(true);
          if (config.enableKeepAlive) socket.setKeepAlive(true, config.keepAliveInitialDelay);
        });
        if (config.socketPath) socket.connect(config.socketPath);
        else socket.connect(config.port ?? 3306, config.host ?? "localhost");
      })
      .catch((error: unknown) => socket.destroy(error instanceof Error ? error : new Error(String(error))));
    return socket;
  };
  ownHooks.add(factory);
  return factory;
}
