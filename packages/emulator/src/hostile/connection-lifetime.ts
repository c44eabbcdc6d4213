import type { Socket } from "node:net";
import type { HostileConnectionContext } from "./hostile-connection-context.js";

/** How long a refused client may take to close before its socket is destroyed. */
const LINGER_IN_MS = 1_000;

/**
 * The lifetime every hostile connection shares: records what arrives, answers silence after the
 * idle timeout, destroys a refused client that lingers, and tears down exactly once.
 */
export class ConnectionLifetime {
  readonly #context: HostileConnectionContext;
  readonly #forget: () => void;
  readonly #onIdle: () => void;
  readonly #teardown: () => void;
  #idle: NodeJS.Timeout | undefined;
  #linger: NodeJS.Timeout | undefined;
  #ending = false;
  #closed = false;

  /** `onIdle` answers a quiet client; `teardown` destroys the connection's sockets. */
  constructor(
    context: HostileConnectionContext,
    forget: () => void,
    onIdle: () => void,
    teardown: () => void,
  ) {
    this.#context = context;
    this.#forget = forget;
    this.#onIdle = onIdle;
    this.#teardown = teardown;
    this.#armIdle();
  }

  /** True once the connection is refused or gone: nothing more is answered. */
  get finished(): boolean {
    return this.#ending || this.#closed;
  }

  /** Records a chunk from the client and restarts the idle timeout. */
  received(chunk: Buffer): void {
    if (this.#closed) return;
    this.#context.capture(chunk);
    if (!this.#ending) this.#armIdle();
  }

  /** The failure was sent and the socket ended: destroy it if the client does not close soon. */
  refused(): void {
    this.#ending = true;
    clearTimeout(this.#idle);
    this.#linger = setTimeout(() => this.destroy(), LINGER_IN_MS);
    this.#linger.unref();
  }

  /** Destroys the connection. Idempotent. */
  destroy(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#idle);
    clearTimeout(this.#linger);
    this.#teardown();
    this.#forget();
  }

  #armIdle(): void {
    clearTimeout(this.#idle);
    this.#idle = setTimeout(() => {
      if (this.#ending) this.destroy();
      else this.#onIdle();
    }, this.#context.idleTimeoutInMs);
    this.#idle.unref();
  }
}

/** What {@link watchSocket} wires a raw client socket to. */
export interface WatchedSocket {
  /** Answers a client that went quiet (the engine's authentication failure). */
  readonly onIdle: () => void;
  /** The socket currently written to: the raw one, or the TLS socket on top of it. */
  readonly client: () => Socket;
  /** Receives the raw socket's plaintext chunks until TLS takes over. */
  readonly onData: (chunk: Buffer) => void;
}

/**
 * Starts the lifetime of a hostile connection on a raw client socket (PostgreSQL and MySQL): its
 * errors and close destroy the connection, its data goes to `onData`, and tearing down destroys
 * both the client socket and the raw one.
 */
export function watchSocket(
  raw: Socket,
  context: HostileConnectionContext,
  forget: () => void,
  watched: WatchedSocket,
): ConnectionLifetime {
  const lifetime = new ConnectionLifetime(context, forget, watched.onIdle, () => {
    watched.client().destroy();
    raw.destroy();
  });
  raw.on("error", () => lifetime.destroy());
  raw.on("close", () => lifetime.destroy());
  raw.on("data", watched.onData);
  return lifetime;
}
