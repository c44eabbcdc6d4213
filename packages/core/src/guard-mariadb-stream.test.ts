import { connect, createServer, type Server, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { guardMariadbStream, mariadbConnectorTrustsMariadbServers } from "./guard-mariadb-stream.js";

/** A HandshakeV10 packet as a MySQL 8 or MariaDB server sends it (only the fields the guard reads matter). */
function greeting(serverVersion: string, capabilities: number): Buffer {
  const payload = Buffer.concat([
    Buffer.from([10]),
    Buffer.from(`${serverVersion}\0`, "latin1"),
    Buffer.from([7, 0, 0, 0]), // connection id
    Buffer.alloc(8, 0x61), // scramble part 1
    Buffer.from([0]),
    Buffer.from([capabilities & 0xff, (capabilities >> 8) & 0xff]),
    Buffer.alloc(20),
  ]);
  const header = Buffer.from([payload.length & 0xff, (payload.length >> 8) & 0xff, 0, 0]);
  return Buffer.concat([header, payload]);
}

const MYSQL8 = greeting("8.0.42", 0xf7ff);
const MARIADB = greeting("11.4.5-MariaDB", 0xf7fe);

let server: Server | undefined;
afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

/** A server that sends `bytes` (in two chunks, to exercise reassembly) to every client. */
async function serve(bytes: Buffer): Promise<{ port: number; sockets: Socket[] }> {
  const sockets: Socket[] = [];
  server = createServer((socket) => {
    sockets.push(socket);
    socket.on("error", () => {});
    socket.write(bytes.subarray(0, 5));
    setTimeout(() => socket.write(bytes.subarray(5)), 5);
  });
  await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", () => resolve()));
  const address = server.address();
  if (typeof address !== "object" || !address) throw new Error("no address");
  return { port: address.port, sockets };
}

/** Runs the guard as the mariadb connector does, collecting what the connector's own listener reads. */
function open(
  port: number,
  connectorVersion: string | undefined,
  more: Partial<Parameters<typeof guardMariadbStream>[0]> = {},
) {
  const stream = guardMariadbStream({
    host: "127.0.0.1",
    port,
    connectorVersion,
    timeoutInMs: 2_000,
    ...more,
  });
  return new Promise<{ error: Error | null; read: Promise<Buffer>; stream?: Duplex }>((resolve) => {
    stream((error, opened) => {
      if (error || !opened) {
        resolve({ error, read: Promise.resolve(Buffer.alloc(0)) });
        return;
      }
      let data = Buffer.alloc(0);
      const read = new Promise<Buffer>((done) => {
        opened.on("data", (chunk: Buffer) => {
          data = Buffer.concat([data, chunk]);
          if (data.length >= MYSQL8.length) done(data);
        });
      });
      resolve({ error: null, read, stream: opened });
    });
  });
}

describe("guardMariadbStream", () => {
  it("hands a MySQL 8 server's socket to the connector with the greeting still unread", async () => {
    const { port } = await serve(MYSQL8);
    const result = await open(port, "3.4.5");
    expect(result.error).toBeNull();
    expect((await result.read).equals(MYSQL8)).toBe(true);
    result.stream?.destroy();
  });

  it("refuses a server claiming MariaDB when the connector trusts any MariaDB certificate", async () => {
    const { port } = await serve(MARIADB);
    const result = await open(port, "3.4.5");
    expect(result.error).toMatchObject({
      name: "EntraAuthError",
      code: "INSECURE_TRANSPORT",
      message: expect.stringContaining("11.4.5-MariaDB"),
      hint: expect.stringContaining(">= 3.4.7"),
    });
  });

  it("refuses a server claiming MariaDB through the 5.5.5- prefix or a clear CLIENT_MYSQL bit", async () => {
    for (const bytes of [greeting("5.5.5-10.11.6", 0xf7ff), greeting("8.0.42", 0xf7fe)]) {
      const { port } = await serve(bytes);
      const result = await open(port, undefined);
      expect(result.error).toMatchObject({ code: "INSECURE_TRANSPORT" });
      await new Promise<void>((resolve) => server?.close(() => resolve()));
      server = undefined;
    }
  });

  it("lets a connector that verifies MariaDB servers talk to one", async () => {
    const { port } = await serve(MARIADB);
    const result = await open(port, "3.5.4");
    expect(result.error).toBeNull();
    expect((await result.read).equals(MARIADB)).toBe(true);
    result.stream?.destroy();
  });

  it("checks the greeting on a stream of the caller's own (returned or handed to the callback)", async () => {
    const { port } = await serve(MARIADB);
    const returned = await open(port, "3.4.5", { open: () => connect(port, "127.0.0.1") });
    expect(returned.error).toMatchObject({ code: "INSECURE_TRANSPORT" });
    const handed = await open(port, "3.5.4", {
      open: (callback) => {
        const socket = connect(port, "127.0.0.1", () => callback(null, socket));
        return undefined;
      },
    });
    expect(handed.error).toBeNull();
    expect((await handed.read).equals(MARIADB)).toBe(true);
    handed.stream?.destroy();
    const failing = await open(port, "3.5.4", {
      open: (callback) => {
        callback(new Error("tunnel down"));
        return undefined;
      },
    });
    expect(failing.error?.message).toBe("tunnel down");
  });

  it("hands a stream that is not a greeting to the connector, which reports it itself", async () => {
    const junk = Buffer.concat([Buffer.from([4, 0, 0, 0]), Buffer.from([0xff, 0x15, 0x04, 0x23])]);
    const { port } = await serve(junk);
    const result = await open(port, "3.4.5");
    expect(result.error).toBeNull();
    result.stream?.destroy();
  });

  it("destroys the socket when the connector has given up by the time the greeting arrives", async () => {
    const { port, sockets } = await serve(MYSQL8);
    const closed = new Promise<void>((resolve) => {
      server?.once("connection", (socket: Socket) => socket.once("close", () => resolve()));
    });
    guardMariadbStream({ host: "127.0.0.1", port, connectorVersion: "3.4.5" })(() => {
      throw new TypeError("Cannot read properties of undefined (reading 'setStream')");
    });
    await closed;
    expect(sockets).toHaveLength(1);
  });

  it("reports a server that closes before its greeting, a refused connection and a silent server", async () => {
    server = createServer((socket) => socket.end());
    await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", () => resolve()));
    const closing = await open((server.address() as { port: number }).port, "3.5.4");
    expect(closing.error?.message).toMatch(/closed the connection before its greeting/);
    await new Promise<void>((resolve) => server?.close(() => resolve()));
    const { port } = await serve(Buffer.alloc(0));
    const silent = await open(port, "3.5.4", { timeoutInMs: 200 });
    expect(silent.error?.message).toMatch(/No greeting/);
    await new Promise<void>((resolve) => server?.close(() => resolve()));
    server = undefined;
    const refused = await open(port, "3.5.4");
    expect(refused.error).toMatchObject({ code: "ECONNREFUSED" });
  });
});

describe("mariadbConnectorTrustsMariadbServers", () => {
  it("names the connector versions that answer a MariaDB server's cleartext switch without a verified certificate", () => {
    for (const version of [
      "3.0.0",
      "3.3.2",
      "3.4.0",
      "3.4.5",
      "3.5.0",
      "3.5.2",
      "2.5.6",
      undefined,
      "next",
    ]) {
      expect(mariadbConnectorTrustsMariadbServers(version), String(version)).toBe(true);
    }
    for (const version of ["3.4.7", "3.5.3", "3.5.4", "3.6.0", "4.0.0"]) {
      expect(mariadbConnectorTrustsMariadbServers(version), version).toBe(false);
    }
  });
});
