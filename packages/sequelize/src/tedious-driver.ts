import { createRequire } from "node:module";
import { join } from "node:path";
import { EntraAuthError } from "@org/entra-core";
import {
  holdWhileConnected,
  sessionExpiresSoon,
  trackSessionExpiry,
  watchEntraErrors,
} from "@org/tedious-entra";

/** The part of the tedious module Sequelize's mssql dialect uses: `Connection`, plus `Request`, `TYPES`, ... */
export interface TediousModule {
  readonly Connection: new (config: never) => unknown;
  readonly [member: string]: unknown;
}

/** Driver wrappers made by `withEntra`, mapped to the module they wrap. */
const wrapped = new WeakMap<object, TediousModule>();

/**
 * Loads the tedious module Sequelize would use, synchronously (Sequelize's mssql connection manager
 * loads its driver in its constructor): `dialectModulePath` first, then `dialectModule`, then the
 * installed `tedious` package. A module that is itself a wrapper of ours is unwrapped.
 *
 * @throws EntraAuthError `MISSING_SETTING` when tedious is not installed.
 */
export function loadTedious(
  dialectModule: object | undefined | null,
  dialectModulePath: string | undefined | null,
): TediousModule {
  if (dialectModulePath) {
    // Sequelize `require`s the path; resolve it the same way, from the application's directory.
    return createRequire(join(process.cwd(), "noop.js"))(dialectModulePath) as TediousModule;
  }
  if (dialectModule) return wrapped.get(dialectModule) ?? (dialectModule as TediousModule);
  try {
    return createRequire(import.meta.url)("tedious") as TediousModule;
  } catch (error) {
    throw new EntraAuthError("MISSING_SETTING", 'The Sequelize dialect "mssql" needs the package tedious.', {
      hint: "Install it next to @org/sequelize-entra: npm install tedious",
      cause: error,
    });
  }
}

/**
 * A stand-in for the tedious module, passed to Sequelize as `dialectModule`: everything is tedious's
 * own (`Request`, `TYPES`, `ISOLATION_LEVEL`, ...) except `Connection`, a subclass that calls
 * `watchEntraErrors` on each new connection. Sequelize has no hook that sees a failed login; with
 * this, a rejected token's error (which Sequelize wraps in `AccessDeniedError`, copying the message)
 * names the reason and what to change, and an expired or invalid token is dropped from the cache so
 * the next connection fetches a fresh one. Error 37396 on an open session is logged. Each
 * connection holds the shared token provider from its login until it closes, so the provider
 * refreshes ahead of expiry while Sequelize has connections open.
 *
 * @param tedious - The module to wrap, from {@link loadTedious}.
 * @returns An object whose prototype is `tedious`, with its own `Connection`.
 */
export function createTediousDriver(tedious: TediousModule): TediousModule {
  const Base = tedious.Connection as unknown as new (
    config: unknown,
  ) => Parameters<typeof watchEntraErrors>[0];
  class EntraConnection extends Base {
    constructor(config: unknown) {
      super(config);
      const connection = this as unknown as Parameters<typeof trackSessionExpiry>[0];
      trackSessionExpiry(connection);
      // A session Azure SQL ended (37396) is not handed out again (createTediousValidate).
      watchEntraErrors(this, { onSessionTokenExpired: () => retired.add(connection) });
      // From its login until it closes (`sequelize.close()` closes every pooled connection).
      holdWhileConnected(this as unknown as Parameters<typeof holdWhileConnected>[0]);
    }
  }
  const driver = Object.create(tedious, {
    Connection: { value: EntraConnection, enumerable: true },
  }) as TediousModule;
  wrapped.set(driver, tedious);
  return driver;
}

/** Connections whose session Azure SQL ended with 37396. */
const retired = new WeakSet<object>();

/** Sequelize's pool `validate` hook. */
type Validate = (connection?: unknown) => boolean;

/**
 * Sequelize's `pool.validate` for dialect `mssql`: refuses a connection whose session token expires
 * soon (`sessionExpiresSoon`) or that Azure SQL ended with 37396, so Sequelize's pool closes it and
 * opens a new one with a fresh token instead of sending the next query into 37396. Otherwise your
 * own `validate` decides, or, without one, Sequelize's mssql check (the connection is logged in),
 * which a `pool.validate` replaces.
 *
 * @param existing - The options' `pool.validate`, if any.
 * @returns The hook to put into `pool.validate`.
 */
export function createTediousValidate(existing: Validate | undefined): Validate {
  return (connection) => {
    if (typeof connection !== "object" || connection === null) return false;
    if (retired.has(connection) || sessionExpiresSoon(connection)) return false;
    if (existing) return existing(connection);
    // Sequelize 6's mssql ConnectionManager#validate, which a pool.validate option replaces.
    const tedious = connection as { loggedIn?: boolean; state?: { name?: string } };
    return tedious.loggedIn === true || tedious.state?.name === "LoggedIn";
  };
}
