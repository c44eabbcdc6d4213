import { connect } from "node:net";
import {
  buildAuthenticationCleartextPassword,
  buildAuthenticationOk,
  buildErrorResponse,
  type GatewayBackendLogin,
  type GatewayProtocol,
  type GatewaySession,
  listenGateway,
  loginToBackend,
  type PgClientStartup,
  type PgErrorFields,
  PgFrameReader,
  readPgClientStartup,
  readPgPasswordMessage,
  type ServerSettings,
  type SessionLimits,
  type TrackedServer,
} from "@org/entra-wire";
import type { LoginDecision, LoginRejectionReason, LoginRequest } from "../authorize-login.js";

/** Why the gateway refused a login; each maps to the message Azure Database for PostgreSQL sends. */
export type RejectionReason = LoginRejectionReason;

/** What {@link PgGatewayOptions.authorize} decides for one login. */
export type AuthDecision = LoginDecision;

/** Options of {@link startPgGateway}. */
export interface PgGatewayOptions {
  /** Interface to listen on, e.g. `127.0.0.1`. */
  host: string;
  /** Port to listen on; `0` picks a free port (read it back from {@link PgGateway.port}). */
  port: number;
  /** PEM private key and certificate chain presented to clients after SSLRequest. */
  tls: { key: string; cert: string };
  /** Refuse plaintext logins with the `no pg_hba.conf entry ... no encryption` error, as Azure does. */
  requireTls: boolean;
  /**
   * The real PostgreSQL server sessions are opened on (plain TCP). `password` answers a cleartext,
   * MD5 or SCRAM-SHA-256 request; without it only trust authentication works. `database` replaces
   * the client's database, for single-database backends such as PGlite; without it the client's
   * database is used.
   */
  backend: { host: string; port: number; password?: string; database?: string };
  /**
   * Decides a login from the password the client sent (the access token). A throw or rejection
   * counts as `invalid`.
   */
  authorize(request: LoginRequest): AuthDecision | Promise<AuthDecision>;
  /**
   * Called once per login attempt: `accepted: true` once the backend session is open; `accepted: false`
   * with a `reason` when refused, or without one when the backend refused or failed. Throws are ignored.
   */
  onLogin?(event: { accepted: boolean; reason?: RejectionReason; user: string }): void;
}

/**
 * Tunables of {@link startPgGateway} that tests shorten; those left out of its `limits` argument
 * come from the gateways' defaults (30 s to log in, 2 s to linger).
 */
export type PgGatewayLimits = SessionLimits;

/** A running gateway; `close()` stops it. */
export type PgGateway = TrackedServer;

const REJECTION_ERRORS: Record<Exclude<RejectionReason, "tls-required" | "principal">, PgErrorFields> = {
  expired: {
    severity: "FATAL",
    code: "28000",
    message: "The access token has expired. Please acquire a new token and retry.",
  },
  audience: {
    severity: "FATAL",
    code: "28000",
    message:
      'The access token does not have a valid audience claim. Please acquire a new token for the resource "https://ossrdbms-aad.database.windows.net".',
  },
  invalid: {
    severity: "FATAL",
    code: "28000",
    message: "An error occurred while validating the access token. Please acquire a new token and retry",
  },
};

/** The ErrorResponse fields Azure Database for PostgreSQL sends for a refused Entra login. */
export function rejectionError(
  reason: RejectionReason,
  login: { user: string; database: string; remoteAddress: string },
): PgErrorFields {
  if (reason === "principal") {
    return {
      severity: "FATAL",
      code: "28P01",
      message: `password authentication failed for user "${login.user}"`,
    };
  }
  if (reason === "tls-required") {
    return {
      severity: "FATAL",
      code: "28000",
      message: `no pg_hba.conf entry for host "${login.remoteAddress}", user "${login.user}", database "${login.database}", no encryption`,
    };
  }
  return REJECTION_ERRORS[reason];
}

/**
 * Starts a PostgreSQL wire-protocol gateway that behaves like Azure Database for PostgreSQL with
 * Microsoft Entra authentication: it asks for a cleartext password (the access token), lets
 * `authorize` decide, then logs in to `backend` as the decided user and pipes the session.
 *
 * @example
 * const gateway = await startPgGateway({
 *   host: "127.0.0.1", port: 0, tls: { key, cert }, requireTls: true,
 *   backend: { host: "127.0.0.1", port: 5432 },
 *   authorize: ({ token }) => (token === "good" ? { ok: true, backendUser: "app" } : { ok: false, reason: "invalid" }),
 * });
 * // ... connect with pg: { host: gateway.host, port: gateway.port, ssl: { ca: cert }, password: token }
 * await gateway.close();
 */
export async function startPgGateway(
  options: PgGatewayOptions,
  limits: Partial<PgGatewayLimits> = {},
): Promise<PgGateway> {
  return listenGateway<LoginRejectionReason, PgGatewayOptions>(
    options,
    limits,
    (session, settings) => new PgClientLogin(session, settings),
    {
      failedAuthorization: "invalid",
    },
  );
}

type PgGatewaySettings = ServerSettings<PgGatewayOptions, PgGatewayLimits>;

/**
 * The PostgreSQL side of one gateway session: startup packets (SSLRequest, GSSENCRequest,
 * CancelRequest, StartupMessage), the cleartext password request, Azure's refusals and the backend
 * login.
 */
class PgClientLogin implements GatewayProtocol<LoginRejectionReason> {
  readonly reader = new PgFrameReader();
  readonly #session: GatewaySession<LoginRejectionReason>;
  readonly #settings: PgGatewaySettings;
  #user = "";
  #database = "";
  #parameters: Array<readonly [string, string]> = [];

  constructor(session: GatewaySession<LoginRejectionReason>, settings: PgGatewaySettings) {
    this.#session = session;
    this.#settings = settings;
    session.listen();
  }

  get user(): string {
    return this.#user;
  }

  readNext(): boolean {
    return this.#session.phase === "startup" ? this.#readStartupPacket() : this.#readPasswordMessage();
  }

  refusal(reason: RejectionReason): Buffer {
    return buildErrorResponse(
      rejectionError(reason, {
        user: this.#user,
        database: this.#database,
        remoteAddress: this.#session.remoteAddress,
      }),
    );
  }

  async openBackendSession(backendUser: string, signal: AbortSignal): Promise<GatewayBackendLogin> {
    const { backend } = this.#settings.options;
    const login = await loginToBackend({
      host: backend.host,
      port: backend.port,
      password: backend.password,
      user: backendUser,
      database: backend.database ?? this.#database,
      parameters: this.#parameters,
      signal,
    });
    if (!login.ok) return { ok: false, refusal: login.errorResponse };
    return {
      ok: true,
      socket: login.socket,
      reply: Buffer.concat([buildAuthenticationOk(), login.sessionStartBytes]),
    };
  }

  #readStartupPacket(): boolean {
    return readPgClientStartup(this.#session, this.reader, {
      offerTls: true,
      cancel: (bytes) => this.#forwardCancel(bytes),
      startup: (startup) => this.#startLogin(startup),
    });
  }

  /** Relays a CancelRequest to the backend on a connection of its own, then closes. */
  #forwardCancel(bytes: Buffer): void {
    const { host, port } = this.#settings.options.backend;
    const backend = connect({ host, port });
    this.#session.closeAfter(backend);
    backend.on("connect", () => backend.end(Buffer.from(bytes)));
  }

  #startLogin(startup: PgClientStartup): void {
    const session = this.#session;
    this.#user = startup.user;
    this.#database = startup.database ?? startup.user;
    this.#parameters = [...startup.parameters];
    if (!session.tls && this.#settings.options.requireTls) {
      session.reject("tls-required");
      return;
    }
    session.awaitToken();
    session.client.write(buildAuthenticationCleartextPassword());
  }

  #readPasswordMessage(): boolean {
    return readPgPasswordMessage(this.#session, this.reader, { user: this.#user, database: this.#database });
  }
}
