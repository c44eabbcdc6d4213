import type { AddressInfo, Server, Socket } from "node:net";

/**
 * What one of the emulator's HTTP(S) servers (identity endpoint, Entra authority, discovery proxy)
 * must end when it closes: its open sockets, including ones it did not accept itself (a tunnel's),
 * and answers it delays (the "slow" fault). `close()` is idempotent.
 */
export class ServerLifecycle {
  readonly #sockets = new Set<Socket>();
  readonly #timers = new Set<NodeJS.Timeout>();
  #server: Server | undefined;
  #closing: Promise<void> | undefined;

  /** Keeps `socket` to destroy on close, until it closes by itself. */
  track(socket: Socket): void {
    this.#sockets.add(socket);
    socket.once("close", () => this.#sockets.delete(socket));
  }

  /** Runs `answer` after `delayInMs`, unless the server closes first. */
  later(delayInMs: number, answer: () => void): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      answer();
    }, delayInMs);
    this.#timers.add(timer);
  }

  /** Tracks every connection of `server` and listens; resolves with the port, rejects on a listen error. */
  async listen(server: Server, port: number | undefined, host: string | undefined): Promise<number> {
    this.#server = server;
    server.on("connection", (socket: Socket) => this.track(socket));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port ?? 0, host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    return (server.address() as AddressInfo).port;
  }

  /** Stops listening, cancels delayed answers and destroys open sockets. */
  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      for (const timer of this.#timers) clearTimeout(timer);
      this.#timers.clear();
      if (this.#server) this.#server.close(() => resolve());
      else resolve();
      for (const socket of this.#sockets) socket.destroy();
      this.#sockets.clear();
    });
    return this.#closing;
  }
}
