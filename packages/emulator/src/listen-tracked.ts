import { createServer, type Server, type Socket } from "node:net";

/** Options of {@link listenTracked}. */
export interface ListenTrackedOptions {
  /** Interface to listen on, e.g. `127.0.0.1`. */
  host: string;
  /** Port to listen on; `0` picks a free port (read it back from {@link TrackedServer.port}). */
  port: number;
  /** Accept sockets paused (see `net.createServer`). Defaults to `false`. */
  pauseOnConnect?: boolean;
}

/**
 * A listening server started by {@link listenTracked}.
 *
 * @inline
 */
export interface TrackedServer {
  /** The host it listens on, as given in the options. */
  readonly host: string;
  /** The port it listens on (the real one when `0` was asked). */
  readonly port: number;
  /** Stops listening and destroys every live connection. Idempotent. */
  close(): Promise<void>;
}

/**
 * Starts a TCP server (`noDelay`) that wraps each accepted socket in a connection object from
 * `onSocket` and tracks it until the connection calls `forget` (when it closes). Server errors
 * after listening are ignored; a listen error rejects. Returns a frozen handle with the bound port.
 *
 * @example
 * const server = await listenTracked({ host: "127.0.0.1", port: 0 }, (socket, forget) => new Connection(socket, forget));
 * await server.close();
 */
export async function listenTracked<C extends { destroy(): void }>(
  options: ListenTrackedOptions,
  onSocket: (socket: Socket, forget: () => void) => C,
): Promise<TrackedServer> {
  const connections = new Set<C>();
  const server = createServer(
    { noDelay: true, pauseOnConnect: options.pauseOnConnect ?? false },
    (socket) => {
      const connection = onSocket(socket, () => connections.delete(connection));
      connections.add(connection);
    },
  );
  server.on("error", () => {});
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : options.port;
  let closing: Promise<void> | undefined;
  return Object.freeze({
    host: options.host,
    port,
    close(): Promise<void> {
      closing ??= closeServer(server, connections);
      return closing;
    },
  });
}

function closeServer(server: Server, connections: Set<{ destroy(): void }>): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    for (const connection of connections) connection.destroy();
    connections.clear();
  });
}
