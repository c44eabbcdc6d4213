import type { EntraOptions } from "./entra-options.js";
import type { EntraTokenProvider, GetEntraTokenOptions } from "./entra-token-provider.js";
import { getSharedTokenProvider } from "./get-shared-token-provider.js";
import { type ResolvedSettings, resolveSettings, serviceConnectorVariable } from "./resolve-settings.js";
import { resolveUsername } from "./resolve-username.js";
import { type Engine, scopeFor } from "./scope-for.js";

/** The connection fields a driver config gives; each absent one falls back to the Service Connector variables. */
export interface EntraTargetFields {
  /** The host (server) name in the driver config; an empty string counts as absent. */
  readonly host?: string | undefined;
  /** The port in the driver config. */
  readonly port?: number | undefined;
  /** The database in the driver config; an empty string counts as absent. */
  readonly database?: string | undefined;
  /** The user name in the driver config. */
  readonly user?: string | undefined;
}

/**
 * What every adapter needs to sign in to one server, resolved once by {@link resolveEntraTarget}:
 * the settings, the shared token provider, and the user name or how to learn it.
 */
export interface EntraTarget {
  /** The engine it was resolved for. */
  readonly engine: Engine;
  /** The engine's Service Connector variables. */
  readonly settings: ResolvedSettings;
  /** The config's host, else the `*_HOST` / `AZURE_SQL_SERVER` variable; `undefined` when neither is set. */
  readonly host: string | undefined;
  /** The config's port, else `*_PORT`. */
  readonly port: number | undefined;
  /** The config's database, else `*_DATABASE`. */
  readonly database: string | undefined;
  /**
   * The user name from the config, `options.username` or `*_USER`; `undefined` when it must be
   * read from the token ({@link userFor}, {@link resolveUser}). Azure SQL takes none.
   */
  readonly user: string | undefined;
  /** The user-assigned managed identity's client ID: `options.clientId`, else `*_CLIENTID`. */
  readonly clientId: string | undefined;
  /** The token scope: `options.scope`, else {@link scopeFor} of the engine and host. */
  readonly scope: string;
  /** The process-wide provider for (credential, scope), or `options.tokenProvider`. */
  readonly provider: EntraTokenProvider;
  /** Whether insecure transport was allowed (`options.allowInsecure`). */
  readonly allowInsecure: boolean;
  /**
   * The TLS value to apply and where it came from, for error messages: the config's `given`
   * value (named `setting`), else the `*_SSL` variable, else `true` (TLS on).
   */
  tls(
    given: unknown,
    setting: string,
  ): {
    /** The TLS value to apply: `given`, the `*_SSL` variable's value, or `true`. */
    readonly value: unknown;
    /** Where the value came from: `setting`, or the `*_SSL` variable's name. */
    readonly setting: string;
  };
  /**
   * The user name to sign in with `token`: {@link user}, else the name in the token.
   * @throws EntraAuthError `USERNAME_UNRESOLVED` when the token names nobody either.
   */
  userFor(token: string): string;
  /** {@link user}, or the name in the provider's current token (fetched if needed). */
  resolveUser(options?: GetEntraTokenOptions): Promise<string>;
}

/** The host variable libpq and pg read when a config has no host. */
const DRIVER_HOST_VARIABLE: Partial<Record<Engine, string>> = { postgresql: "PGHOST" };

/**
 * Turns a driver config's connection fields and the Entra options into what every adapter needs:
 * the Service Connector settings (read once, from `options.env` or `process.env`), the host, port,
 * database and user with the config winning over the variables, the client ID, the scope for the
 * host's cloud, and the shared token provider for them. Adapters call it once per config and pass
 * the result to their driver hooks; nothing resolves settings or providers a second time.
 *
 * @example
 * ```ts
 * const target = resolveEntraTarget("postgresql", { host: config.host, user: config.user }, options);
 * const password = async () => (await target.provider.getToken()).token;
 * ```
 *
 * @throws EntraAuthError `INVALID_SETTING` for a malformed Service Connector variable.
 */
export function resolveEntraTarget(
  engine: Engine,
  fields: EntraTargetFields,
  options: EntraOptions = {},
): EntraTarget {
  const env = options.env ?? process.env;
  const settings = resolveSettings(engine, env);
  const host = nonEmpty(fields.host) ?? settings.host;
  const user =
    engine === "sqlserver"
      ? undefined
      : (nonEmpty(fields.user) ?? nonEmpty(options.username) ?? settings.user);
  const clientId = nonEmpty(options.clientId) ?? settings.clientId;
  const driverHostVariable = DRIVER_HOST_VARIABLE[engine];
  const scope =
    nonEmpty(options.scope) ??
    scopeFor(engine, host ?? (driverHostVariable ? process.env[driverHostVariable] : undefined));
  const provider = getSharedTokenProvider({ ...options, clientId, scope });
  if (options.warmStart !== false && !options.tokenProvider) {
    // Warm start: the first connection finds the token cached. A failure is logged by the
    // provider and moves its retry schedule; it is never an unhandled rejection.
    provider.getToken().catch(() => {});
  }
  const userFor = (token: string) => resolveUsername({ explicit: user, token, engine });
  return Object.freeze({
    engine,
    settings,
    host,
    port: fields.port ?? settings.port,
    database: nonEmpty(fields.database) ?? settings.database,
    user,
    clientId,
    scope,
    provider,
    allowInsecure: options.allowInsecure === true,
    tls(given: unknown, setting: string) {
      if (given !== undefined) return { value: given, setting };
      if (settings.ssl !== undefined)
        return { value: settings.ssl, setting: serviceConnectorVariable(engine, "SSL") };
      return { value: true, setting };
    },
    userFor,
    async resolveUser(getOptions?: GetEntraTokenOptions) {
      if (user !== undefined) return user;
      const { token } = await provider.getToken(getOptions);
      return userFor(token);
    },
  });
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === "" ? undefined : value;
}
