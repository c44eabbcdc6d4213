import { createHash, createHmac, pbkdf2Sync } from "node:crypto";
import { createServer, type Server, type Socket } from "node:net";
import {
  buildAuthenticationRequest,
  buildErrorResponse,
  buildMessage,
  computeMd5Password,
  PgFrameReader,
  parsePasswordMessage,
  parseStartupPacket,
} from "@org/entra-wire";
import { afterEach, describe, expect, test } from "vitest";
import { type GatewayFixture, loginError, startGatewayFixture, withClient } from "./pg-test-fixture.js";

type Method = "cleartext" | "md5" | "scram";
const BACKEND_PASSWORD = "backend-secret";
const SALT = Buffer.from("0123456789abcdef");
const ITERATIONS = 4096;

/** A fake PostgreSQL that demands `method` with BACKEND_PASSWORD, then sends a fixed session start. */
function startFakeBackend(method: Method): Promise<{ server: Server; port: number; startups: string[][][] }> {
  const startups: string[][][] = [];
  const server = createServer((socket) => serve(socket, method, startups));
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      resolve({ server, port: typeof address === "object" && address ? address.port : 0, startups });
    }),
  );
}

function serve(socket: Socket, method: Method, startups: string[][][]): void {
  const reader = new PgFrameReader();
  let user = "";
  let step = "startup";
  let scram: { clientFirstBare: string; serverFirst: string; salted: Buffer } | undefined;
  const hmac = (key: Buffer, data: string) => createHmac("sha256", key).update(data).digest();
  const refuse = () =>
    socket.end(
      buildErrorResponse({
        severity: "FATAL",
        code: "28P01",
        message: `password authentication failed for user "${user}"`,
      }),
    );
  const accept = () => {
    const keyData = Buffer.alloc(8);
    keyData.writeUInt32BE(4242, 0);
    keyData.writeUInt32BE(7, 4);
    socket.write(
      Buffer.concat([
        buildAuthenticationRequest(0),
        buildMessage("S", Buffer.from("server_version\x0099.0\0")),
        buildMessage("K", keyData),
        buildMessage("Z", Buffer.from("I")),
      ]),
    );
    step = "done";
  };
  socket.on("error", () => {});
  socket.on("data", (chunk: Buffer) => {
    reader.push(chunk);
    if (step === "startup") {
      const packet = reader.readStartupPacket();
      if (!packet) return;
      const startup = parseStartupPacket(packet);
      if (startup.kind !== "startup") return socket.destroy();
      startups.push(startup.parameters.map(([k, v]) => [k, v]));
      user = startup.parameters.find(([k]) => k === "user")?.[1] ?? "";
      step = "auth";
      if (method === "cleartext") socket.write(buildAuthenticationRequest(3));
      if (method === "md5") socket.write(buildAuthenticationRequest(5, Buffer.from([1, 2, 3, 4])));
      if (method === "scram") socket.write(buildAuthenticationRequest(10, Buffer.from("SCRAM-SHA-256\0\0")));
    }
    for (let message = reader.readMessage(10_000); message; message = reader.readMessage(10_000)) {
      if (message.type !== "p") return socket.destroy();
      if (method === "cleartext") {
        return parsePasswordMessage(message.payload) === BACKEND_PASSWORD ? accept() : refuse();
      }
      if (method === "md5") {
        const expected = computeMd5Password(user, BACKEND_PASSWORD, Buffer.from([1, 2, 3, 4]));
        return parsePasswordMessage(message.payload) === expected ? accept() : refuse();
      }
      if (!scram) {
        const mechanismEnd = message.payload.indexOf(0);
        const clientFirst = message.payload.subarray(mechanismEnd + 5).toString();
        const clientFirstBare = clientFirst.slice(3);
        const clientNonce = /r=([^,]+)/.exec(clientFirstBare)?.[1] ?? "";
        const serverFirst = `r=${clientNonce}servernonce,s=${SALT.toString("base64")},i=${ITERATIONS}`;
        scram = {
          clientFirstBare,
          serverFirst,
          salted: pbkdf2Sync(BACKEND_PASSWORD, SALT, ITERATIONS, 32, "sha256"),
        };
        socket.write(buildAuthenticationRequest(11, Buffer.from(serverFirst)));
        continue;
      }
      const clientFinal = message.payload.toString();
      const withoutProof = clientFinal.slice(0, clientFinal.indexOf(",p="));
      const proof = Buffer.from(clientFinal.slice(clientFinal.indexOf(",p=") + 3), "base64");
      const authMessage = `${scram.clientFirstBare},${scram.serverFirst},${withoutProof}`;
      const storedKey = createHash("sha256").update(hmac(scram.salted, "Client Key")).digest();
      const signature = hmac(storedKey, authMessage);
      const clientKey = Buffer.from(proof.map((byte, i) => byte ^ (signature[i] ?? 0)));
      if (!createHash("sha256").update(clientKey).digest().equals(storedKey)) return refuse();
      const serverSignature = hmac(hmac(scram.salted, "Server Key"), authMessage).toString("base64");
      socket.write(buildAuthenticationRequest(12, Buffer.from(`v=${serverSignature}`)));
      return accept();
    }
  });
}

describe("logging in to a backend that asks for a password", () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });

  async function setup(
    method: Method,
    password?: string,
  ): Promise<{ fixture: GatewayFixture; startups: string[][][] }> {
    const backend = await startFakeBackend(method);
    const fixture = await startGatewayFixture({
      backend: { host: "127.0.0.1", port: backend.port, ...(password === undefined ? {} : { password }) },
    });
    cleanups.push(async () => {
      await fixture.close();
      await new Promise((resolve) => backend.server.close(resolve));
    });
    return { fixture, startups: backend.startups };
  }

  test.each(["cleartext", "md5", "scram"] as const)(
    "completes %s with backend.password and hands the backend's session start to the client",
    async (method) => {
      const { fixture, startups } = await setup(method, BACKEND_PASSWORD);
      const processId = await withClient(
        fixture.clientConfig({ application_name: "app" }),
        async (client) => {
          return (client as unknown as { processID: number }).processID;
        },
      );
      expect(processId).toBe(4242);
      expect(startups[0]).toEqual([
        ["user", "entra_gateway_app"],
        ["database", "test"],
        ["application_name", "app"],
        ["client_encoding", "UTF8"],
      ]);
    },
  );

  test.each(["cleartext", "md5", "scram"] as const)(
    "forwards the backend's refusal when %s fails",
    async (method) => {
      const { fixture } = await setup(method, "wrong");
      const error = await loginError(fixture.clientConfig());
      expect(error.code).toBe("28P01");
      expect(error.message).toBe('password authentication failed for user "entra_gateway_app"');
    },
  );

  test("explains a missing backend.password", async () => {
    const { fixture } = await setup("md5");
    const error = await loginError(fixture.clientConfig());
    expect(error.message).toContain("set backend.password");
  });
});
