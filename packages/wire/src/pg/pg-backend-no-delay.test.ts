import { createServer, type Server, Socket } from "node:net";
import { afterEach, describe, expect, test, vi } from "vitest";
import { loginToBackend } from "./pg-backend-login.js";
import {
  buildAuthenticationRequest,
  buildMessage,
  PgFrameReader,
  parsePasswordMessage,
} from "./pg-messages.js";

/** A PostgreSQL backend that asks for a cleartext password (two round trips), then starts the session. */
async function startCleartextBackend(): Promise<{ server: Server; port: number }> {
  const server = createServer((socket) => {
    const reader = new PgFrameReader();
    let started = false;
    socket.on("error", () => {});
    socket.on("data", (chunk: Buffer) => {
      reader.push(chunk);
      if (!started) {
        if (!reader.readStartupPacket()) return;
        started = true;
        socket.write(buildAuthenticationRequest(3));
      }
      const message = reader.readMessage(10_000);
      if (!message) return;
      if (message.type !== "p" || parsePasswordMessage(message.payload) !== "secret") {
        socket.destroy();
        return;
      }
      socket.write(Buffer.concat([buildAuthenticationRequest(0), buildMessage("Z", Buffer.from("I"))]));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  return { server, port: typeof address === "object" && address ? address.port : 0 };
}

describe("the backend login socket", () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => {
    for (const cleanup of cleanups.splice(0)) cleanup();
    vi.restoreAllMocks();
  });

  test("has Nagle's algorithm off before the login writes its first byte", async () => {
    const { server, port } = await startCleartextBackend();
    cleanups.push(() => server.close());
    // Per socket, in order: what the login did to it.
    const events = new Map<Socket, string[]>();
    const record = (socket: Socket, event: string) =>
      events.set(socket, [...(events.get(socket) ?? []), event]);
    const setNoDelay = Socket.prototype.setNoDelay;
    const write = Socket.prototype.write;
    vi.spyOn(Socket.prototype, "setNoDelay").mockImplementation(function (this: Socket, enable?: boolean) {
      record(this, `setNoDelay(${enable})`);
      return setNoDelay.call(this, enable);
    });
    vi.spyOn(Socket.prototype, "write").mockImplementation(function (this: Socket, ...args: unknown[]) {
      record(this, "write");
      return (write as (...a: unknown[]) => boolean).apply(this, args);
    });

    const login = await loginToBackend({
      host: "127.0.0.1",
      port,
      password: "secret",
      user: "app",
      database: "app",
      parameters: [],
      signal: new AbortController().signal,
    });
    vi.restoreAllMocks();

    expect(login.ok).toBe(true);
    if (!login.ok) return;
    cleanups.push(() => login.socket.destroy());
    const seen = events.get(login.socket) ?? [];
    // Startup message and password message: both sent with Nagle already off.
    expect(seen.filter((event) => event === "write")).toHaveLength(2);
    expect(seen[0]).toBe("setNoDelay(true)");
  });
});
