import { randomInt } from "node:crypto";
import type { Socket } from "node:net";
import * as packets from "@org/entra-wire";
import { acceptTls, remoteAddressOf } from "@org/entra-wire";
import { personaGreeting } from "../mysql/mysql-persona.js";
import { type ConnectionLifetime, watchSocket } from "./connection-lifetime.js";
import { type HostileConnectionContext, presentsTls } from "./hostile-connection-context.js";

type Phase = "handshake" | "password" | "refused";

/** Thread ids of hostile MySQL connections start here, like a server that has run for a while. */
const FIRST_THREAD_ID = 1000;

/**
 * One client of a hostile MySQL server: greets as the persona (with `CLIENT_SSL` only where the mode
 * completes TLS, and `mysql_clear_password` as the default plugin in `cleartext-first`), switches the
 * client to `mysql_clear_password` unless the first packet already carried the password, then
 * refuses with ERR 1045 and closes.
 */
export class HostileMysqlConnection {
  readonly #raw: Socket;
  readonly #context: HostileConnectionContext;
  readonly #lifetime: ConnectionLifetime;
  readonly #reader = new packets.MysqlPacketReader(packets.MYSQL_MAX_LOGIN_PACKET_LENGTH + 4);
  readonly #remoteAddress: string;
  #client: Socket;
  #phase: Phase = "handshake";
  #tls = false;
  #user = "";
  /** A 4.1 client spoke (SSLRequest or HandshakeResponse), so an ERR may carry a SQLSTATE. */
  #protocol41 = false;
  /** Sequence id the next packet to the client carries. */
  #sequenceId = 0;
  readonly #onData = (chunk: Buffer) => this.#receive(chunk);

  constructor(raw: Socket, context: HostileConnectionContext, forget: () => void) {
    this.#raw = raw;
    this.#client = raw;
    this.#context = context;
    this.#remoteAddress = remoteAddressOf(raw);
    this.#lifetime = watchSocket(raw, context, forget, {
      onIdle: () => this.#refuse(),
      client: () => this.#client,
      onData: this.#onData,
    });
    const cleartextFirst = context.mode === "cleartext-first";
    this.#write(
      packets.buildHandshake(
        personaGreeting(context.persona, {
          connectionId: FIRST_THREAD_ID + context.connectionNumber,
          authPluginData: scramble(),
          offerSsl: presentsTls(context.mode),
          authPluginName: cleartextFirst ? "mysql_clear_password" : undefined,
        }),
      ),
    );
  }

  /** Destroys the connection. Idempotent. */
  destroy(): void {
    this.#lifetime.destroy();
  }

  #write(payload: Buffer): void {
    this.#client.write(packets.buildPacket(this.#sequenceId, payload));
    this.#sequenceId = (this.#sequenceId + 1) & 0xff;
  }

  #receive(chunk: Buffer): void {
    this.#lifetime.received(chunk);
    if (this.#lifetime.finished) return;
    try {
      this.#reader.push(chunk);
      while (this.#phase !== "refused" && !this.#lifetime.finished) {
        const packet = this.#reader.readPacket(packets.MYSQL_MAX_LOGIN_PACKET_LENGTH);
        if (packet === undefined) return;
        // Lenient: answer whatever sequence id the client used, so it reads our reply.
        this.#sequenceId = (packet.sequenceId + 1) & 0xff;
        if (this.#phase === "handshake") this.#onFirstPacket(packet.payload);
        else this.#refuse();
      }
    } catch {
      this.#refuse(); // whatever it was, the client gets the authentication failure
    }
  }

  #onFirstPacket(payload: Buffer): void {
    const packet = packets.parseClientFirstPacket(payload);
    this.#protocol41 = true;
    if (packet.kind === "ssl-request") {
      // A client that insists on TLS the greeting did not offer (or asks twice) is just closed.
      if (this.#tls || !presentsTls(this.#context.mode)) this.destroy();
      else this.#upgradeToTls();
      return;
    }
    this.#user = packet.user;
    const passwordInFirstPacket =
      packet.authPluginName === "mysql_clear_password" && packet.authResponse.length > 0;
    if (passwordInFirstPacket || !(packet.capabilities & packets.MysqlCapability.pluginAuth)) {
      this.#refuse();
      return;
    }
    this.#phase = "password";
    this.#write(packets.buildClearPasswordSwitch());
  }

  #upgradeToTls(): void {
    // MySQL sends nothing after SSLRequest, so the ClientHello may already sit in our buffer:
    // hand it back to the paused raw socket, which the TLS socket drains first.
    this.#client = acceptTls(this.#raw, {
      secureContext: this.#context.secureContext,
      pending: this.#reader.takeRemainder(),
      onData: this.#onData,
      onClose: () => this.destroy(),
    });
    this.#tls = true;
  }

  #refuse(): void {
    if (this.#lifetime.finished) return;
    this.#phase = "refused";
    this.#client.end(
      packets.buildPacket(
        this.#sequenceId,
        packets.buildErrorPacket({
          code: 1045,
          sqlState: this.#protocol41 ? "28000" : undefined,
          message: `Access denied for user '${this.#user}'@'${this.#remoteAddress}' (using password: YES)`,
        }),
      ),
    );
    this.#lifetime.refused();
  }
}

/** A 20-byte scramble of printable characters (no NUL, which would end it early). */
function scramble(): Buffer {
  return Buffer.from(Array.from({ length: 20 }, () => randomInt(0x21, 0x7f)));
}
