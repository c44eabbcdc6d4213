import { Socket } from "node:net";
import {
  assertSecureTls,
  deriveUsername,
  describeServerAuthError,
  EntraAuthError,
  type EntraOptions,
  type EntraTokenProvider,
  getSharedTokenProvider,
  inspectTlsPeer,
  logger,
  resolveSettings,
  type ServerAuthErrorDescription,
  scopeFor,
  shouldInvalidateToken,
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

/** The per-connection `ConnectionConfig` mysql2 hands to a `stream` factory (its own fields). */
interface ConnectingConfig {
  user?: string;
  readonly host?: string;
  readonly port?: number;
  readonly socketPath?: string;
  readonly enableKeepAlive?: boolean;
  readonly keepAliveInitialDelay?: number;
}

type StreamFactory = (options: { readonly config: ConnectingConfig }) => Socket;

/** Azure Database for MySQL's error number for an expired access token. */
const ER_ACCESS_TOKEN_EXPIRED = 9119;

/** Plugin and stream factories made by `withEntra`, so that wrapping a config twice is harmless. */
const ownHooks = new WeakSet<object>();

/**
 * Wires Microsoft Entra authentication into a mysql2 config: every new physical connection
 * answers the server's switch to `mysql_clear_password` with a currently valid access token,
 * fetched once and shared by every pool in the process, refreshed ahead of expiry.
 *
 * - `authPlugins.mysql_clear_password` is set (your other auth plugins are kept). It also satisfies
 *   mysql2 >= 3.22, which refuses cleartext authentication unless such a plugin exists; no
 *   `enableCleartextPlugin` and no `password` are needed. A static password is refused.
 * - `host`, `port`, `database` and `user` default to the Service Connector variables
 *   (`AZURE_MYSQL_HOST`, `_PORT`, `_DATABASE`, `_USER`); the username then falls back to
 *   `options.username` and finally to the token's claims (managed identity name, UPN), which are
 *   read just before each connection opens its socket.
 * - TLS is on and verifies the certificate and host name by default
 *   (`ssl: { verifyIdentity: true }`); `AZURE_MYSQL_SSL=true` becomes that object. A config that
 *   disables TLS, certificate or host name verification, names an SSL profile, or sets
 *   `insecureAuth`, and a process with `NODE_TLS_REJECT_UNAUTHORIZED=0`, throw `EntraAuthError`
 *   (`INSECURE_TRANSPORT`) unless `allowInsecure: true`. Before each token is handed over, the
 *   plugin checks the live connection itself: TLS up, chain verified, certificate issued for the host.
 * - A `uri` is parsed into fields (explicit fields win, as in mysql2); it must not contain a password.
 * - When the server rejects a token as expired or invalid, the cached token is dropped so the next
 *   connection fetches a fresh one, and the error message says what to change.
 *
 * @example
 * ```ts
 * import mysql from "mysql2/promise";
 * import { withEntra } from "@org/mysql2-entra";
 *
 * const pool = mysql.createPool(withEntra({ host: "myserver.mysql.database.azure.com", database: "app" }));
 * const [rows] = await pool.query("select current_user()");
 * ```
 *
 * @param config - Your mysql2 `ConnectionOptions` / `PoolOptions`. Defaults to `{}` (Service Connector variables).
 * @param options - Credential, username and refresh options. Defaults to `DefaultAzureCredential`.
 * @returns A copy of `config` with `authPlugins`, `user`, `ssl` (and the fields of a `uri`) set.
 * @throws EntraAuthError `INSECURE_TRANSPORT`, `INVALID_SETTING` (static password, conflicting
 *   auth hooks) or `USERNAME_UNRESOLVED` (no user and a custom `stream`), before any I/O.
 */
export function withEntra<T extends Mysql2EntraConfig = Mysql2EntraConfig>(
  config?: T,
  options: EntraOptions = {},
): T & Mysql2EntraConfig {
  const settings = resolveSettings("mysql", options.env ?? process.env);
  const { uri, ...rest } = (config ?? {}) as T;
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

  const host = nonEmpty(merged.host) ?? settings.host;
  const port = merged.port ?? settings.port;
  const database = nonEmpty(merged.database) ?? settings.database;
  const user = nonEmpty(merged.user) ?? nonEmpty(options.username) ?? settings.user;

  const sslSetting =
    explicit.ssl !== undefined
      ? "ssl"
      : fromUri.ssl !== undefined
        ? "ssl in uri"
        : settings.ssl !== undefined
          ? "AZURE_MYSQL_SSL"
          : "ssl";
  const { ssl, finding } = resolveSsl(merged.ssl ?? settings.ssl ?? true, sslSetting);
  assertSecureTls(finding, { allowInsecure: options.allowInsecure });
  if (merged.insecureAuth === true) {
    assertSecureTls(
      { setting: "insecureAuth", problem: "allows the insecure pre-4.1 password protocol" },
      { allowInsecure: options.allowInsecure },
    );
  }

  const ownStream = typeof merged.stream === "function" && ownHooks.has(merged.stream);
  if (user === undefined && merged.stream !== undefined && !ownStream) {
    throw new EntraAuthError(
      "USERNAME_UNRESOLVED",
      "No MySQL user name was given, and with a custom `stream` it cannot be read from the token before connecting.",
      { hint: "Pass `user` in the config, `username` in the options, or set AZURE_MYSQL_USER." },
    );
  }

  const provider = getSharedTokenProvider({
    ...options,
    clientId: options.clientId ?? settings.clientId,
    scope: options.scope ?? scopeFor("mysql", host),
  });

  const { stream: _stream, ...withoutOwnStream } = merged;
  const result: Mysql2EntraConfig = {
    ...(ownStream ? withoutOwnStream : merged),
    ...(host === undefined ? {} : { host }),
    ...(port === undefined ? {} : { port }),
    ...(database === undefined ? {} : { database }),
    ...(user === undefined ? {} : { user }),
    // mysql2 accepts `ssl: false` (plaintext; only reachable with allowInsecure) but does not type it.
    ssl: ssl as Mysql2EntraConfig["ssl"],
    authPlugins: {
      ...authPlugins,
      mysql_clear_password: createClearPasswordPlugin(provider, options.allowInsecure === true),
    },
  };
  if (user === undefined) {
    // mysql2 sends the user name in its handshake response, before the server switches to the
    // clear-password plugin, and copies the config into each connection when it is created. The
    // stream factory runs then and gets that copy, so it can read the name from the token first.
    result.stream = createUsernameResolvingStream(provider);
  }
  return result as T & Mysql2EntraConfig;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === "" ? undefined : value;
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
 * the host) unless insecure transport is allowed. Only the provider is captured.
 */
function createClearPasswordPlugin(provider: EntraTokenProvider, allowInsecure: boolean): AuthPluginFactory {
  const factory = (context: AuthPluginContext) => {
    return async (_pluginData: Buffer): Promise<Buffer> => {
      if (!allowInsecure) {
        assertSecureTls(inspectTlsPeer(context.connection?.stream, context.connection?.config?.host));
      }
      const { token } = await provider.getToken();
      watchAuthFailure(context, provider, deriveUsername(token));
      return Buffer.from(`${token}\0`);
    };
  };
  ownHooks.add(factory);
  return factory as unknown as AuthPluginFactory;
}

/**
 * Listens for the server's answer to the token on this handshake: mysql2 turns the server's ERR
 * packet into the error the handshake command emits, which becomes the `connect()` error. The
 * listener runs first, drops the cached token when the server says it is expired or invalid, and
 * appends what to change to the message.
 */
function watchAuthFailure(
  { connection, command }: AuthPluginContext,
  provider: EntraTokenProvider,
  tokenUser: string | undefined,
): void {
  if (!command?.prependListener || !command.removeListener || !command.once) return;
  const onError = (error: MysqlServerError) => {
    const described = describeMysqlAuthError(error);
    if (!described) return;
    if (shouldInvalidateToken(described.code)) {
      logger.warning(
        `MySQL rejected the access token (${described.code}); fetching a new one for the next connection.`,
      );
      provider.invalidate();
    }
    let hint = described.hint;
    if (described.code === "PRINCIPAL_UNKNOWN" && tokenUser && tokenUser !== connection?.config?.user) {
      hint += ` The token belongs to "${tokenUser}"; pass \`user: "${tokenUser}"\` or set AZURE_MYSQL_USER.`;
    }
    error.message = `${error.message} [@org/mysql2-entra ${described.code}] ${hint}`;
    Object.defineProperty(error, "entraCode", { value: described.code, enumerable: false });
  };
  command.prependListener("error", onError);
  command.once("end", () => command.removeListener?.("error", onError));
}

function describeMysqlAuthError(error: MysqlServerError): ServerAuthErrorDescription | undefined {
  const message = typeof error.sqlMessage === "string" ? error.sqlMessage : error.message;
  const described = describeServerAuthError(message, "mysql");
  if (described || error.errno !== ER_ACCESS_TOKEN_EXPIRED) return described;
  return describeServerAuthError("The access token has expired.", "mysql");
}

/**
 * A mysql2 `stream` factory that opens the TCP (or Unix socket) connection only after the token
 * is known, and first sets the connection's `user` from the token's claims. mysql2 calls it with
 * the connection's own config copy and attaches its listeners before anything is read. A failure
 * to get a token or a name destroys the socket with that error, which mysql2 reports as the
 * connect error; mysql2's `connectTimeout` covers the wait.
 */
function createUsernameResolvingStream(provider: EntraTokenProvider): StreamFactory {
  const factory: StreamFactory = ({ config }) => {
    const socket = new Socket();
    provider
      .getToken()
      .then(({ token }) => {
        if (socket.destroyed) return;
        const user = deriveUsername(token);
        if (!user) {
          throw new EntraAuthError(
            "USERNAME_UNRESOLVED",
            "No MySQL user name was given and the token has none.",
            { hint: "Pass `user` in the config, `username` in the options, or set AZURE_MYSQL_USER." },
          );
        }
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
