import type { Socket } from "node:net";
import { Duplex } from "node:stream";
import { type SecureContext, TLSSocket } from "node:tls";
import {
  buildPackets,
  TDS_DEFAULT_PACKET_SIZE,
  type TdsMessage,
  TdsMessageReader,
  TdsPacketType,
  TdsProtocolError,
  tlsFlightState,
} from "@org/entra-wire";

/** What a {@link TdsTransport} tells the connection that owns it. */
export interface TdsTransportEvents {
  /**
   * The client's first byte starts a TLS handshake (TDS 8, tedious `encrypt: "strict"`). Answer with
   * {@link TdsTransport.startStrictTls}, or send a plaintext reply and end the transport.
   */
  strict(): void;
  /** A complete message, plaintext or decrypted. Called only while {@link accepting} says so; a throw destroys the transport. */
  message(message: TdsMessage): void;
  /** Whether the owner takes messages now; otherwise they wait until {@link TdsTransport.drain} (e.g. while authorizing). */
  accepting(): boolean;
  /** Each chunk the client sent, as it arrives: from the socket before any TLS, then decrypted. */
  received?(chunk: Buffer): void;
  /** The transport is gone (socket error or close, malformed input, a throwing handler): clean up. Called once. */
  closed(): void;
}

/** Options of {@link TdsTransport}. */
export interface TdsTransportOptions {
  /** Largest message accepted until {@link TdsTransport.maxMessageLength} changes it. */
  readonly maxMessageLength: number;
  /** SPID written in the header of every packet to the client. */
  readonly spid: number;
}

/** How bytes from the raw socket are routed. */
type RawMode = "detect" | "plain" | "prelogin-tls" | "raw-tls" | "strict-tls";

/**
 * The byte side of a TDS server connection: detects TDS 8 (TLS first) versus a plaintext PRELOGIN
 * from the first byte, runs strict TLS or TLS inside PRELOGIN packets (TDS 7.x, with each server
 * flight sent as one PRELOGIN message), reassembles messages from plaintext or decrypted bytes and
 * writes messages as packets. Never throws out of its socket handlers.
 *
 * @example
 * const transport = new TdsTransport(socket, { maxMessageLength: 256 * 1024, spid: 51 }, {
 *   strict: () => transport.startStrictTls(secureContext),
 *   message: (message) => handle(message),
 *   accepting: () => true,
 *   closed: () => cleanUp(),
 * });
 */
export class TdsTransport {
  readonly #raw: Socket;
  readonly #events: TdsTransportEvents;
  readonly #spid: number;
  /** Messages on the raw socket (plaintext session, or TLS handshake wrapped in PRELOGIN). */
  readonly #plainReader: TdsMessageReader;
  /** Messages inside TLS. */
  readonly #secureReader: TdsMessageReader;
  #rawMode: RawMode = "detect";
  /** Where messages to the client are written (raw socket, or the TLS socket once encrypted). */
  #out: Socket;
  #tlsSocket: TLSSocket | undefined;
  /** The byte side of the TLS socket for TLS inside PRELOGIN. */
  #duplex: Duplex | undefined;
  #flight: Buffer[] = [];
  #flightTimer: NodeJS.Timeout | undefined;
  #encrypted = false;
  #destroyed = false;
  /** Size of the packets written to the client; LOGIN7 negotiates it. Defaults to 4096. */
  packetSize = TDS_DEFAULT_PACKET_SIZE;

  constructor(raw: Socket, options: TdsTransportOptions, events: TdsTransportEvents) {
    this.#raw = raw;
    this.#events = events;
    this.#spid = options.spid;
    this.#plainReader = new TdsMessageReader(options.maxMessageLength);
    this.#secureReader = new TdsMessageReader(options.maxMessageLength);
    this.#out = raw;
    raw.on("error", () => this.#fail());
    raw.on("close", () => this.#fail());
    raw.on("data", this.#onRawData);
  }

  /** True once TLS was started (strict, or inside PRELOGIN). */
  get encrypted(): boolean {
    return this.#encrypted;
  }

  /** Largest message accepted from now on (e.g. larger after login). */
  set maxMessageLength(length: number) {
    this.#plainReader.maxMessageLength = length;
    this.#secureReader.maxMessageLength = length;
  }

  /** Answers the TDS 8 ClientHello with TLS (ALPN `tds/8.0`); every message then travels inside it. */
  startStrictTls(secureContext: SecureContext): void {
    const tlsSocket = new TLSSocket(this.#raw, {
      isServer: true,
      secureContext,
      ALPNProtocols: ["tds/8.0"],
    });
    this.#useTlsSocket(tlsSocket);
    this.#encrypted = true;
    this.#out = tlsSocket as Socket;
  }

  /**
   * TDS 7.x: after the PRELOGIN response, the TLS handshake travels in PRELOGIN packets, then TLS
   * runs directly on TCP. `firstFlight` is a handshake payload the owner already read as a message.
   */
  startPreloginTls(secureContext: SecureContext, firstFlight?: Buffer): void {
    const duplex = new Duplex({
      read() {},
      write: (chunk: Buffer, _encoding, callback) => {
        try {
          this.#onTlsOutput(chunk);
          callback();
        } catch (error) {
          callback(error as Error);
        }
      },
    });
    duplex.on("error", () => this.#fail());
    this.#duplex = duplex;
    const tlsSocket = new TLSSocket(duplex as unknown as Socket, { isServer: true, secureContext });
    this.#useTlsSocket(tlsSocket);
    this.#rawMode = "prelogin-tls";
    this.#encrypted = true;
    this.#out = tlsSocket as Socket;
    if (firstFlight !== undefined) duplex.push(firstFlight);
  }

  /** Writes one message as packets of {@link packetSize}. */
  send(type: number, payload: Buffer): void {
    this.#out.write(buildPackets(type, payload, { packetSize: this.packetSize, spid: this.#spid }));
  }

  /** Hands out messages that waited while the owner was not accepting. */
  drain(): void {
    try {
      this.#drain(this.#rawMode === "plain" ? this.#plainReader : this.#secureReader);
    } catch {
      this.#fail();
    }
  }

  /** Ends the client side after what was written (the owner destroys it if the client lingers). */
  end(): void {
    this.#out.end();
    if (this.#out !== this.#raw && this.#rawMode !== "raw-tls") this.#raw.end();
  }

  /** Destroys every socket. Idempotent; does not call `closed`. */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    clearTimeout(this.#flightTimer);
    this.#tlsSocket?.destroy();
    this.#duplex?.destroy();
    this.#raw.destroy();
  }

  #fail(): void {
    if (this.#destroyed) return;
    this.destroy();
    this.#events.closed();
  }

  readonly #onRawData = (chunk: Buffer): void => {
    try {
      if (this.#rawMode !== "raw-tls") this.#events.received?.(chunk);
      switch (this.#rawMode) {
        case "detect":
          this.#detect(chunk);
          return;
        case "plain":
          this.#plainReader.push(chunk);
          this.#drain(this.#plainReader);
          return;
        case "prelogin-tls":
          this.#plainReader.push(chunk);
          this.#drainHandshake();
          return;
        case "raw-tls":
          this.#duplex?.push(chunk);
          return;
        case "strict-tls":
          return; // the TLS socket reads the raw socket itself
      }
    } catch {
      this.#fail(); // malformed input or a write on a dead socket: drop this connection only
    }
  };

  readonly #onCleartext = (chunk: Buffer): void => {
    try {
      this.#events.received?.(chunk);
      this.#secureReader.push(chunk);
      this.#drain(this.#secureReader);
    } catch {
      this.#fail();
    }
  };

  #detect(chunk: Buffer): void {
    const first = chunk[0];
    if (first === 0x16) {
      // TDS 8 (`encrypt: "strict"`): TLS first, everything inside it.
      this.#raw.off("data", this.#onRawData);
      this.#raw.pause();
      this.#raw.unshift(chunk);
      this.#rawMode = "strict-tls";
      this.#events.strict();
      return;
    }
    if (first !== TdsPacketType.prelogin)
      throw new TdsProtocolError("Expected PRELOGIN or a TLS ClientHello.");
    this.#rawMode = "plain";
    this.#plainReader.push(chunk);
    this.#drain(this.#plainReader);
  }

  #useTlsSocket(tlsSocket: TLSSocket): void {
    tlsSocket.on("error", () => this.#fail());
    tlsSocket.on("close", () => this.#fail());
    tlsSocket.on("data", this.#onCleartext);
    this.#tlsSocket = tlsSocket;
  }

  #drain(reader: TdsMessageReader): void {
    for (;;) {
      if (this.#destroyed || !this.#events.accepting()) return;
      // After the plaintext PRELOGIN the rest of the raw stream may be a TLS handshake.
      if (reader === this.#plainReader && this.#rawMode !== "plain") {
        if (this.#rawMode === "prelogin-tls") this.#drainHandshake();
        return;
      }
      const message = reader.readMessage();
      if (message === undefined) return;
      this.#events.message(message);
    }
  }

  #drainHandshake(): void {
    for (;;) {
      if (this.#rawMode !== "prelogin-tls") {
        if (this.#rawMode === "raw-tls") {
          const rest = this.#plainReader.takeRemainder();
          if (rest.length > 0) this.#duplex?.push(rest);
        }
        return;
      }
      const message = this.#plainReader.readMessage();
      if (message === undefined) return;
      if (message.type !== TdsPacketType.prelogin)
        throw new TdsProtocolError("Expected a TLS handshake packet.");
      this.#duplex?.push(message.payload);
    }
  }

  #onTlsOutput(chunk: Buffer): void {
    if (this.#destroyed) return;
    if (this.#rawMode === "raw-tls") {
      this.#raw.write(chunk);
      return;
    }
    this.#flight.push(chunk);
    const state = tlsFlightState(Buffer.concat(this.#flight));
    clearTimeout(this.#flightTimer);
    if (state.complete) {
      this.#flushFlight(state.containsChangeCipherSpec);
      return;
    }
    // Fallback for a flight the record scan cannot recognise: send what settled.
    this.#flightTimer = setTimeout(() => {
      try {
        const settled = tlsFlightState(Buffer.concat(this.#flight));
        this.#flushFlight(settled.containsChangeCipherSpec);
      } catch {
        this.#fail();
      }
    }, 50);
    this.#flightTimer.unref();
  }

  #flushFlight(handshakeDone: boolean): void {
    const bytes = Buffer.concat(this.#flight);
    this.#flight = [];
    if (bytes.length === 0) return;
    this.#raw.write(
      buildPackets(TdsPacketType.prelogin, bytes, { packetSize: TDS_DEFAULT_PACKET_SIZE, spid: this.#spid }),
    );
    if (handshakeDone) {
      this.#rawMode = "raw-tls";
      const rest = this.#plainReader.takeRemainder();
      if (rest.length > 0) this.#duplex?.push(rest);
    }
  }
}
