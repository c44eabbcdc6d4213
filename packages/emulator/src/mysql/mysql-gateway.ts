import {
  askForClearPassword,
  authenticateMysqlBackend,
  buildErrorPacket,
  buildHandshake,
  buildPacket,
  DEFAULT_SESSION_LIMITS,
  type GatewayBackendLogin,
  type GatewayProtocol,
  type GatewaySession,
  listenGateway,
  MYSQL_MAX_LOGIN_PACKET_LENGTH,
  MysqlBackendError,
  type MysqlBackendSession,
  type MysqlErrorFields,
  type MysqlHandshakeResponse,
  MysqlLoginSequence,
  MysqlPacketReader,
  openMysqlBackend,
  parseClearPassword,
  parseClientFirstPacket,
  type ServerSettings,
  type SessionLimits,
  type TrackedServer,
} from "@org/entra-wire";
import type { LoginDecision, LoginRejectionReason, LoginRequest } from "../authorize-login.js";
import { gatewayGreeting, type MysqlPersona } from "./mysql-persona.js";

/** Options of {@link startMysqlGateway}. */
export interface MysqlGatewayOptions {
  /** Interface to listen on, e.g. `127.0.0.1`. */
  readonly host: string;
  /** Port to listen on; `0` picks a free port (read it back from the gateway's `port`). */
  readonly port: number;
  /** PEM private key and certificate chain presented to clients after their SSLRequest. */
  readonly tls: {
    /** The PEM private key. */
    readonly key: string;
    /** The PEM certificate chain, leaf first. */
    readonly cert: string;
  };
  /** Refuse logins without TLS with error 3159, as Azure does (`require_secure_transport=ON`). */
  readonly requireTls: boolean;
  /**
   * The real MySQL/MariaDB server sessions are opened on (plain TCP). `password` is the backend
   * password of every user the gateway logs in as (`mysql_native_password`, `caching_sha2_password`
   * or `mysql_clear_password`). Defaults to an empty password.
   */
  readonly backend: {
    /** The backend server's host. */
    readonly host: string;
    /** The backend server's port. */
    readonly port: number;
    /** The backend password of every user. Defaults to an empty password. */
    readonly password?: string;
  };
  /**
   * What the greeting claims to be. `mysql8` presents MySQL 8.0.42 as Azure Database for MySQL does
   * (`CLIENT_LONG_PASSWORD` set, no MariaDB extended capabilities, default plugin
   * `caching_sha2_password`), whatever the backend, with only capability bits the backend also has;
   * `mariadb` forwards the backend's own greeting. Both keep the backend's thread id. Defaults to `mysql8`.
   */
  readonly persona?: MysqlPersona;
  /**
   * Decides a login from the cleartext password the client sent (the access token). A throw or
   * rejection counts as `invalid`. The same contract as the PostgreSQL gateway's `authorize`.
   */
  authorize(request: LoginRequest): LoginDecision | Promise<LoginDecision>;
  /**
   * Called once per login attempt: `accepted: true` once the backend session is open; `accepted: false`
   * with a `reason` when refused, or without one when the backend refused or failed. Throws are ignored.
   */
  onLogin?(event: { accepted: boolean; reason?: LoginRejectionReason; user: string }): void;
}

/**
 * Tunables of {@link startMysqlGateway} that tests shorten: `startupTimeoutInMs`, after which a
 * connection that has not finished logging in is closed (default 30 000), and `lingerInMs`, how
 * long a refused client may take to close before its socket is destroyed (default 2 000).
 */
export type MysqlGatewayLimits = SessionLimits;

/** Default {@link MysqlGatewayLimits}. */
export const DEFAULT_MYSQL_GATEWAY_LIMITS: MysqlGatewayLimits = DEFAULT_SESSION_LIMITS;

/**
 * A running gateway; `close()` stops it. It has the `host` it listens on (as given in the
 * options), the `port` (the real one when `0` was asked), and `close()`, which stops listening and
 * destroys every live connection (idempotent).
 */
export type MysqlGateway = TrackedServer;

/** The Entra audience Azure Database for MySQL accepts (named in the audience error). */
const OSSRDBMS_RESOURCE = "https://ossrdbms-aad.database.windows.net";

/**
 * The ERR fields the gateway sends for a refused login. 9119 (expired), 1045 (principal) and 3159
 * (insecure transport) are Azure's documented errors; 9118 (invalid) and 9120 (audience) are assumed.
 */
export function mysqlRejectionError(
  reason: LoginRejectionReason,
  login: { user: string; remoteAddress: string },
): MysqlErrorFields {
  switch (reason) {
    case "expired":
      return {
        code: 9119,
        sqlState: "HY000",
        message: "The access token has expired. Please acquire a new token and retry.",
      };
    case "audience":
      return {
        code: 9120,
        sqlState: "HY000",
        message: `The access token does not have a valid audience claim. Please acquire a new token for the resource "${OSSRDBMS_RESOURCE}".`,
      };
    case "invalid":
      return {
        code: 9118,
        sqlState: "HY000",
        message: "An error occurred while validating the access token. Please acquire a new token and retry.",
      };
    case "principal":
      return {
        code: 1045,
        sqlState: "28000",
        message: `Access denied for user '${login.user}'@'${login.remoteAddress}' (using password: YES)`,
      };
    case "tls-required":
      return {
        code: 3159,
        sqlState: "HY000",
        message: "Connections using insecure transport are prohibited while --require_secure_transport=ON.",
      };
  }
}

/**
 * Starts a MySQL wire-protocol gateway that behaves like Azure Database for MySQL with Microsoft
 * Entra authentication: it greets as MySQL 8.0.42 (or, with `persona: "mariadb"`, forwards the
 * backend's greeting) with the backend's thread id, upgrades to TLS on SSLRequest, switches the
 * client to `mysql_clear_password`, lets `authorize` decide on the token, then finishes the backend
 * login as the decided user and pipes the session.
 *
 * @example
 * const gateway = await startMysqlGateway({
 *   host: "127.0.0.1", port: 0, tls: { key, cert }, requireTls: true,
 *   backend: { host: "127.0.0.1", port: 3306 },
 *   authorize: ({ token }) => (token === "good" ? { ok: true, backendUser: "app" } : { ok: false, reason: "invalid" }),
 * });
 * // mysql2: { host: "localhost", port: gateway.port, ssl: { ca: cert }, user: "app",
 * //          authPlugins: { mysql_clear_password: () => () => Buffer.from(`${token}\0`) } }
 * await gateway.close();
 */
export async function startMysqlGateway(
  options: MysqlGatewayOptions,
  limits: Partial<MysqlGatewayLimits> = {},
): Promise<MysqlGateway> {
  return listenGateway<LoginRejectionReason, MysqlGatewayOptions>(
    options,
    limits,
    (session, settings) => new MysqlClientLogin(session, settings),
    {
      pauseOnConnect: true,
      failedAuthorization: "invalid",
    },
  );
}

type MysqlGatewaySettings = ServerSettings<MysqlGatewayOptions, MysqlGatewayLimits>;

/**
 * The MySQL side of one gateway session: connects to the backend and greets as the persona with the
 * backend's thread id, reads SSLRequest and HandshakeResponse41 (sequence ids checked), switches the
 * client to `mysql_clear_password`, refuses with Azure's errors and finishes the backend login.
 */
class MysqlClientLogin implements GatewayProtocol<LoginRejectionReason> {
  readonly reader = new MysqlPacketReader(MYSQL_MAX_LOGIN_PACKET_LENGTH + 4);
  readonly #session: GatewaySession<LoginRejectionReason>;
  readonly #settings: MysqlGatewaySettings;
  #backend: MysqlBackendSession | undefined;
  /** The login's sequence ids toward the client. */
  readonly #sequence = new MysqlLoginSequence();
  #response: MysqlHandshakeResponse | undefined;

  constructor(session: GatewaySession<LoginRejectionReason>, settings: MysqlGatewaySettings) {
    this.#session = session;
    this.#settings = settings;
    this.#greet().catch(() => session.destroy());
  }

  get user(): string {
    return this.#response?.user ?? "";
  }

  readNext(): boolean {
    const packet = this.reader.readPacket(MYSQL_MAX_LOGIN_PACKET_LENGTH);
    if (packet === undefined) return false;
    if (!this.#sequence.accept(packet)) {
      this.#session.destroy(); // out-of-order packet: a confused or hostile client
      return false;
    }
    if (this.#session.phase === "startup") this.#onClientFirstPacket(packet.payload);
    else
      this.#session.authorize(parseClearPassword(packet.payload), this.#response as MysqlHandshakeResponse);
    return true;
  }

  refusal(reason: LoginRejectionReason): Buffer {
    return this.#sequence.error(
      mysqlRejectionError(reason, { user: this.user, remoteAddress: this.#session.remoteAddress }),
    );
  }

  async openBackendSession(backendUser: string, signal: AbortSignal): Promise<GatewayBackendLogin> {
    const response = this.#response as MysqlHandshakeResponse;
    const backend = this.#backend as MysqlBackendSession;
    const login = await authenticateMysqlBackend(backend, {
      user: backendUser,
      password: this.#settings.options.backend.password,
      database: response.database,
      capabilities: response.capabilities,
      extendedCapabilities: response.extendedCapabilities,
      maxPacketSize: response.maxPacketSize,
      characterSet: response.characterSet,
      connectAttributes: response.connectAttributes,
      signal,
    });
    if (!login.ok) return { ok: false, refusal: this.#sequence.error(login.error) };
    return { ok: true, socket: backend.detach(), reply: this.#sequence.packet(login.okPayload) };
  }

  /** Connects to the backend and greets the client as the persona, with the backend's thread id. */
  async #greet(): Promise<void> {
    const session = this.#session;
    const { backend, persona } = this.#settings.options;
    let opened: MysqlBackendSession;
    try {
      opened = await openMysqlBackend({ host: backend.host, port: backend.port, signal: session.signal });
    } catch (error) {
      if (session.phase !== "startup") return;
      const fields =
        error instanceof MysqlBackendError ? error.fields : { code: 1105, message: String(error) };
      // Before the handshake the client does not know about SQLSTATE markers yet.
      session.refuse(buildPacket(0, buildErrorPacket({ code: fields.code, message: fields.message })));
      return;
    }
    if (session.phase !== "startup") {
      opened.destroy();
      return;
    }
    this.#backend = opened;
    session.hold(opened);
    session.client.write(
      this.#sequence.packet(buildHandshake(gatewayGreeting(persona ?? "mysql8", opened.greeting))),
    );
    session.listen();
  }

  #onClientFirstPacket(payload: Buffer): void {
    const session = this.#session;
    const packet = parseClientFirstPacket(payload);
    if (packet.kind === "ssl-request") {
      if (session.tls) {
        session.destroy();
        return;
      }
      // MySQL sends nothing after SSLRequest, so the ClientHello may already sit in our buffer:
      // hand it back to the raw socket, which the TLS socket drains first.
      session.upgradeToTls({ pending: this.reader.takeRemainder() });
      return;
    }
    this.#response = packet;
    if (!session.tls && this.#settings.options.requireTls) {
      session.reject("tls-required");
      return;
    }
    askForClearPassword(session, this.#sequence, packet, packet);
  }
}
