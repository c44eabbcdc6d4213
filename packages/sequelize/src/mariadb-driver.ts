import { createRequire } from "node:module";
import { join } from "node:path";
import {
  type EntraTarget,
  guardMariadbStream,
  holdTokenProvider,
  type MariadbStreamOption,
  reactToServerRejection,
} from "@org/entra-core";

/** The one function of the mariadb connector that Sequelize's `mariadb` dialect calls, and its version. */
export interface MariadbModule {
  createConnection(options: MariadbConnectOptions): Promise<unknown>;
  /** The connector's version (`mariadb.version`). */
  readonly version?: string;
}

/** The parts of the per-connection options Sequelize builds that the wrapper looks at. */
interface MariadbConnectOptions {
  readonly user?: string;
  readonly password?: unknown;
  readonly host?: string;
  readonly port?: number;
  readonly socketPath?: string;
  readonly connectTimeout?: number;
  readonly stream?: MariadbStreamOption;
  readonly [key: string]: unknown;
}

/** A mariadb `SqlError` (`lib/misc/errors.js`): `sqlMessage` is the server's own text. */
interface MariadbError extends Error {
  readonly errno?: number;
  readonly sqlMessage?: string;
}

/** Driver wrappers made by `withEntra`, mapped to the module they wrap. */
const wrapped = new WeakMap<object, () => Promise<MariadbModule>>();

/**
 * How to load the mariadb connector, mirroring Sequelize's own choice: `dialectModulePath` first,
 * then `dialectModule`, then the installed `mariadb` package. A module that is itself a wrapper of
 * ours is unwrapped, so that wrapping options twice maps errors once.
 */
export function mariadbLoader(
  dialectModule: object | undefined | null,
  dialectModulePath: string | undefined | null,
): () => Promise<MariadbModule> {
  if (dialectModulePath) {
    const path = dialectModulePath;
    // Sequelize `require`s the path; resolve it the same way, from the application's directory.
    return async () => createRequire(join(process.cwd(), "noop.js"))(path) as MariadbModule;
  }
  if (dialectModule) {
    const inner = wrapped.get(dialectModule);
    if (inner) return inner;
    return async () => dialectModule as MariadbModule;
  }
  let loading: Promise<MariadbModule> | undefined;
  return () => {
    loading ??= import("mariadb").then(
      (mod) => ((mod as { default?: MariadbModule }).default ?? mod) as MariadbModule,
    );
    return loading;
  };
}

/**
 * A stand-in for the mariadb module, passed to Sequelize as `dialectModule`. Sequelize pools
 * connections itself and calls `createConnection` once per physical connection; the mariadb
 * connector has no hook of its own that sees a failed login. This wrapper does: when the server
 * rejects the token, it drops the cached token if the server says it is expired or invalid, and
 * appends the reason and what to change to the error's message before Sequelize wraps it in a
 * `ConnectionError` / `AccessDeniedError` (which copies the message). Unless insecure transport is
 * allowed, each connection is opened through core's `guardMariadbStream`, so that a server
 * claiming to be MariaDB cannot make an older connector skip certificate verification.
 *
 * Each connection holds the shared token provider until it ends, so the provider refreshes ahead
 * of expiry while Sequelize has connections open.
 *
 * @returns An object with `createConnection`, the only member Sequelize's mariadb dialect uses.
 *   It loads the connector on first connect.
 */
export function createMariadbDriver(load: () => Promise<MariadbModule>, target: EntraTarget): MariadbModule {
  const driver: MariadbModule = {
    async createConnection(given) {
      const options = given ?? {};
      const mariadb = await load();
      const guarded =
        target.allowInsecure || options.socketPath
          ? options
          : {
              ...options,
              stream: guardMariadbStream({
                host: options.host ?? "localhost",
                port: options.port ?? 3306,
                connectorVersion: mariadb.version,
                open: options.stream,
                timeoutInMs: options.connectTimeout,
              }),
            };
      try {
        const connection = withDeletableMeta(await mariadb.createConnection(guarded));
        holdWhileOpen(connection, target);
        return connection;
      } catch (error) {
        if (error instanceof Error) {
          const failure = error as MariadbError;
          reactToServerRejection(failure, {
            engine: "mysql",
            adapter: "@org/sequelize-entra",
            serverMessage: typeof failure.sqlMessage === "string" ? failure.sqlMessage : undefined,
            serverCode: failure.errno,
            token: typeof options.password === "string" ? options.password : undefined,
            user: options.user,
            userSetting: "username",
            provider: target.provider,
          });
        }
        throw error;
      }
    },
  };
  wrapped.set(driver, load);
  return driver;
}

/** The methods of a mariadb promise connection that end it, and its event subscription. */
interface EndableConnection {
  end?(...args: unknown[]): Promise<unknown>;
  destroy?(...args: unknown[]): unknown;
  close?(...args: unknown[]): unknown;
  once?(event: "end", listener: () => void): unknown;
}

/**
 * Holds the shared provider for one mariadb connection that logged in with its token, until the
 * connection ends. The connector emits no event when `end()` (what Sequelize's `disconnect` and
 * so `sequelize.close()` call) or `destroy()` closes a connection, so those methods release the
 * hold; its `end` event covers a connection the server or the network closed.
 */
function holdWhileOpen(connection: unknown, target: EntraTarget): void {
  if (typeof connection !== "object" || connection === null) return;
  const release = holdTokenProvider(target.provider, connection);
  const endable = connection as EndableConnection;
  const end = endable.end;
  if (typeof end === "function") {
    endable.end = (...args: unknown[]) => {
      const ended = end.apply(connection, args);
      release();
      return ended;
    };
  }
  for (const name of ["destroy", "close"] as const) {
    const method = endable[name];
    if (typeof method !== "function") continue;
    endable[name] = (...args: unknown[]) => {
      release();
      return method.apply(connection, args);
    };
  }
  endable.once?.("end", release);
}

/** The one method of a mariadb connection that Sequelize's mariadb dialect runs statements with. */
interface MariadbConnection {
  query(...args: unknown[]): Promise<unknown>;
}

/**
 * From mariadb 3.1 on, a result's `meta` is a non-configurable property, and Sequelize 6's mariadb
 * dialect runs `delete data.meta` on raw query results: `sequelize.query("SELECT ...")` throws
 * `Cannot delete property 'meta'` (models, `QueryTypes.SELECT` and `authenticate()` do not). This
 * returns such results as a shallow copy whose `meta` can be deleted; nothing else changes.
 */
function withDeletableMeta<T>(connection: T): T {
  const target = connection as unknown as MariadbConnection;
  if (typeof target?.query !== "function") return connection;
  const query = target.query.bind(target);
  target.query = async (...args: unknown[]) => {
    const result = await query(...args);
    const meta = Array.isArray(result) ? Object.getOwnPropertyDescriptor(result, "meta") : undefined;
    if (!meta || meta.configurable) return result;
    const copy = [...(result as unknown[])];
    Object.defineProperty(copy, "meta", { ...meta, configurable: true });
    return copy;
  };
  return connection;
}
