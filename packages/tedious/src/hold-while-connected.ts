import {
  credentialOfConnection,
  type EntraTokenCredential,
  isEntraTokenCredential,
} from "./entra-token-credential.js";

/** The parts of a tedious `Connection` that {@link holdWhileConnected} uses. */
export interface HoldableConnection {
  /** The connection's config: its `authentication.options.credential` is the Entra credential. */
  readonly config?: {
    /** The config's `authentication`, as tedious normalised it. */
    readonly authentication?: unknown;
  };
  /** tedious sets it once the connection is closed (or its login failed). */
  readonly closed?: boolean;
  /** tedious's connection state; `name` is e.g. `"LoggedIn"`. */
  readonly state?: {
    /** The state's name. */
    readonly name?: string;
  };
  /** Adds the listener that starts the hold after a successful login. */
  once(event: "connect", listener: (error?: Error) => void): unknown;
  /** Adds the listener that ends the hold. */
  once(event: "end", listener: () => void): unknown;
}

/** tedious's states of a connection that has logged in (and emitted `connect`). */
const LOGGED_IN_STATES = new Set(["LoggedIn", "SentClientRequest", "SentAttention"]);

/** Connections already held, so that a second call (yours and an adapter's) adds nothing. */
const held = new WeakSet<object>();

/**
 * Keeps the shared token provider of a tedious `Connection` refreshing ahead of expiry while the
 * connection is open: from its successful login (its `connect` event; at once when it has
 * already logged in) until its `end` event. Shared providers refresh in the background only while
 * something holds them, so that the providers of connections that ended stop calling the identity
 * endpoint and can be garbage-collected; a provider nothing holds still hands out its token, and
 * fetches a new one when a login finds it close to expiry.
 *
 * `@org/mssql-entra` (its `beforeConnect`), and the knex, Sequelize, TypeORM and Prisma adapters,
 * call it for every connection they open; with bare tedious, call it yourself after
 * `new Connection(config)`. A connection whose config has no credential from this package, a
 * closed connection and a second call for the same connection are left alone.
 *
 * @example
 * ```ts
 * import { Connection } from "tedious";
 * import { holdWhileConnected, withEntra } from "@org/tedious-entra";
 *
 * const connection = holdWhileConnected(new Connection(withEntra({ server, options: { database } })));
 * connection.connect((err) => { ... }); // connection.close() ends the hold
 * ```
 *
 * @param connection - A tedious `Connection` built from a config with an Entra credential.
 * @param credential - The credential whose providers to hold. Defaults to the one in
 *   `connection.config.authentication.options.credential`.
 * @returns `connection`.
 */
export function holdWhileConnected<C extends HoldableConnection>(
  connection: C,
  credential: EntraTokenCredential | undefined = credentialOfConnection(connection),
): C {
  if (!isEntraTokenCredential(credential) || connection.closed === true || held.has(connection)) {
    return connection;
  }
  held.add(connection);
  let ended = false;
  let release: (() => void) | undefined;
  const start = () => {
    if (!ended && !release) release = credential.hold(connection);
  };
  connection.once("end", () => {
    ended = true;
    release?.();
  });
  if (LOGGED_IN_STATES.has(connection.state?.name ?? "")) start();
  else connection.once("connect", (error?: Error) => (error ? undefined : start()));
  return connection;
}
