import type { Socket } from "node:net";
import {
  DEFAULT_SESSION_LIMITS,
  listenTracked,
  remoteAddressOf,
  type ServerSettings,
  SessionLifetime,
  type SessionLimits,
  serverSettings,
} from "@org/entra-wire";
import type { LoginRejectionReason, SqlLoginDecision, SqlLoginRequest } from "../authorize-login.js";
import { type SqlRefusalReason, TdsLogin } from "./tds-login.js";
import { TdsRequests } from "./tds-requests.js";
import { TdsTransport } from "./tds-transport.js";

/** Options of {@link startSqlServerEndpoint}. */
export interface SqlServerEndpointOptions {
  /** Interface to listen on, e.g. `127.0.0.1`. */
  readonly host: string;
  /** Port to listen on; `0` picks a free port (read it back from {@link SqlServerEndpoint.port}). */
  readonly port: number;
  /** PEM private key and certificate chain (TDS 8 strict TLS and TLS inside PRELOGIN). */
  readonly tls: {
    /** The PEM private key. */
    readonly key: string;
    /** The PEM certificate chain, leaf first. */
    readonly cert: string;
  };
  /**
   * Require encryption, as Azure SQL Database does: a client whose PRELOGIN says it cannot encrypt
   * is answered ENCRYPT_REQ and refused (`tls-required`). `startEmulator` turns it on unless
   * `sqlserver.requireTls` is false.
   */
  readonly requireTls: boolean;
  /** The one database (`DB_NAME()`); LOGIN7 may name it or nothing. */
  readonly database: string;
  /** Tenant of the STS URL sent in FEDAUTHINFO (`https://login.microsoftonline.com/<tenant>/`). */
  readonly tenantId: string;
  /** Server name in ERROR/INFO tokens and `@@SERVERNAME`. Defaults to `emulated-sql`. */
  readonly serverName?: string;
  /** Decides a login from the access token. A throw or rejection counts as `invalid`. */
  authorize(request: SqlLoginRequest): SqlLoginDecision | Promise<SqlLoginDecision>;
  /**
   * Called once per login attempt: `accepted` with the database user, or refused with a reason
   * (`expired`, `audience`, `invalid`, `principal`, `tls-required`, `database`). Throws are ignored.
   */
  onLogin?(event: { accepted: boolean; reason?: LoginRejectionReason | "database"; user: string }): void;
  /**
   * Whether a session whose login token expires at `expiresOnTimestamp` (epoch milliseconds) has
   * expired now; asked when each request arrives. When it says so the request is answered with
   * error 37396 and the connection closed, as Azure SQL does. Without it sessions never expire.
   */
  isSessionExpired?(expiresOnTimestamp: number): boolean;
  /** Called once for each session ended with error 37396. Throws are ignored. */
  onSessionExpired?(): void;
}

/**
 * Tunables of {@link startSqlServerEndpoint} that tests shorten; those left out of its `limits`
 * argument come from {@link DEFAULT_SQLSERVER_ENDPOINT_LIMITS}.
 */
export interface SqlServerEndpointLimits extends SessionLimits {
  /** Largest PRELOGIN/LOGIN7/FEDAUTH_TOKEN message. Defaults to 256 KiB. */
  readonly maxLoginMessageLength: number;
  /** Largest request message after login. Defaults to 4 MiB. */
  readonly maxRequestLength: number;
}

/** Default {@link SqlServerEndpointLimits}. */
export const DEFAULT_SQLSERVER_ENDPOINT_LIMITS: SqlServerEndpointLimits = Object.freeze({
  ...DEFAULT_SESSION_LIMITS,
  maxLoginMessageLength: 256 * 1024,
  maxRequestLength: 4 * 1024 * 1024,
});

/** A running Azure SQL (TDS) endpoint, returned by {@link startSqlServerEndpoint}; `close()` stops it. */
export interface SqlServerEndpoint {
  /** The host it listens on, as given in the options. */
  readonly host: string;
  /** The port it listens on (the real one when `0` was asked). */
  readonly port: number;
  /** Stops listening and destroys every connection. Idempotent. */
  close(): Promise<void>;
}

/**
 * Starts an endpoint that speaks TDS like Azure SQL Database with Microsoft Entra authentication,
 * answering a small set of statements itself (there is no SQL Server behind it): TDS 8 strict TLS
 * or TLS inside PRELOGIN (TDS 7.4), LOGIN7 with FEDAUTH (SECURITYTOKEN, or ADAL with the
 * FEDAUTHINFO -> FEDAUTH_TOKEN exchange), then SQL_BATCH, `sp_executesql`, ATTENTION and
 * transaction-manager requests. With `isSessionExpired`, a request on a session whose token has
 * expired gets error 37396 and the connection closes, as Azure SQL does.
 *
 * @example
 * const endpoint = await startSqlServerEndpoint({
 *   host: "127.0.0.1", port: 0, tls: { key, cert }, requireTls: true, database: "emulated-db", tenantId,
 *   authorize: ({ token }) => authorizeSqlLogin({ token, database: "", remoteAddress: "" }, policy),
 * });
 * // tedious: { server: "localhost", options: { port: endpoint.port, encrypt: "strict", cryptoCredentialsDetails: { ca } },
 * //            authentication: { type: "azure-active-directory-access-token", options: { token } } }
 * await endpoint.close();
 */
export async function startSqlServerEndpoint(
  options: SqlServerEndpointOptions,
  limits: Partial<SqlServerEndpointLimits> = {},
): Promise<SqlServerEndpoint> {
  const settings: EndpointSettings = {
    ...serverSettings(options, DEFAULT_SQLSERVER_ENDPOINT_LIMITS, limits),
    serverName: options.serverName ?? "emulated-sql",
    nextSpid: 51,
  };
  return listenTracked(options, (socket, forget) => new TdsConnection(socket, settings, forget));
}

interface EndpointSettings extends ServerSettings<SqlServerEndpointOptions, SqlServerEndpointLimits> {
  readonly serverName: string;
  nextSpid: number;
}

/**
 * One client connection from accept to close; never throws out of its event handlers. The
 * transport carries the bytes, the login runs until LOGINACK, then the requests are answered.
 */
class TdsConnection {
  readonly #lifetime: SessionLifetime<SqlRefusalReason>;
  readonly #transport: TdsTransport;
  readonly #login: TdsLogin;
  #requests: TdsRequests | undefined;

  constructor(raw: Socket, settings: EndpointSettings, forget: () => void) {
    const remoteAddress = remoteAddressOf(raw);
    const spid = settings.nextSpid;
    settings.nextSpid = settings.nextSpid >= 32_000 ? 51 : settings.nextSpid + 1;
    this.#lifetime = new SessionLifetime(settings.limits, {
      observer: settings.options,
      teardown: () => this.#teardown(),
      forget,
    });
    this.#transport = new TdsTransport(
      raw,
      { maxMessageLength: settings.limits.maxLoginMessageLength, spid },
      {
        strict: () => this.#transport.startStrictTls(settings.secureContext),
        message: (message) => (this.#requests ?? this.#login).handle(message),
        accepting: () => !this.#lifetime.closing && this.#login.accepting,
        closed: () => this.destroy(),
      },
    );
    this.#login = new TdsLogin(settings, {
      transport: this.#transport,
      lifetime: this.#lifetime,
      remoteAddress,
      loggedIn: (identity) => {
        this.#requests = new TdsRequests({
          transport: this.#transport,
          session: {
            ...identity,
            database: settings.options.database,
            spid,
            serverName: settings.serverName,
          },
          fail: () => this.destroy(),
          sessionExpired: () => this.#sessionExpired(settings.options, identity.expiresOnTimestamp),
          end: () => this.#lifetime.end(() => this.#transport.end()),
        });
        this.#lifetime.loggedIn();
        this.#transport.maxMessageLength = settings.limits.maxRequestLength;
      },
    });
  }

  /** Destroys every socket of this connection. Idempotent. */
  destroy(): void {
    this.#lifetime.destroy();
  }

  #sessionExpired(options: SqlServerEndpointOptions, expiresOnTimestamp: number | undefined): boolean {
    if (expiresOnTimestamp === undefined || !options.isSessionExpired?.(expiresOnTimestamp)) return false;
    try {
      options.onSessionExpired?.();
    } catch {
      // A failing observer must not keep the session alive.
    }
    return true;
  }

  #teardown(): void {
    this.#requests?.stop();
    this.#transport.destroy();
    this.#login.closed();
  }
}
