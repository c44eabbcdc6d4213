import type { Socket } from "node:net";
import { acceptTls } from "./accept-tls.js";
import { listenTracked, type TrackedServer } from "./listen-tracked.js";
import { remoteAddressOf } from "./remote-address.js";
import { type ServerSettings, serverSettings } from "./server-settings.js";
import {
  DEFAULT_SESSION_LIMITS,
  type LoginEvent,
  SessionLifetime,
  type SessionLimits,
} from "./session-lifetime.js";

/**
 * Where a {@link GatewaySession} is: reading the client's first messages (`startup`, which for
 * MySQL starts by greeting), waiting for the token, authorizing it and logging in to the backend,
 * piping bytes, ending after a last message, or gone.
 */
export type GatewayPhase = "startup" | "token" | "authorizing" | "piping" | "closing" | "closed";

/** One login as a gateway's `authorize` sees it. */
export interface GatewayLoginRequest {
  /** The password the client sent (an access token for the emulator; a local password for a proxy). */
  readonly token: string;
  /** The user name the client asked for. */
  readonly user: string;
  /** The database the client asked for. */
  readonly database: string;
  /** The client's address (see {@link remoteAddressOf}). */
  readonly remoteAddress: string;
}

/** What a gateway's `authorize` decides for one login: the backend user to log in as, or why not. */
export type GatewayLoginDecision<Reason extends string> =
  | {
      /** The login is accepted. */
      readonly ok: true;
      /** The user the session logs in to the backend as. */
      readonly backendUser: string;
    }
  | {
      /** The login is refused. */
      readonly ok: false;
      /** Why: the protocol sends its engine's error for it ({@link GatewayProtocol.refusal}). */
      readonly reason: Reason;
    };

/** Outcome of {@link GatewayProtocol.openBackendSession}. */
export type GatewayBackendLogin =
  | {
      /** The backend login succeeded. */
      readonly ok: true;
      /** The logged-in backend socket, paused, with an error listener attached. */
      readonly socket: Socket;
      /** What the client gets before piping starts (the login's success, e.g. AuthenticationOk). */
      readonly reply: Buffer;
    }
  | {
      /** The backend login failed. */
      readonly ok: false;
      /** The message that refuses the client: the backend's own error, or one describing the failure. */
      readonly refusal: Buffer;
    };

/**
 * The wire-protocol side of a {@link GatewaySession}: how a PostgreSQL or MySQL gateway reads the
 * client's login, refuses it and logs in to its backend. The session drives it.
 */
export interface GatewayProtocol<Reason extends string = string> {
  /** The user the client asked for, `""` until the protocol has read it; every login report names it. */
  readonly user: string;
  /** Buffers what the client sends (decrypted after TLS); the rest is forwarded once piping starts. */
  readonly reader: {
    /** Appends bytes received from the client. */
    push(chunk: Buffer): void;
    /** Returns and forgets the bytes not read yet, to forward to the backend. */
    takeRemainder(): Buffer;
  };
  /**
   * Handles the next complete client message of the `startup` or `token` phase. Returns false when
   * more bytes are needed or reading must stop (e.g. the rest is a TLS handshake). Throws on
   * malformed input, which destroys the session.
   */
  readNext(): boolean;
  /** The engine's error message for a refused login, ready to write. */
  refusal(reason: Reason): Buffer;
  /** Logs in to the backend as `backendUser`. Never rejects; aborting `signal` makes it fail. */
  openBackendSession(backendUser: string, signal: AbortSignal): Promise<GatewayBackendLogin>;
}

/** What a gateway's options tell a {@link GatewaySession}; `authorize` and `onLogin` are called on them. */
export interface GatewaySessionOptions<Reason extends string = string> {
  /** Decides a login; a throw or rejection refuses it for the reason given to {@link listenGateway}. */
  authorize(
    request: GatewayLoginRequest,
  ): GatewayLoginDecision<Reason> | Promise<GatewayLoginDecision<Reason>>;
  /** Hears about every login attempt; throws are ignored. */
  onLogin?(event: LoginEvent<Reason>): void;
}

/** What a {@link GatewaySession} needs from its gateway. */
export type GatewaySessionSettings<Reason extends string = string> = ServerSettings<
  GatewaySessionOptions<Reason>,
  SessionLimits
>;

/** What every gateway's options hold besides its backend. */
export interface GatewayOptions<Reason extends string = string> extends GatewaySessionOptions<Reason> {
  /** Interface to listen on, e.g. `127.0.0.1`. */
  readonly host: string;
  /** Port to listen on; `0` picks a free port. */
  readonly port: number;
  /** PEM private key and certificate chain presented to clients that ask for TLS; none offers no TLS. */
  readonly tls?:
    | {
        /** PEM private key. */
        readonly key: string;
        /** PEM certificate chain. */
        readonly cert: string;
      }
    | undefined;
}

/** How {@link listenGateway} listens and what it does when `authorize` fails. */
export interface GatewayListenOptions<Reason extends string> {
  /** Holds a client's bytes until the protocol calls {@link GatewaySession.listen}. Defaults to `false`. */
  readonly pauseOnConnect?: boolean;
  /** The reason a login is refused for when `authorize` throws or rejects. */
  readonly failedAuthorization: Reason;
  /** A Unix socket path to listen on instead of `host` and `port`. */
  readonly path?: string;
}

/**
 * Starts a gateway: listens where `options` say and runs one {@link GatewaySession} per client,
 * whose protocol side `protocol` makes. Limits left out come from {@link DEFAULT_SESSION_LIMITS}.
 *
 * @example
 * const gateway = await listenGateway(options, {}, (session, settings) => new PgClientLogin(session, settings),
 *   { failedAuthorization: "invalid" });
 */
export function listenGateway<Reason extends string, Options extends GatewayOptions<Reason>>(
  options: Options,
  limits: Partial<SessionLimits>,
  protocol: (
    session: GatewaySession<Reason>,
    settings: ServerSettings<Options, SessionLimits>,
  ) => GatewayProtocol<Reason>,
  listen: GatewayListenOptions<Reason>,
): Promise<TrackedServer> {
  const settings = serverSettings(options, DEFAULT_SESSION_LIMITS, limits);
  return listenTracked(
    { host: options.host, port: options.port, path: listen.path, pauseOnConnect: listen.pauseOnConnect },
    (socket, forget) =>
      new GatewaySession<Reason>(
        socket,
        settings,
        forget,
        (session) => protocol(session, settings),
        listen.failedAuthorization,
      ),
  );
}

/** How {@link GatewaySession.upgradeToTls} takes the connection over to TLS. */
export interface GatewayTlsUpgrade {
  /** ALPN protocols to accept, e.g. `["postgresql"]`. */
  readonly ALPNProtocols?: string[];
  /** Bytes already read that begin the TLS handshake. */
  readonly pending?: Buffer;
}

/**
 * One client connection of a token-validating gateway, from accept to close, whatever the wire
 * protocol: the startup timeout, TLS upgrade, `authorize` (a throw refuses the login), the
 * backend login, refusals, piping (no Nagle delay on either socket), ending with a linger timeout,
 * `onLogin` reports and an idempotent teardown. The {@link GatewayProtocol} made by `protocol`
 * reads the client's messages and speaks to the backend. Never throws out of its event handlers.
 *
 * @example
 * listenTracked(options, (socket, forget) =>
 *   new GatewaySession(socket, settings, forget, (session) => new PgClientLogin(session, settings)));
 */
export class GatewaySession<Reason extends string = string> {
  readonly #raw: Socket;
  readonly #settings: GatewaySessionSettings<Reason>;
  readonly #lifetime: SessionLifetime<Reason>;
  readonly #failedAuthorization: Reason;
  readonly #abort = new AbortController();
  readonly #remoteAddress: string;
  readonly #protocol: GatewayProtocol<Reason>;
  #client: Socket;
  #phase: "startup" | "token" | "authorizing" | "piping" = "startup";
  #tls = false;
  /** A backend resource opened before the login (MySQL's greeting session); dropped when the login ends. */
  #held: { destroy(): void } | undefined;
  /** The piped backend socket, or the one a relayed request travels on. */
  #backend: Socket | undefined;
  readonly #onData = (chunk: Buffer) => this.#receive(chunk);

  /**
   * Starts the startup timeout; `forget` tells the server the session is gone; a throwing
   * `authorize` refuses the login for `failedAuthorization`.
   */
  constructor(
    raw: Socket,
    settings: GatewaySessionSettings<Reason>,
    forget: () => void,
    protocol: (session: GatewaySession<Reason>) => GatewayProtocol<Reason>,
    failedAuthorization: Reason,
  ) {
    this.#failedAuthorization = failedAuthorization;
    this.#raw = raw;
    this.#client = raw;
    this.#settings = settings;
    this.#remoteAddress = remoteAddressOf(raw);
    this.#lifetime = new SessionLifetime(settings.limits, {
      observer: settings.options,
      teardown: () => this.#teardown(),
      forget,
    });
    raw.on("error", () => this.destroy());
    raw.on("close", () => this.destroy());
    this.#protocol = protocol(this);
  }

  /** Where the session is. */
  get phase(): GatewayPhase {
    if (this.#lifetime.closed) return "closed";
    return this.#lifetime.closing ? "closing" : this.#phase;
  }

  /** The socket to write to: the accepted one, or its TLS socket after {@link upgradeToTls}. */
  get client(): Socket {
    return this.#client;
  }

  /** True once the client asked for TLS. */
  get tls(): boolean {
    return this.#tls;
  }

  /** The client's address (see {@link remoteAddressOf}). */
  get remoteAddress(): string {
    return this.#remoteAddress;
  }

  /** Aborted when the session ends: cancels backend work in flight. */
  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  /** Starts handing client bytes to the protocol. */
  listen(): void {
    this.#raw.on("data", this.#onData);
    this.#raw.resume();
  }

  /** Keeps a backend resource opened before the login; it is destroyed if the login ends before piping. */
  hold(backend: { destroy(): void }): void {
    this.#held = backend;
  }

  /** Answers the client's request for TLS: from now on the protocol reads decrypted bytes. */
  upgradeToTls(upgrade: GatewayTlsUpgrade = {}): void {
    this.#client = acceptTls(this.#raw, {
      secureContext: this.#settings.secureContext,
      ALPNProtocols: upgrade.ALPNProtocols,
      pending: upgrade.pending,
      onData: this.#onData,
      onClose: () => this.destroy(),
    });
    this.#tls = true;
  }

  /** The client was asked for its token; its next message carries it. */
  awaitToken(): void {
    this.#phase = "token";
  }

  /**
   * Stops reading and lets `authorize` decide on `token` (a throw refuses the login); then logs in
   * to the backend as the decided user and pipes, or refuses the client.
   */
  authorize(token: string, login: { readonly user: string; readonly database: string }): void {
    this.#phase = "authorizing";
    this.#client.pause();
    this.#authorizeAndConnect(token, login).catch(() => this.destroy());
  }

  /** Refuses the login for `reason` with the engine's error and reports it. */
  reject(reason: Reason): void {
    this.#lifetime.report({ accepted: false, reason, user: this.#protocol.user });
    this.end(this.#protocol.refusal(reason));
  }

  /** Refuses the login with `message` and reports it without a reason (counted as a backend failure). */
  refuse(message: Buffer): void {
    this.#lifetime.report({ accepted: false, user: this.#protocol.user });
    this.end(message);
  }

  /** Ends the client side after writing `message`, destroying everything if the client lingers. */
  end(message?: Buffer): void {
    this.#lifetime.end(() => {
      this.#abort.abort();
      this.#held?.destroy();
      if (message === undefined) this.#client.end();
      else this.#client.end(message);
    });
  }

  /**
   * Stops reading the client and keeps the session until `backend` closes: a request relayed on a
   * backend connection of its own (PostgreSQL's CancelRequest).
   */
  closeAfter(backend: Socket): void {
    this.#lifetime.end(
      () => {
        this.#backend = backend;
        backend.on("error", () => this.destroy());
        backend.on("close", () => this.destroy());
      },
      { linger: false },
    );
  }

  /** Destroys the client and backend sockets. Idempotent. */
  destroy(): void {
    this.#lifetime.destroy();
  }

  #teardown(): void {
    this.#abort.abort();
    this.#client.destroy();
    this.#raw.destroy();
    this.#held?.destroy();
    this.#backend?.destroy();
  }

  #receive(chunk: Buffer): void {
    try {
      this.#protocol.reader.push(chunk);
      while (this.#reading()) {
        if (!this.#protocol.readNext()) return;
      }
    } catch {
      // Malformed input or a write on a dead socket: drop this connection only.
      this.destroy();
    }
  }

  #reading(): boolean {
    const phase = this.phase;
    return phase === "startup" || phase === "token";
  }

  async #authorizeAndConnect(
    token: string,
    login: { readonly user: string; readonly database: string },
  ): Promise<void> {
    let decision: GatewayLoginDecision<Reason>;
    try {
      decision = await this.#settings.options.authorize({
        token,
        user: login.user,
        database: login.database,
        remoteAddress: this.#remoteAddress,
      });
    } catch {
      decision = { ok: false, reason: this.#failedAuthorization };
    }
    if (this.phase !== "authorizing") return;
    if (!decision.ok) {
      this.reject(decision.reason);
      return;
    }
    const backend = await this.#protocol.openBackendSession(decision.backendUser, this.#abort.signal);
    if (this.phase !== "authorizing") {
      if (backend.ok) backend.socket.destroy();
      return;
    }
    if (!backend.ok) {
      this.refuse(backend.refusal);
      return;
    }
    this.#startPiping(backend.socket, backend.reply);
  }

  #startPiping(backend: Socket, reply: Buffer): void {
    const client = this.#client;
    this.#backend = backend;
    this.#held = undefined;
    this.#phase = "piping";
    this.#lifetime.loggedIn();
    client.setNoDelay(true);
    backend.setNoDelay(true);
    const idle = this.#settings.limits.idleTimeoutInMs;
    // A client that sends nothing for this long is gone (a forgotten shell, a dead laptop).
    if (idle > 0) client.setTimeout(idle, () => this.destroy());
    backend.on("error", () => this.destroy());
    // A closed backend ends the client gracefully so its last error (e.g. after KILL) still arrives.
    backend.on("close", () => this.end());
    client.off("data", this.#onData);
    client.write(reply);
    const pending = this.#protocol.reader.takeRemainder();
    if (pending.length > 0) backend.write(pending);
    client.pipe(backend);
    backend.pipe(client);
    client.resume();
    this.#lifetime.report({ accepted: true, user: this.#protocol.user });
    if (backend.destroyed) this.end();
  }
}
