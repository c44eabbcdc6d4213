import { connect, type Socket } from "node:net";
import { createSecureContext, type SecureContext } from "node:tls";
import { acceptTls } from "../accept-tls.js";
import { listenTracked } from "../listen-tracked.js";
import { loginToBackend } from "./pg-backend-login.js";
import {
  buildAuthenticationCleartextPassword,
  buildAuthenticationOk,
  buildErrorResponse,
  buildNegotiateProtocolVersion,
  PG_MAX_AUTH_TOKEN_LENGTH,
  type PgErrorFields,
  PgFrameReader,
  parsePasswordMessage,
  parseStartupPacket,
} from "./pg-messages.js";

/** Why the gateway refused a login; each maps to the message Azure Database for PostgreSQL sends. */
export type RejectionReason = "expired" | "audience" | "invalid" | "principal" | "tls-required";

/** What {@link PgGatewayOptions.authorize} decides for one login. */
export type AuthDecision = { ok: true; backendUser: string } | { ok: false; reason: RejectionReason };

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
   * MD5 or SCRAM-SHA-256 request (defaults to none: trust). `database` replaces the client's
   * database, for single-database backends such as PGlite (defaults to the client's database).
   */
  backend: { host: string; port: number; password?: string; database?: string };
  /**
   * Decides a login from the password the client sent (the access token). A throw or rejection
   * counts as `invalid`.
   */
  authorize(request: {
    token: string;
    user: string;
    database: string;
    remoteAddress: string;
  }): AuthDecision | Promise<AuthDecision>;
  /**
   * Called once per login attempt: `accepted: true` once the backend session is open; `accepted: false`
   * with a `reason` when refused, or without one when the backend refused or failed. Throws are ignored.
   * Defaults to no callback.
   */
  onLogin?(event: { accepted: boolean; reason?: RejectionReason; user: string }): void;
}

/** Tunables of {@link startPgGateway} that tests shorten. */
export interface PgGatewayLimits {
  /** A connection that has not finished logging in after this long is closed. Defaults to 30 000. */
  readonly startupTimeoutInMs: number;
  /** How long a refused client may take to close before its socket is destroyed. Defaults to 2 000. */
  readonly lingerInMs: number;
}

/** Default {@link PgGatewayLimits}. */
export const DEFAULT_PG_GATEWAY_LIMITS: PgGatewayLimits = Object.freeze({
  startupTimeoutInMs: 30_000,
  lingerInMs: 2_000,
});

/** A running gateway; `close()` (or `await using`) stops it. */
export interface PgGateway {
  /** The host it listens on, as given in the options. */
  readonly host: string;
  /** The port it listens on (the real one when `0` was asked). */
  readonly port: number;
  /** Stops listening and destroys every client and backend socket. Idempotent. */
  close(): Promise<void>;
}

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
  const settings: GatewaySettings = {
    options,
    limits: { ...DEFAULT_PG_GATEWAY_LIMITS, ...limits },
    secureContext: createSecureContext({ key: options.tls.key, cert: options.tls.cert }),
  };
  return listenTracked(options, (socket, forget) => new ClientConnection(socket, settings, forget));
}

interface GatewaySettings {
  readonly options: PgGatewayOptions;
  readonly limits: PgGatewayLimits;
  readonly secureContext: SecureContext;
}

type Phase = "startup" | "password" | "authorizing" | "piping" | "closing" | "closed";

/** One client connection from accept to close; never throws out of its event handlers. */
class ClientConnection {
  readonly #raw: Socket;
  readonly #settings: GatewaySettings;
  readonly #onClosed: () => void;
  readonly #reader = new PgFrameReader();
  readonly #abort = new AbortController();
  readonly #remoteAddress: string;
  #client: Socket;
  #backend: Socket | undefined;
  #phase: Phase = "startup";
  #tls = false;
  #user = "";
  #database = "";
  #parameters: Array<readonly [string, string]> = [];
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
    raw.on("data", this.#onData);
    this.#timer = setTimeout(() => this.destroy(), settings.limits.startupTimeoutInMs);
    this.#timer.unref();
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
    this.#onClosed();
  }

  #receive(chunk: Buffer): void {
    try {
      this.#reader.push(chunk);
      while (this.#phase === "startup" || this.#phase === "password") {
        const progressed =
          this.#phase === "startup" ? this.#readStartupPacket() : this.#readPasswordMessage();
        if (!progressed) return;
      }
    } catch {
      // Malformed input (PgProtocolError) or a write on a dead socket: drop this connection only.
      this.destroy();
    }
  }

  #readStartupPacket(): boolean {
    const bytes = this.#reader.readStartupPacket();
    if (bytes === undefined) return false;
    const packet = parseStartupPacket(bytes);
    switch (packet.kind) {
      case "ssl-request":
        // Bytes after SSLRequest but before the handshake would be unencrypted injected data.
        if (this.#tls || this.#reader.bufferedLength > 0) {
          this.destroy();
          return false;
        }
        this.#raw.write("S");
        this.#upgradeToTls();
        return false;
      case "gssenc-request":
        if (this.#tls) {
          this.destroy();
          return false;
        }
        this.#client.write("N");
        return true;
      case "cancel-request":
        this.#forwardCancel(packet.bytes);
        return false;
      case "startup":
        this.#startLogin(packet.majorVersion, packet.minorVersion, packet.parameters);
        return true;
    }
  }

  #upgradeToTls(): void {
    this.#client = acceptTls(this.#raw, {
      secureContext: this.#settings.secureContext,
      ALPNProtocols: ["postgresql"],
      onData: this.#onData,
      onClose: () => this.destroy(),
    });
    this.#tls = true;
  }

  #forwardCancel(bytes: Buffer): void {
    this.#phase = "closing";
    const { host, port } = this.#settings.options.backend;
    const backend = connect({ host, port });
    this.#backend = backend;
    backend.on("error", () => this.destroy());
    backend.on("close", () => this.destroy());
    backend.on("connect", () => backend.end(Buffer.from(bytes)));
  }

  #startLogin(major: number, minor: number, parameters: ReadonlyArray<readonly [string, string]>): void {
    if (major !== 3) {
      this.#refuse({
        severity: "FATAL",
        code: "0A000",
        message: `unsupported frontend protocol ${major}.${minor}: server supports 3.0 to 3.0`,
      });
      return;
    }
    const unrecognized = parameters.filter(([key]) => key.startsWith("_pq_.")).map(([key]) => key);
    if (minor > 0 || unrecognized.length > 0) this.#client.write(buildNegotiateProtocolVersion(unrecognized));
    const user = parameters.find(([key]) => key === "user")?.[1] ?? "";
    if (user === "") {
      this.#refuse({
        severity: "FATAL",
        code: "28000",
        message: "no PostgreSQL user name specified in startup packet",
      });
      return;
    }
    this.#user = user;
    this.#database = parameters.find(([key]) => key === "database")?.[1] || user;
    this.#parameters = parameters.filter(
      ([key]) => key !== "user" && key !== "database" && !key.startsWith("_pq_."),
    );
    if (!this.#tls && this.#settings.options.requireTls) {
      this.#reject("tls-required");
      return;
    }
    this.#phase = "password";
    this.#client.write(buildAuthenticationCleartextPassword());
  }

  #readPasswordMessage(): boolean {
    const message = this.#reader.readMessage(PG_MAX_AUTH_TOKEN_LENGTH);
    if (message === undefined) return false;
    if (message.type !== "p") {
      this.destroy();
      return false;
    }
    const token = parsePasswordMessage(message.payload);
    this.#phase = "authorizing";
    this.#client.pause();
    this.#authorizeAndConnect(token).catch(() => this.destroy());
    return false;
  }

  async #authorizeAndConnect(token: string): Promise<void> {
    const { options } = this.#settings;
    let decision: AuthDecision;
    try {
      decision = await options.authorize({
        token,
        user: this.#user,
        database: this.#database,
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
    const login = await loginToBackend({
      host: options.backend.host,
      port: options.backend.port,
      password: options.backend.password,
      user: decision.backendUser,
      database: options.backend.database ?? this.#database,
      parameters: this.#parameters,
      signal: this.#abort.signal,
    });
    if (!login.ok) {
      if (this.#phase !== "authorizing") return;
      this.#report({ accepted: false, user: this.#user });
      this.#end(login.errorResponse);
      return;
    }
    const backend = login.socket;
    if (this.#phase !== "authorizing") {
      backend.destroy();
      return;
    }
    this.#startPiping(backend, login.sessionStartBytes);
  }

  #startPiping(backend: Socket, sessionStartBytes: Buffer): void {
    const client = this.#client;
    this.#backend = backend;
    this.#phase = "piping";
    clearTimeout(this.#timer);
    backend.on("error", () => this.destroy());
    // A closed backend ends the client gracefully so its last ErrorResponse still arrives.
    backend.on("close", () => this.#end());
    client.off("data", this.#onData);
    client.write(Buffer.concat([buildAuthenticationOk(), sessionStartBytes]));
    const pending = this.#reader.takeRemainder();
    if (pending.length > 0) backend.write(pending);
    client.pipe(backend);
    backend.pipe(client);
    this.#report({ accepted: true, user: this.#user });
    if (backend.destroyed) this.#end();
  }

  #reject(reason: RejectionReason): void {
    this.#report({ accepted: false, reason, user: this.#user });
    this.#refuse(
      rejectionError(reason, {
        user: this.#user,
        database: this.#database,
        remoteAddress: this.#remoteAddress,
      }),
    );
  }

  #refuse(fields: PgErrorFields): void {
    this.#end(buildErrorResponse(fields));
  }

  /** Ends the client side after writing `bytes`, destroying everything if it lingers. */
  #end(bytes?: Buffer): void {
    if (this.#phase === "closed" || this.#phase === "closing") return;
    this.#phase = "closing";
    this.#abort.abort();
    if (bytes === undefined) this.#client.end();
    else this.#client.end(bytes);
    const timer = setTimeout(() => this.destroy(), this.#settings.limits.lingerInMs);
    timer.unref();
  }

  #report(event: { accepted: boolean; reason?: RejectionReason; user: string }): void {
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
