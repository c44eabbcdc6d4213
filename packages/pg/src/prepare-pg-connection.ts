import { createRequire } from "node:module";
import {
  assertSecureTls,
  EntraAuthError,
  type EntraOptions,
  type EntraTarget,
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
 * - A `connectionString` is parsed into fields so that it cannot silently drop the hook; it must
 *   not contain a password.
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

function parseConnectionString(connectionString: string): PgEntraConfig {
  const parsed = parseIntoClientConfig(connectionString) as PgEntraConfig;
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
    const { token } = await target.provider.getToken();
    watchAuthFailure(client, target, token);
    return token;
  };
}

/**
 * Listens for the server's answer to the token on this connection: pg emits the server's
 * ErrorResponse as `errorMessage` before it rejects `connect()` with it, so core's reaction
 * (drop an expired or invalid token, say what to change) runs on that error first.
 */
function watchAuthFailure(client: ConnectingClient | undefined, target: EntraTarget, token: string): void {
  const connection = client?.connection;
  if (!connection?.prependListener || !connection.removeListener || !connection.once) return;
  const onError = (error: Error) => {
    reactToServerRejection(error, {
      engine: "postgresql",
      adapter: "@org/pg-entra",
      token,
      user: client?.user,
      provider: target.provider,
    });
  };
  connection.prependListener("errorMessage", onError);
  const detach = () => connection.removeListener?.("errorMessage", onError);
  connection.once("readyForQuery", detach);
  connection.once("end", detach);
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
