import type { Socket } from "node:net";
import {
  acceptTls,
  buildAuthenticationCleartextPassword,
  buildErrorResponse,
  PG_MAX_AUTH_TOKEN_LENGTH,
  PgFrameReader,
  parseStartupPacket,
} from "@org/entra-wire";
import { type ConnectionLifetime, watchSocket } from "./connection-lifetime.js";
import { type HostileConnectionContext, presentsTls } from "./hostile-connection-context.js";

type Phase = "startup" | "password" | "refused";

/**
 * One client of a hostile PostgreSQL server: answers SSLRequest per mode ('S' and TLS with the
 * mode's certificate, 'N', or an immediate AuthenticationCleartextPassword), asks for the cleartext
 * password, then refuses with 28P01 and closes.
 */
export class HostilePgConnection {
  readonly #raw: Socket;
  readonly #context: HostileConnectionContext;
  readonly #lifetime: ConnectionLifetime;
  readonly #reader = new PgFrameReader();
  #client: Socket;
  #phase: Phase = "startup";
  #tls = false;
  #user = "";
  readonly #onData = (chunk: Buffer) => this.#receive(chunk);

  constructor(raw: Socket, context: HostileConnectionContext, forget: () => void) {
    this.#raw = raw;
    this.#client = raw;
    this.#context = context;
    this.#lifetime = watchSocket(raw, context, forget, {
      onIdle: () => this.#refuse(),
      client: () => this.#client,
      onData: this.#onData,
    });
  }

  /** Destroys the connection. Idempotent. */
  destroy(): void {
    this.#lifetime.destroy();
  }

  #receive(chunk: Buffer): void {
    this.#lifetime.received(chunk);
    if (this.#lifetime.finished) return;
    try {
      // A direct TLS ClientHello (libpq 17 `sslnegotiation=direct`) instead of an SSLRequest.
      if (this.#phase === "startup" && !this.#tls && this.#reader.bufferedLength === 0 && chunk[0] === 0x16) {
        if (!presentsTls(this.#context.mode)) {
          this.destroy();
          return;
        }
        this.#upgradeToTls(chunk);
        return;
      }
      this.#reader.push(chunk);
      while (!this.#lifetime.finished && this.#phase !== "refused") {
        if (!(this.#phase === "startup" ? this.#readStartupPacket() : this.#readPassword())) return;
      }
    } catch {
      this.#refuse(); // whatever it was, the client gets the authentication failure
    }
  }

  #readStartupPacket(): boolean {
    const bytes = this.#reader.readStartupPacket();
    if (bytes === undefined) return false;
    const packet = parseStartupPacket(bytes);
    switch (packet.kind) {
      case "ssl-request":
        return this.#answerSslRequest();
      case "gssenc-request":
        this.#client.write("N");
        return true;
      case "cancel-request":
        this.destroy();
        return false;
      case "startup":
        this.#user = packet.parameters.find(([key]) => key === "user")?.[1] ?? "";
        this.#client.write(buildAuthenticationCleartextPassword());
        this.#phase = "password";
        return true;
    }
  }

  #answerSslRequest(): boolean {
    if (this.#tls) {
      this.destroy();
      return false;
    }
    switch (this.#context.mode) {
      case "wrong-host":
      case "untrusted-certificate": {
        this.#raw.write("S");
        // Bytes already behind the SSLRequest are the start of the ClientHello.
        this.#upgradeToTls(this.#reader.takeRemainder());
        return false;
      }
      case "tls-stripped":
        this.#client.write("N");
        return true;
      case "cleartext-first":
        // The answer a client must never take for "go ahead": an authentication request instead of 'S'/'N'.
        this.#client.write(buildAuthenticationCleartextPassword());
        this.#phase = "password";
        return true;
    }
  }

  #upgradeToTls(pending: Buffer): void {
    this.#client = acceptTls(this.#raw, {
      secureContext: this.#context.secureContext,
      ALPNProtocols: ["postgresql"],
      pending,
      onData: this.#onData,
      onClose: () => this.destroy(),
    });
    this.#tls = true;
  }

  #readPassword(): boolean {
    const message = this.#reader.readMessage(PG_MAX_AUTH_TOKEN_LENGTH);
    if (message === undefined) return false;
    this.#refuse();
    return false;
  }

  #refuse(): void {
    if (this.#lifetime.finished) return;
    this.#phase = "refused";
    this.#client.end(
      buildErrorResponse({
        severity: "FATAL",
        code: "28P01",
        message: `password authentication failed for user "${this.#user}"`,
      }),
    );
    this.#lifetime.refused();
  }
}
