import { createServer, type Server, type Socket } from "node:net";

/** Options of {@link listenTracked}. */
export interface ListenTrackedOptions {
  /** Interface to listen on, e.g. `127.0.0.1`. */
  readonly host: string;
  /** Port to listen on; `0` picks a free port (read it back from {@link TrackedServer.port}). */
  readonly port: number;
  /** A Unix socket path to listen on instead of `host` and `port`. */
  readonly path?: string;
  /** Accept sockets paused (see `net.createServer`). Defaults to `false`. */
  readonly pauseOnConnect?: boolean;
}

/** How {@link TrackedServer.close} lets connections go. */
export interface TrackedCloseOptions {
  /**
   * Stop accepting, then give live connections this long to finish on their own before they are
   * destroyed. Defaults to 0 (destroy them at once).
   */
  readonly graceInMs?: number;
}

/**
 * A listening server started by {@link listenTracked}.
 *
 * @inline
 */
export interface TrackedServer {
  /** The host it listens on, as given in the options (the socket path when listening on one). */
  readonly host: string;
  /** The port it listens on (the real one when `0` was asked; `0` on a Unix socket). */
  readonly port: number;
  /** The live connections: accepted and not yet closed. */
  readonly connectionCount: number;
  /** Stops listening and destroys every live connection, after a grace period if asked. Idempotent. */
  close(options?: TrackedCloseOptions): Promise<void>;
}

/**
 * Starts a TCP (or Unix socket) server (`noDelay`) that wraps each accepted socket in a connection
 * object from `onSocket` and tracks it until the connection calls `forget` (when it closes). Server
 * errors after listening are ignored; a listen error rejects. Returns a frozen handle with the bound port.
 *
 * @example
 * const server = await listenTracked({ host: "127.0.0.1", port: 0 }, (socket, forget) => new Connection(socket, forget));
 * await server.close();
 */
export async function listenTracked<
  C extends {
    /** Closes the connection at once; called by {@link TrackedServer.close}. */
    destroy(): void;
  },
>(
  options: ListenTrackedOptions,
  onSocket: (socket: Socket, forget: () => void) => C,
): Promise<TrackedServer> {
  const connections = new Set<C>();
  let drained: (() => void) | undefined;
  const server = createServer(
    { noDelay: true, pauseOnConnect: options.pauseOnConnect ?? false },
    (socket) => {
      const connection = onSocket(socket, () => {
        connections.delete(connection);
        if (connections.size === 0) drained?.();
      });
      connections.add(connection);
    },
  );
  server.on("error", () => {});
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    const listening = () => {
      server.off("error", reject);
      resolve();
    };
    if (options.path !== undefined) server.listen(options.path, listening);
    else server.listen(options.port, options.host, listening);
  });
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  let closing: Promise<void> | undefined;
  return Object.freeze({
    host: options.path ?? options.host,
    port,
    get connectionCount() {
      return connections.size;
    },
    close(closeOptions: TrackedCloseOptions = {}): Promise<void> {
      closing ??= closeServer(server, connections, closeOptions.graceInMs ?? 0, (onDrained) => {
        drained = onDrained;
      });
      return closing;
    },
  });
}

async function closeServer(
  server: Server,
  connections: Set<{ destroy(): void }>,
  graceInMs: number,
  onDrained: (callback: () => void) => void,
): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  if (graceInMs > 0 && connections.size > 0) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, graceInMs);
      onDrained(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
  for (const connection of connections) connection.destroy();
  connections.clear();
  await closed;
}
