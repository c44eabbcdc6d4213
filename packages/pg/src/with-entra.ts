import { createRequire } from "node:module";
import {
  assertSecureTls,
  deriveUsername,
  describeServerAuthError,
  EntraAuthError,
  type EntraOptions,
  type EntraTokenProvider,
  getSharedTokenProvider,
  inspectTlsPeer,
  inspectTlsValue,
  logger,
  resolveSettings,
  scopeFor,
  shouldInvalidateToken,
} from "@org/entra-core";
import type pg from "pg";
import { parseIntoClientConfig } from "pg-connection-string";

/** The pg config shape `withEntra` accepts and returns: a `pg.PoolConfig` or `pg.ClientConfig`. */
export type PgEntraConfig = pg.PoolConfig;

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
 * Wires Microsoft Entra authentication into a node-postgres config: every new physical connection
 * presents a currently valid access token as its password, fetched once and shared by every pool in
 * the process, refreshed ahead of expiry.
 *
 * - `host`, `port`, `database` and `user` default to the Service Connector variables
 *   (`AZURE_POSTGRESQL_HOST`, `_PORT`, `_DATABASE`, `_USER`); the username then falls back to
 *   `options.username` and finally to the token's claims (managed identity name, UPN).
 * - TLS is on and verified by default (`ssl: { rejectUnauthorized: true }`, which
 *   `NODE_TLS_REJECT_UNAUTHORIZED` cannot turn off). A config that disables TLS, certificate
 *   verification or the host name check (`ssl.checkServerIdentity`), and a process with
 *   `NODE_TLS_REJECT_UNAUTHORIZED=0`, throw `EntraAuthError` (`INSECURE_TRANSPORT`) unless
 *   `allowInsecure: true`. Before each token is handed to pg, the password hook checks the live
 *   connection itself: TLS up, certificate chain verified, certificate issued for the host.
 * - A `connectionString` is parsed into fields so that it cannot silently drop the password hook;
 *   it must not contain a password.
 * - When the server rejects a token as expired or invalid, the cached token is dropped so the next
 *   connection fetches a fresh one, and the error message says what to change.
 *
 * @example
 * ```ts
 * import pg from "pg";
 * import { withEntra } from "@org/pg-entra";
 *
 * const pool = new pg.Pool(withEntra({ host: "myserver.postgres.database.azure.com", database: "app" }));
 * const { rows } = await pool.query("select current_user");
 * ```
 *
 * @param config - Your pg `PoolConfig` / `ClientConfig`. Defaults to `{}` (Service Connector variables).
 * @param options - Credential, username and refresh options. Defaults to `DefaultAzureCredential`.
 * @returns A copy of `config` with `password`, `user`, `ssl` (and the fields of a `connectionString`) set.
 */
export function withEntra<T extends PgEntraConfig = PgEntraConfig>(
  config?: T,
  options: EntraOptions = {},
): T & PgEntraConfig {
  const settings = resolveSettings("postgresql", options.env ?? process.env);
  const { connectionString, ...rest } = (config ?? {}) as T;
  const fromUrl = connectionString ? parseConnectionString(connectionString) : {};
  // pg lets the URL win over explicit fields; keep that precedence.
  const merged: PgEntraConfig = { ...rest, ...fromUrl };

  if (typeof merged.password === "string" && merged.password !== "") {
    throw new EntraAuthError("INVALID_SETTING", "The pg config has a static password.", {
      hint: "Remove `password`: @org/pg-entra supplies a fresh Entra access token for each connection.",
    });
  }

  const host = merged.host ?? settings.host;
  const port = merged.port ?? settings.port;
  const database = merged.database ?? settings.database;
  const user = merged.user ?? options.username ?? settings.user;
  const given = merged.ssl ?? settings.ssl ?? true;

  assertSecureTls(inspectTlsValue(given, connectionString ? "sslmode in connectionString" : "ssl"), {
    allowInsecure: options.allowInsecure,
  });
  const ssl = options.allowInsecure === true ? given : verifyingSsl(given);

  const provider = getSharedTokenProvider({
    ...options,
    clientId: options.clientId ?? settings.clientId,
    scope: options.scope ?? scopeFor("postgresql", host ?? process.env.PGHOST),
  });

  const result: PgEntraConfig = {
    ...merged,
    ...(host === undefined ? {} : { host }),
    ...(port === undefined ? {} : { port }),
    ...(database === undefined ? {} : { database }),
    ...(user === undefined ? {} : { user }),
    ssl,
    password: createPasswordFunction(provider, {
      allowInsecure: options.allowInsecure === true,
      servername:
        typeof ssl === "object" && ssl !== null ? (ssl as { servername?: string }).servername : undefined,
    }),
  };
  if (user === undefined) {
    // pg sends the user name before it asks for the password, so a pool must learn it from the
    // token before connecting. A bare `pg.Client` cannot; its auth error says what to set.
    result.Client = createUsernameResolvingClient(merged.Client ?? loadPgClient(), provider);
  }
  return result as T & PgEntraConfig;
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

/** How the password hook checks the connection it is about to answer. */
interface PeerCheck {
  readonly allowInsecure: boolean;
  /** `ssl.servername`, when the certificate must carry a name other than the host. */
  readonly servername: string | undefined;
}

function createPasswordFunction(provider: EntraTokenProvider, check: PeerCheck): PasswordFunction {
  return async function password(this: unknown) {
    const client = this as ConnectingClient | undefined;
    // pg calls the hook as a method of the client whose connection asked for the password; only
    // then is there a socket the token is about to be written to.
    if (client?.connection && !check.allowInsecure) {
      assertSecureTls(inspectTlsPeer(client.connection.stream, check.servername ?? client.host));
    }
    const { token } = await provider.getToken();
    watchAuthFailure(this as ConnectingClient | undefined, provider, token);
    return token;
  };
}

/**
 * Listens for the server's answer to the token on this connection: on an auth error it drops the
 * cached token when the server says it is expired or invalid, and appends what to change to the
 * error message pg is about to reject `connect()` with.
 */
function watchAuthFailure(
  client: ConnectingClient | undefined,
  provider: EntraTokenProvider,
  token: string,
): void {
  const connection = client?.connection;
  if (!connection?.prependListener || !connection.removeListener || !connection.once) return;
  const onError = (error: Error) => {
    const described = describeServerAuthError(error.message, "postgresql");
    if (!described) return;
    if (shouldInvalidateToken(described.code)) {
      logger.warning(
        `PostgreSQL rejected the access token (${described.code}); fetching a new one for the next connection.`,
      );
      provider.invalidate();
    }
    let hint = described.hint;
    if (described.code === "PRINCIPAL_UNKNOWN") {
      const derived = deriveUsername(token);
      if (derived && derived !== client?.user) {
        hint += ` The token belongs to "${derived}"; pass \`user: "${derived}"\` or set AZURE_POSTGRESQL_USER.`;
      }
    }
    error.message = `${error.message} [@org/pg-entra ${described.code}] ${hint}`;
    Object.defineProperty(error, "entraCode", { value: described.code, enumerable: false });
  };
  connection.prependListener("errorMessage", onError);
  const detach = () => connection.removeListener?.("errorMessage", onError);
  connection.once("readyForQuery", detach);
  connection.once("end", detach);
}

type ClientConstructor = NonNullable<pg.PoolConfig["Client"]>;

/**
 * pg's own `Client`, loaded only when a pool must learn the user name from the token, so that
 * packages building on this one (knex, Sequelize, TypeORM adapters) do not need `pg` installed for
 * MySQL-only apps.
 */
function loadPgClient(): ClientConstructor {
  return (createRequire(import.meta.url)("pg") as typeof pg).Client;
}

function createUsernameResolvingClient(
  Base: ClientConstructor,
  provider: EntraTokenProvider,
): ClientConstructor {
  const Client = Base as unknown as typeof pg.Client;
  class EntraClient extends Client {
    override connect(): Promise<pg.Client>;
    override connect(callback: (err: Error) => void): void;
    override connect(callback?: (err: Error) => void): Promise<pg.Client> | undefined {
      const ready = provider.getToken().then(({ token }) => {
        const user = deriveUsername(token);
        if (!user) {
          throw new EntraAuthError(
            "USERNAME_UNRESOLVED",
            "No PostgreSQL user name was given and the token has none.",
            {
              hint: "Pass `user` in the config, `username` in the options, or set AZURE_POSTGRESQL_USER.",
            },
          );
        }
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
  return EntraClient as unknown as ClientConstructor;
}
