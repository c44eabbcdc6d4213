import type { Socket } from "node:net";
import { createSecureContext, type SecureContext } from "node:tls";
import { acceptTls } from "../accept-tls.js";
import type { LoginDecision, LoginRejectionReason, LoginRequest } from "../authorize-login.js";
import { listenTracked } from "../listen-tracked.js";
import {
  authenticateMysqlBackend,
  MysqlBackendError,
  type MysqlBackendSession,
  openMysqlBackend,
} from "./mysql-backend-login.js";
import {
  buildClearPasswordSwitch,
  buildErrorPacket,
  buildHandshake,
  buildPacket,
  MYSQL_MAX_LOGIN_PACKET_LENGTH,
  MysqlCapability,
  type MysqlErrorFields,
  type MysqlHandshakeResponse,
  MysqlPacketReader,
  parseClearPassword,
  parseClientFirstPacket,
} from "./mysql-packets.js";
import { gatewayGreeting, type MysqlPersona } from "./mysql-persona.js";

/** Options of {@link startMysqlGateway}. */
export interface MysqlGatewayOptions {
  /** Interface to listen on, e.g. `127.0.0.1`. */
  readonly host: string;
  /** Port to listen on; `0` picks a free port (read it back from {@link MysqlGateway.port}). */
  readonly port: number;
  /** PEM private key and certificate chain presented to clients after their SSLRequest. */
  readonly tls: { readonly key: string; readonly cert: string };
  /** Refuse logins without TLS with error 3159, as Azure does (`require_secure_transport=ON`). */
  readonly requireTls: boolean;
  /**
   * The real MySQL/MariaDB server sessions are opened on (plain TCP). `password` is the backend
   * password of every user the gateway logs in as (`mysql_native_password`, `caching_sha2_password`
   * or `mysql_clear_password`). Defaults to an empty password.
   */
  readonly backend: { readonly host: string; readonly port: number; readonly password?: string };
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
   * Defaults to no callback.
   */
  onLogin?(event: { accepted: boolean; reason?: LoginRejectionReason; user: string }): void;
}

/** Tunables of {@link startMysqlGateway} that tests shorten. */
export interface MysqlGatewayLimits {
  /** A connection that has not finished logging in after this long is closed. Defaults to 30 000. */
  readonly startupTimeoutInMs: number;
  /** How long a refused client may take to close before its socket is destroyed. Defaults to 2 000. */
  readonly lingerInMs: number;
}

/** Default {@link MysqlGatewayLimits}. */
export const DEFAULT_MYSQL_GATEWAY_LIMITS: MysqlGatewayLimits = Object.freeze({
  startupTimeoutInMs: 30_000,
  lingerInMs: 2_000,
});

/** A running gateway; `close()` stops it. */
export interface MysqlGateway {
  /** The host it listens on, as given in the options. */
  readonly host: string;
  /** The port it listens on (the real one when `0` was asked). */
  readonly port: number;
  /** Stops listening and destroys every client and backend socket. Idempotent. */
  close(): Promise<void>;
}

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
  const settings: GatewaySettings = {
    options,
    limits: { ...DEFAULT_MYSQL_GATEWAY_LIMITS, ...limits },
    secureContext: createSecureContext({ key: options.tls.key, cert: options.tls.cert }),
  };
  return listenTracked(
    { host: options.host, port: options.port, pauseOnConnect: true },
    (socket, forget) => new ClientConnection(socket, settings, forget),
  );
}

interface GatewaySettings {
  readonly options: MysqlGatewayOptions;
  readonly limits: MysqlGatewayLimits;
  readonly secureContext: SecureContext;
}

type Phase = "greeting" | "handshake" | "token" | "authorizing" | "piping" | "closing" | "closed";

/** One client connection from accept to close; never throws out of its event handlers. */
class ClientConnection {
  readonly #raw: Socket;
  readonly #settings: GatewaySettings;
  readonly #onClosed: () => void;
  readonly #reader = new MysqlPacketReader(MYSQL_MAX_LOGIN_PACKET_LENGTH + 4);
  readonly #abort = new AbortController();
  readonly #remoteAddress: string;
  #client: Socket;
  #backend: MysqlBackendSession | undefined;
  #piped: Socket | undefined;
  #phase: Phase = "greeting";
  #tls = false;
  /** Sequence id the next packet to the client carries. */
  #sequenceId = 0;
  #response: MysqlHandshakeResponse | undefined;
  #timer: NodeJS.Timeout | undefined;
  readonly #onData = (chunk: Buffer) => this.#receive(chunk);

  constructor(raw: Socket, settings: GatewaySettings, onClosed: () => void) {
    this.#raw = raw;
    this.#client = raw;
    this.#settings = settings;
    this.#onClosed = onClosed;
    this.#remoteAddress = normalizeAddress(raw.remoteAddress);
    raw.on("error", () => this.destroy());
    raw.on("close", () => this.destroy());
    this.#timer = setTimeout(() => this.destroy(), settings.limits.startupTimeoutInMs);
    this.#timer.unref();
    this.#greet().catch(() => this.destroy());
  }

  /** Destroys the client and backend sockets. Idempotent. */
  destroy(): void {
    if (this.#phase === "closed") return;
    this.#phase = "closed";
    clearTimeout(this.#timer);
    this.#abort.abort();
    this.#client.destroy();
    this.#raw.destroy();
    this.#backend?.destroy();
    this.#piped?.destroy();
    this.#onClosed();
  }

  /** Connects to the backend and greets the client as the persona, with the backend's thread id. */
  async #greet(): Promise<void> {
    const { backend } = this.#settings.options;
    let session: MysqlBackendSession;
    try {
      session = await openMysqlBackend({
        host: backend.host,
        port: backend.port,
        signal: this.#abort.signal,
      });
    } catch (error) {
      if (this.#phase !== "greeting") return;
      const fields =
        error instanceof MysqlBackendError ? error.fields : { code: 1105, message: String(error) };
      this.#report({ accepted: false, user: "" });
      // Before the handshake the client does not know about SQLSTATE markers yet.
      this.#end(buildPacket(0, buildErrorPacket({ code: fields.code, message: fields.message })));
      return;
    }
    if (this.#phase !== "greeting") {
      session.destroy();
      return;
    }
    this.#backend = session;
    this.#write(
      buildHandshake(gatewayGreeting(this.#settings.options.persona ?? "mysql8", session.greeting)),
    );
    this.#phase = "handshake";
    this.#raw.on("data", this.#onData);
    this.#raw.resume();
  }

  #write(payload: Buffer): void {
    this.#client.write(buildPacket(this.#sequenceId, payload));
    this.#sequenceId = (this.#sequenceId + 1) & 0xff;
  }

  #receive(chunk: Buffer): void {
    try {
      this.#reader.push(chunk);
      while (this.#phase === "handshake" || this.#phase === "token") {
        const packet = this.#reader.readPacket(MYSQL_MAX_LOGIN_PACKET_LENGTH);
        if (packet === undefined) return;
        if (packet.sequenceId !== this.#sequenceId) {
          this.destroy(); // out-of-order packet: a confused or hostile client
          return;
        }
        this.#sequenceId = (this.#sequenceId + 1) & 0xff;
        if (this.#phase === "handshake") this.#onClientFirstPacket(packet.payload);
        else this.#onToken(packet.payload);
      }
    } catch {
      // Malformed input (MysqlProtocolError) or a write on a dead socket: drop this connection only.
      this.destroy();
    }
  }

  #onClientFirstPacket(payload: Buffer): void {
    const packet = parseClientFirstPacket(payload);
    if (packet.kind === "ssl-request") {
      if (this.#tls) {
        this.destroy();
        return;
      }
      this.#upgradeToTls();
      return;
    }
    this.#response = packet;
    if (!this.#tls && this.#settings.options.requireTls) {
      this.#reject("tls-required");
      return;
    }
    if (!(packet.capabilities & MysqlCapability.pluginAuth)) {
      this.#report({ accepted: false, user: packet.user });
      this.#refuse({
        code: 1251,
        sqlState: "08004",
        message:
          "Client does not support authentication protocol requested by server; consider upgrading MySQL client",
      });
      return;
    }
    // A client that already chose cleartext (the greeting named it) sent the token: skip the switch.
    if (packet.authPluginName === "mysql_clear_password" && packet.authResponse.length > 0) {
      this.#startAuthorizing(parseClearPassword(packet.authResponse));
      return;
    }
    this.#phase = "token";
    this.#write(buildClearPasswordSwitch());
  }

  #upgradeToTls(): void {
    // MySQL sends nothing after SSLRequest, so the ClientHello may already sit in our buffer:
    // hand it back to the raw socket, which the TLS socket drains first.
    this.#client = acceptTls(this.#raw, {
      secureContext: this.#settings.secureContext,
      pending: this.#reader.takeRemainder(),
      onData: this.#onData,
      onClose: () => this.destroy(),
    });
    this.#tls = true;
  }

  #onToken(payload: Buffer): void {
    this.#startAuthorizing(parseClearPassword(payload));
  }

  #startAuthorizing(token: string): void {
    this.#phase = "authorizing";
    this.#client.pause();
    this.#authorizeAndConnect(token).catch(() => this.destroy());
  }

  async #authorizeAndConnect(token: string): Promise<void> {
    const { options } = this.#settings;
    const response = this.#response as MysqlHandshakeResponse;
    let decision: LoginDecision;
    try {
      decision = await options.authorize({
        token,
        user: response.user,
        database: response.database,
        remoteAddress: this.#remoteAddress,
      });
    } catch {
      decision = { ok: false, reason: "invalid" };
    }
    if (this.#phase !== "authorizing") return;
    if (!decision.ok) {
      this.#reject(decision.reason);
      return;
    }
    const session = this.#backend as MysqlBackendSession;
    const login = await authenticateMysqlBackend(session, {
      user: decision.backendUser,
      password: options.backend.password,
      database: response.database,
      capabilities: response.capabilities,
      extendedCapabilities: response.extendedCapabilities,
      maxPacketSize: response.maxPacketSize,
      characterSet: response.characterSet,
      connectAttributes: response.connectAttributes,
      signal: this.#abort.signal,
    });
    if (this.#phase !== "authorizing") return;
    if (!login.ok) {
      this.#report({ accepted: false, user: response.user });
      this.#refuse(login.error);
      return;
    }
    this.#startPiping(session.detach(), login.okPayload);
  }

  #startPiping(backend: Socket, okPayload: Buffer): void {
    const client = this.#client;
    this.#piped = backend;
    this.#backend = undefined;
    this.#phase = "piping";
    clearTimeout(this.#timer);
    backend.on("error", () => this.destroy());
    // A closed backend ends the client gracefully so a last ERR (e.g. after KILL) still arrives.
    backend.on("close", () => this.#end());
    client.off("data", this.#onData);
    this.#write(okPayload);
    const pending = this.#reader.takeRemainder();
    if (pending.length > 0) backend.write(pending);
    client.pipe(backend);
    backend.pipe(client);
    client.resume();
    this.#report({ accepted: true, user: this.#response?.user ?? "" });
    if (backend.destroyed) this.#end();
  }

  #reject(reason: LoginRejectionReason): void {
    const user = this.#response?.user ?? "";
    this.#report({ accepted: false, reason, user });
    this.#refuse(mysqlRejectionError(reason, { user, remoteAddress: this.#remoteAddress }));
  }

  #refuse(fields: MysqlErrorFields): void {
    this.#end(buildPacket(this.#sequenceId, buildErrorPacket(fields)));
  }

  /** Ends the client side after writing `bytes`, destroying everything if it lingers. */
  #end(bytes?: Buffer): void {
    if (this.#phase === "closed" || this.#phase === "closing") return;
    this.#phase = "closing";
    this.#abort.abort();
    this.#backend?.destroy();
    if (bytes === undefined) this.#client.end();
    else this.#client.end(bytes);
    const timer = setTimeout(() => this.destroy(), this.#settings.limits.lingerInMs);
    timer.unref();
  }

  #report(event: { accepted: boolean; reason?: LoginRejectionReason; user: string }): void {
    try {
      this.#settings.options.onLogin?.(event);
    } catch {
      // A failing observer must not break the login.
    }
  }
}

function normalizeAddress(address: string | undefined): string {
  if (address === undefined) return "unknown";
  return address.startsWith("::ffff:") ? address.slice("::ffff:".length) : address;
}
