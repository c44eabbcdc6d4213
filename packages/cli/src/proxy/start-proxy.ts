import { timingSafeEqual } from "node:crypto";
import { isIP } from "node:net";
import {
  assertSecureTls,
  type Engine,
  EntraAuthError,
  type EntraOptions,
  holdTokenProvider,
  resolveEntraTarget,
} from "@org/entra-core";
import {
  type GatewayLoginDecision,
  type GatewayLoginRequest,
  type GatewayOptions,
  listenGateway,
  type TrackedServer,
} from "@org/entra-wire";
import { mysqlProxyProtocol } from "./mysql-proxy.js";
import { pgProxyProtocol } from "./pg-proxy.js";
import type { ProxyContext, ProxyEngineProtocol, ProxyRefusalReason } from "./proxy-engine.js";
import { localRefusal, upstreamFailure } from "./proxy-failure.js";
import { tdsProxyProtocol } from "./tds-proxy.js";

/** The environment variable `entra-db proxy` reads the local password from. */
export const PROXY_PASSWORD_VARIABLE = "ENTRA_DB_PROXY_PASSWORD";

/** Where {@link startProxy} listens for local clients. */
export type ProxyListenOptions =
  | {
      /** Interface to listen on. Defaults to `127.0.0.1`; any other than loopback needs `localPassword`. */
      readonly host?: string | undefined;
      /** Port to listen on; `0` picks a free one (read it back from {@link EntraProxy.port}). Defaults to 0. */
      readonly port?: number | undefined;
    }
  | {
      /**
       * A Unix socket path to listen on instead. PostgreSQL clients find it as `<dir>/.s.PGSQL.<port>`
       * (`psql -h <dir> -p <port>`).
       */
      readonly path: string;
    };

/** Options of {@link startProxy}: the upstream server as `doctor` and `url` take it, and how to listen. */
export interface ProxyOptions
  extends Pick<EntraOptions, "credential" | "clientId" | "scope" | "tokenProvider" | "getTokenTimeoutInMs"> {
  /** The upstream server's engine. */
  readonly engine: Engine;
  /** The upstream server's host name. Defaults to the Service Connector `*_HOST` / `AZURE_SQL_SERVER` variable. */
  readonly host?: string | undefined;
  /** The upstream port. Defaults to `*_PORT`, else the engine's standard port. */
  readonly port?: number | undefined;
  /** The database for clients that name none. Defaults to `*_DATABASE`. */
  readonly database?: string | undefined;
  /**
   * The user to sign in as upstream, whatever user a local client names. Defaults to `*_USER`,
   * else the name in the token. Azure SQL takes the identity from the token.
   */
  readonly user?: string | undefined;
  /** PEM CA certificates to verify the upstream server with, instead of Node's store (which includes `NODE_EXTRA_CA_CERTS`). */
  readonly ca?: string | undefined;
  /** Where to listen. Defaults to `127.0.0.1` on a free port. */
  readonly listen?: ProxyListenOptions | undefined;
  /**
   * A password local clients must send. Required to listen on anything but a loopback address or
   * a Unix socket; without it loopback clients need none. It is never sent upstream.
   */
  readonly localPassword?: string | undefined;
  /** PEM key and certificate offered to local clients that ask for TLS (PostgreSQL, MySQL). Without them, local connections are plain. */
  readonly localTls?:
    | {
        /** The PEM private key. */
        readonly key: string;
        /** The PEM certificate chain, leaf first. */
        readonly cert: string;
      }
    | undefined;
  /** Client connections open at once; more are refused in their protocol (`TOO_MANY_CONNECTIONS`). Defaults to 100. */
  readonly maxConnections?: number | undefined;
  /** A client that sends nothing for this long is disconnected. Defaults to 0 (never). */
  readonly idleTimeoutInMs?: number | undefined;
  /** A client must have finished logging in (locally and upstream) within this long. Defaults to 30 000. */
  readonly loginTimeoutInMs?: number | undefined;
  /**
   * Fetch a token before listening, and throw the provider's `EntraAuthError` (within
   * `getTokenTimeoutInMs`) when none comes: a proxy that cannot sign in says so at start.
   * Defaults to `false` (the first client's login fetches it; the provider starts fetching at once either way).
   */
  readonly warmUp?: boolean | undefined;
  /** Where the Service Connector variables are read. Defaults to `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined;
  /** Hears about every client login: accepted, or refused with the code the client was sent. Throws are ignored. */
  onLogin?(event: ProxyLoginEvent): void;
}

/** One client login through the proxy. */
export interface ProxyLoginEvent {
  /** True once the upstream session is open and relaying. */
  readonly accepted: boolean;
  /** The user the local client named (not the upstream user). */
  readonly user: string;
}

/** What {@link EntraProxy.close} does with open sessions. */
export interface ProxyCloseOptions {
  /** Stop accepting, then let open sessions finish for up to this long before cutting them. Defaults to 0. */
  readonly graceInMs?: number | undefined;
}

/** Counters of a running proxy. */
export interface ProxyStats {
  /** Client connections open now. */
  readonly connections: number;
  /** Logins relayed to an upstream session. */
  readonly accepted: number;
  /** Logins refused (locally or upstream). */
  readonly refused: number;
}

/** A running proxy, from {@link startProxy}. */
export interface EntraProxy extends AsyncDisposable {
  /** The upstream engine. */
  readonly engine: Engine;
  /** The address it listens on (the socket path when listening on a Unix socket). */
  readonly host: string;
  /** The port it listens on (`0` on a Unix socket). */
  readonly port: number;
  /** The upstream server, `host:port`. */
  readonly upstream: string;
  /** Counters since start. */
  readonly stats: ProxyStats;
  /** Stops accepting, drains open sessions for `graceInMs`, then closes the rest. Idempotent. */
  close(options?: ProxyCloseOptions): Promise<void>;
}

const PROTOCOLS: Readonly<Record<Engine, ProxyEngineProtocol>> = {
  postgresql: pgProxyProtocol,
  mysql: mysqlProxyProtocol,
  sqlserver: tdsProxyProtocol,
};

const DEFAULT_PORT: Readonly<Record<Engine, number>> = { postgresql: 5432, mysql: 3306, sqlserver: 1433 };

/**
 * Starts a local auth proxy: clients that cannot take a token hook (psql, GUI tools, Prisma's
 * migration engine, other languages, PgBouncer) connect to it without a token, and for each
 * connection it opens a session to the Azure server over verified TLS (TDS 8 strict for Azure
 * SQL), signs in with a token from the shared provider, then relays bytes as they are. Tokens are
 * never sent to local clients.
 *
 * @example
 * ```ts
 * await using proxy = await startProxy({ engine: "postgresql", host: "myserver.postgres.database.azure.com" });
 * // psql "host=127.0.0.1 port=${proxy.port} dbname=app"
 * ```
 *
 * @throws EntraAuthError `MISSING_SETTING` without a host, `INVALID_SETTING` for a non-loopback
 *   address without a local password or a malformed option; the listen error when the address is taken.
 */
export async function startProxy(options: ProxyOptions): Promise<EntraProxy> {
  const listen = options.listen ?? {};
  const path = "path" in listen ? listen.path : undefined;
  const listenHost = "path" in listen ? "" : (listen.host ?? "127.0.0.1");
  const localPassword = options.localPassword === "" ? undefined : options.localPassword;
  if (path === undefined && !isLoopback(listenHost) && localPassword === undefined) {
    throw new EntraAuthError(
      "INVALID_SETTING",
      `Refusing to listen on ${listenHost} without a local password: anyone who can reach it would use your database identity.`,
      {
        hint: `Set a local password (--local-password or ${PROXY_PASSWORD_VARIABLE}), or listen on 127.0.0.1.`,
      },
    );
  }
  // The proxy verifies upstream TLS whatever the environment says, but a process told to trust
  // anything is misconfigured: say so, as every adapter does.
  assertSecureTls(undefined, { processEnv: process.env });
  const maxConnections = positiveInteger("maxConnections", options.maxConnections ?? 100);
  const target = resolveEntraTarget(
    options.engine,
    { host: options.host, port: options.port, database: options.database, user: options.user },
    {
      credential: options.credential,
      clientId: options.clientId,
      scope: options.scope,
      tokenProvider: options.tokenProvider,
      getTokenTimeoutInMs: options.getTokenTimeoutInMs,
      env: options.env,
    },
  );
  if (!target.host) {
    const variable =
      options.engine === "sqlserver" ? "AZURE_SQL_SERVER" : `AZURE_${options.engine.toUpperCase()}_HOST`;
    throw new EntraAuthError("MISSING_SETTING", `No upstream host given for ${options.engine}.`, {
      hint: `Pass --host (host in startProxy) or set ${variable}.`,
    });
  }
  if (options.warmUp === true) await target.provider.getToken();
  const upstream = { host: target.host, port: target.port ?? DEFAULT_PORT[options.engine] };
  const upstreamName = `${upstream.host}:${upstream.port}`;
  const counts = { accepted: 0, refused: 0 };
  let shuttingDown = false;
  let server: TrackedServer | undefined;

  const context: ProxyContext = {
    target,
    upstream,
    ca: options.ca,
    localPasswordRequired: localPassword !== undefined,
    localTls: options.localTls !== undefined,
    async credentials(signal) {
      const { token } = await target.provider.getToken({ abortSignal: signal });
      return { token, user: options.engine === "sqlserver" ? "" : target.userFor(token) };
    },
    upstreamFailure(error, details = {}) {
      const failure = upstreamFailure(error, { engine: options.engine, upstream: upstreamName, ...details });
      if (failure.invalidatesToken && details.token) target.provider.invalidate(details.token);
      return failure;
    },
    localRefusal,
  };

  const authorize = (request: GatewayLoginRequest): GatewayLoginDecision<ProxyRefusalReason> => {
    if (shuttingDown) return { ok: false, reason: "SHUTTING_DOWN" };
    if (localPassword !== undefined && !sameSecret(request.token, localPassword)) {
      return { ok: false, reason: "LOCAL_PASSWORD" };
    }
    if ((server?.connectionCount ?? 0) > maxConnections) return { ok: false, reason: "TOO_MANY_CONNECTIONS" };
    return { ok: true, backendUser: request.user };
  };

  const protocol = PROTOCOLS[options.engine];
  const gatewayOptions: GatewayOptions<ProxyRefusalReason> = {
    host: listenHost,
    port: "path" in listen ? 0 : positiveInteger("port", listen.port ?? 0, true),
    tls: options.localTls,
    authorize,
    onLogin(event) {
      if (event.accepted) counts.accepted += 1;
      else counts.refused += 1;
      options.onLogin?.({ accepted: event.accepted, user: event.user });
    },
  };
  server = await listenGateway<ProxyRefusalReason, GatewayOptions<ProxyRefusalReason>>(
    gatewayOptions,
    {
      startupTimeoutInMs: options.loginTimeoutInMs ?? 30_000,
      idleTimeoutInMs: options.idleTimeoutInMs ?? 0,
    },
    (session) => protocol.create(session, context),
    { pauseOnConnect: protocol.pauseOnConnect, failedAuthorization: "LOCAL_PASSWORD", path },
  );
  const release = holdTokenProvider(target.provider, context);
  const listening = server;
  let closing: Promise<void> | undefined;
  const close = (closeOptions: ProxyCloseOptions = {}): Promise<void> => {
    closing ??= (async () => {
      shuttingDown = true;
      try {
        await listening.close({ graceInMs: closeOptions.graceInMs ?? 0 });
      } finally {
        release();
      }
    })();
    return closing;
  };
  return Object.freeze({
    engine: options.engine,
    host: listening.host,
    port: listening.port,
    upstream: upstreamName,
    get stats(): ProxyStats {
      return { connections: listening.connectionCount, accepted: counts.accepted, refused: counts.refused };
    },
    close,
    [Symbol.asyncDispose]: () => close(),
  });
}

/** True for `localhost`, 127.0.0.0/8 and `::1`. */
function isLoopback(host: string): boolean {
  if (host === "localhost") return true;
  if (isIP(host) === 4) return host.startsWith("127.");
  return host === "::1" || host === "::ffff:127.0.0.1";
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given, "utf8");
  const b = Buffer.from(expected, "utf8");
  return a.length === b.length && timingSafeEqual(a, b);
}

function positiveInteger(name: string, value: number, allowZero = false): number {
  if (!Number.isInteger(value) || value < (allowZero ? 0 : 1)) {
    throw new EntraAuthError(
      "INVALID_SETTING",
      `${name} must be a ${allowZero ? "non-negative" : "positive"} integer (got ${value}).`,
    );
  }
  return value;
}
