import { credentialOfConnection, earliestTokenExpirySince } from "./entra-token-credential.js";

/**
 * The most time before its token's expiry at which a session is retired. A session whose token
 * had less than four times this left at login is retired when a quarter of that is left, so
 * short-lived tokens (tests) keep their sessions for most of their life.
 */
export const SESSION_RETIRE_MARGIN_IN_MS = 60_000;

/** The parts of a tedious `Connection` that {@link trackSessionExpiry} reads. */
export interface SessionExpiryConnection {
  /** The connection's config: its Entra credential, and `options.connectTimeout`. */
  readonly config?: {
    /** The config's `authentication`, `{ type: "token-credential", options: { credential } }`. */
    readonly authentication?: unknown;
    /** tedious options; `connectTimeout` bounds how long ago a logged-in connection started its login. */
    readonly options?: {
      /** Milliseconds a login may take. Defaults to 15_000 (tedious's default). */
      readonly connectTimeout?: number;
    };
  };
  /** tedious's state; `LoggedIn` and the request states mean the login is done. */
  readonly state?: {
    /** The state's name. */
    readonly name?: string;
  };
  /** Adds the listener that records the session's token expiry after the login. */
  once(event: "connect", listener: (error?: Error) => void): unknown;
}

/** Options of {@link trackSessionExpiry} and {@link sessionExpiresSoon}. */
export interface SessionExpiryOptions {
  /** Clock in epoch milliseconds. Defaults to `Date.now`. */
  readonly now?: () => number;
}

interface SessionToken {
  readonly expiresOnTimestamp: number;
  readonly retireAt: number;
}

const LOGGED_IN_STATES = new Set(["LoggedIn", "SentClientRequest", "SentAttention"]);
const DEFAULT_CONNECT_TIMEOUT_IN_MS = 15_000;
const sessions = new WeakMap<object, SessionToken>();
const tracked = new WeakSet<object>();

/**
 * Learns when the access token a tedious connection logged in with expires, so that a pool can
 * retire the session before Azure SQL ends it with error 37396 (see {@link sessionExpiresSoon}).
 * Call it before the login (right after `new Connection(config)`, or in mssql's `beforeConnect`)
 * for an exact answer; called on a connection already logged in (knex's `pool.afterCreate`), it
 * assumes the earliest-expiring token handed out within the connection's `connectTimeout`.
 * Connections whose config has no credential from this package are left alone. Idempotent.
 *
 * @example
 * ```ts
 * const connection = trackSessionExpiry(new Connection(withEntra({ server, options: { database } })));
 * connection.connect(...);
 * // later, before handing the connection out again:
 * if (sessionExpiresSoon(connection)) connection.close(); // and open a new one
 * ```
 *
 * @param connection - A tedious `Connection` built from a config made by `withEntra`.
 * @param options - The clock. Defaults to `Date.now`.
 * @returns `connection`.
 */
export function trackSessionExpiry<C extends SessionExpiryConnection>(
  connection: C,
  options: SessionExpiryOptions = {},
): C {
  const credential = credentialOfConnection(connection);
  if (!credential || tracked.has(connection)) return connection;
  tracked.add(connection);
  const now = options.now ?? Date.now;
  const record = (loginStartedAt: number) => {
    const loggedInAt = now();
    const expiresOnTimestamp = earliestTokenExpirySince(credential, loginStartedAt, loggedInAt);
    if (expiresOnTimestamp === undefined) return;
    const margin = Math.min(SESSION_RETIRE_MARGIN_IN_MS, Math.max(0, expiresOnTimestamp - loggedInAt) / 4);
    sessions.set(connection, { expiresOnTimestamp, retireAt: expiresOnTimestamp - margin });
  };
  if (LOGGED_IN_STATES.has(connection.state?.name ?? "")) {
    record(now() - (connection.config?.options?.connectTimeout || DEFAULT_CONNECT_TIMEOUT_IN_MS));
  } else {
    const loginStartedAt = now();
    connection.once("connect", (error?: Error) => (error ? undefined : record(loginStartedAt)));
  }
  return connection;
}

/**
 * True when the session of a connection passed to {@link trackSessionExpiry} should be retired:
 * its token expires within the retire margin ({@link SESSION_RETIRE_MARGIN_IN_MS}, at most a
 * quarter of what the token had left at login). Use it in a pool's validation so that the pool
 * closes the session and opens a new one (with a fresh token) instead of handing it out. False for
 * an untracked connection or one whose token is unknown.
 *
 * @example
 * ```ts
 * const pool = createPool({ validate: (connection) => !connection.closed && !sessionExpiresSoon(connection), ... });
 * ```
 *
 * @param connection - A connection passed to {@link trackSessionExpiry}.
 * @param options - The clock. Defaults to `Date.now`.
 * @returns Whether to retire the session now.
 */
export function sessionExpiresSoon(connection: object, options: SessionExpiryOptions = {}): boolean {
  const session = sessions.get(connection);
  return session !== undefined && (options.now ?? Date.now)() >= session.retireAt;
}

/**
 * When the token a connection passed to {@link trackSessionExpiry} logged in with expires (epoch
 * milliseconds, a lower bound when the login was not watched from its start); undefined until the
 * login succeeded or when unknown.
 *
 * @example
 * ```ts
 * const expiresOn = sessionTokenExpiresOn(connection); // e.g. 1767225600000
 * ```
 *
 * @param connection - A connection passed to {@link trackSessionExpiry}.
 * @returns The expiry in epoch milliseconds, or undefined.
 */
export function sessionTokenExpiresOn(connection: object): number | undefined {
  return sessions.get(connection)?.expiresOnTimestamp;
}
