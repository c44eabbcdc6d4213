import { connect, createServer, type Socket } from "node:net";

/**
 * Relays the benchmarks put between a client and a server: the TCP listener they share (benchmark
 * 6's plain TLS relay, benchmark 7's delaying relay and bare hop).
 */

/** Where a relay forwards to. */
export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

/** A listening relay. */
export interface Relay {
  /** Its port on `localhost`. */
  readonly port: number;
  /** Clients accepted so far. */
  connections(): number;
  /** Stops listening and destroys every relayed socket. */
  close(): Promise<void>;
}

/**
 * A TCP server on `localhost` (where the proxy, whose upstream must be a name the emulator
 * certificate carries, and the TLS clients reach it) that opens a connection to `upstream` for
 * every client (`noDelay` on both) and hands both sockets to `relay`.
 */
export async function listenRelay(
  upstream: Endpoint,
  relay: (client: Socket, server: Socket) => void,
): Promise<Relay> {
  const sockets = new Set<Socket>();
  let connections = 0;
  const server = createServer({ noDelay: true }, (client) => {
    connections += 1;
    const upstreamSocket = connect({ host: upstream.host, port: upstream.port, noDelay: true });
    const pair = [client, upstreamSocket];
    const destroy = () => {
      for (const socket of pair) {
        socket.destroy();
        sockets.delete(socket);
      }
    };
    for (const socket of pair) {
      sockets.add(socket);
      socket.on("error", destroy);
      socket.on("close", destroy);
    }
    relay(client, upstreamSocket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "localhost", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  return {
    port: typeof address === "object" && address ? address.port : 0,
    connections: () => connections,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
