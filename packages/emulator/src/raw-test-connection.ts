import { connect, type Socket } from "node:net";

/** A raw socket that records everything received, for byte-level tests. */
export interface RawConnection {
  readonly socket: Socket;
  /** Resolves with everything received so far once at least `count` bytes arrived. */
  received(count: number): Promise<Buffer>;
  /** Resolves once the gateway closed the connection, with everything received. */
  readonly closed: Promise<Buffer>;
}

/** Opens a raw TCP (or, given `existing`, an already upgraded) connection to the gateway. */
export function openRaw(port: number, existing?: Socket): Promise<RawConnection> {
  return new Promise((resolve, reject) => {
    const socket = existing ?? connect({ host: "127.0.0.1", port });
    let data = Buffer.alloc(0);
    const waiters: Array<() => void> = [];
    socket.on("data", (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      for (const waiter of waiters.splice(0)) waiter();
    });
    socket.on("error", () => {});
    const closed = new Promise<Buffer>((done) => socket.on("close", () => done(data)));
    const received = (count: number) =>
      new Promise<Buffer>((done, fail) => {
        const check = () => {
          if (data.length >= count) return done(data);
          if (socket.destroyed) return fail(new Error(`closed after ${data.length} bytes`));
          waiters.push(check);
        };
        socket.once("close", check);
        check();
      });
    const ready = () => resolve({ socket, received, closed });
    if (existing) ready();
    else {
      socket.once("connect", ready);
      socket.once("error", reject);
    }
  });
}
