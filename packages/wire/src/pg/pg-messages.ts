import { createHash } from "node:crypto";

/** Protocol 3.0 as sent in a StartupMessage (major 3 in the high 16 bits, minor 0 in the low 16 bits). */
export const PG_PROTOCOL_3_0 = 196608;
/** Request code of an SSLRequest packet. */
export const PG_SSL_REQUEST_CODE = 80877103;
/** Request code of a GSSENCRequest packet. */
export const PG_GSSENC_REQUEST_CODE = 80877104;
/** Request code of a CancelRequest packet. */
export const PG_CANCEL_REQUEST_CODE = 80877102;
/** Largest startup-phase packet PostgreSQL accepts (`MAX_STARTUP_PACKET_LENGTH`), length field included. */
export const PG_MAX_STARTUP_PACKET_LENGTH = 10_000;
/** Largest PasswordMessage payload PostgreSQL accepts (`PG_MAX_AUTH_TOKEN_LENGTH`). */
export const PG_MAX_AUTH_TOKEN_LENGTH = 65_535;

/** Error `code` values of {@link PgProtocolError}. */
export const PgProtocolErrorCode = {
  /** A length field is impossible (below the minimum) or does not match the content. */
  badLength: "PG_BAD_LENGTH",
  /** A packet or message is longer than allowed. */
  tooLong: "PG_TOO_LONG",
  /** The content is invalid, e.g. a string without its NUL terminator. */
  malformed: "PG_MALFORMED",
} as const;

/** Malformed PostgreSQL wire input: the connection that sent it must be closed. */
export class PgProtocolError extends Error {
  /** Always `"PgProtocolError"`. */
  override readonly name = "PgProtocolError";
  /** One of {@link PgProtocolErrorCode}. */
  readonly code: (typeof PgProtocolErrorCode)[keyof typeof PgProtocolErrorCode];

  constructor(code: PgProtocolError["code"], message: string) {
    super(message);
    this.code = code;
  }
}

/** A complete typed message (`type` byte, int32 length, payload). */
export interface PgMessage {
  /** The one-character message type, e.g. `"p"` or `"R"`. */
  readonly type: string;
  /** The bytes after the length field. */
  readonly payload: Buffer;
  /** The whole message exactly as received, for forwarding. */
  readonly bytes: Buffer;
}

/**
 * Accumulates socket chunks and cuts complete packets out of them. Pure: no I/O; the caller picks
 * the framing per packet (startup-phase packets have no type byte).
 *
 * @example
 * const reader = new PgFrameReader();
 * reader.push(chunk);
 * const packet = reader.readStartupPacket(); // undefined until complete
 */
export class PgFrameReader {
  #buffer: Buffer = Buffer.alloc(0);

  /** Appends received bytes. */
  push(chunk: Buffer): void {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
  }

  /** Number of bytes received but not yet read. */
  get bufferedLength(): number {
    return this.#buffer.length;
  }

  /**
   * Reads one untyped startup-phase packet (SSLRequest, GSSENCRequest, CancelRequest, StartupMessage),
   * length field included. Returns `undefined` until it is complete.
   * Throws {@link PgProtocolError} when the length is below 8 or above `maxLength`.
   * `maxLength` defaults to {@link PG_MAX_STARTUP_PACKET_LENGTH}.
   */
  readStartupPacket(maxLength: number = PG_MAX_STARTUP_PACKET_LENGTH): Buffer | undefined {
    if (this.#buffer.length < 4) return undefined;
    const length = this.#buffer.readUInt32BE(0);
    if (length < 8)
      throw new PgProtocolError(PgProtocolErrorCode.badLength, `invalid length of startup packet: ${length}`);
    if (length > maxLength)
      throw new PgProtocolError(PgProtocolErrorCode.tooLong, `startup packet too long: ${length}`);
    if (this.#buffer.length < length) return undefined;
    const packet = this.#buffer.subarray(0, length);
    this.#buffer = this.#buffer.subarray(length);
    return packet;
  }

  /**
   * Reads one typed message. Returns `undefined` until it is complete.
   * Throws {@link PgProtocolError} when the length field is below 4 or the payload exceeds `maxPayloadLength`.
   */
  readMessage(maxPayloadLength: number): PgMessage | undefined {
    if (this.#buffer.length < 5) return undefined;
    const length = this.#buffer.readUInt32BE(1);
    const type = String.fromCharCode(this.#buffer[0] ?? 0);
    if (length < 4)
      throw new PgProtocolError(PgProtocolErrorCode.badLength, `invalid message length ${length}`);
    if (length - 4 > maxPayloadLength) {
      throw new PgProtocolError(
        PgProtocolErrorCode.tooLong,
        `message "${type}" too long: ${length - 4} bytes`,
      );
    }
    if (this.#buffer.length < length + 1) return undefined;
    const bytes = this.#buffer.subarray(0, length + 1);
    this.#buffer = this.#buffer.subarray(length + 1);
    return { type, payload: bytes.subarray(5), bytes };
  }

  /** Returns and forgets every byte not read yet (to forward once piping starts). */
  takeRemainder(): Buffer {
    const rest = this.#buffer;
    this.#buffer = Buffer.alloc(0);
    return rest;
  }
}

/** A parsed startup-phase packet. */
export type PgStartupPacket =
  | {
      /** SSLRequest: the client asks for TLS; the server answers `S` (yes) or `N` (no). */
      readonly kind: "ssl-request";
    }
  | {
      /** GSSENCRequest: the client asks for GSSAPI encryption; the server answers `G` (yes) or `N` (no). */
      readonly kind: "gssenc-request";
    }
  | {
      /** CancelRequest: cancel the running query of another connection, identified by its backend key. */
      readonly kind: "cancel-request";
      /** The process id of the backend whose query to cancel (from its BackendKeyData). */
      readonly processId: number;
      /** The whole packet, length field included, to forward unchanged. */
      readonly bytes: Buffer;
    }
  | {
      /** StartupMessage: opens a session with the given parameters. */
      readonly kind: "startup";
      /** The protocol major version asked for (3; other versions come with no parameters). */
      readonly majorVersion: number;
      /** The protocol minor version asked for (0 for 3.0; higher ones call for NegotiateProtocolVersion). */
      readonly minorVersion: number;
      /** Parameters in the order sent (`user`, `database`, `application_name`, `options`, ...). */
      readonly parameters: ReadonlyArray<readonly [string, string]>;
    };

/**
 * Parses a complete startup-phase packet (length field included), as returned by
 * {@link PgFrameReader.readStartupPacket}. Throws {@link PgProtocolError} on malformed input.
 *
 * @example
 * parseStartupPacket(Buffer.from("0000000804d2162f", "hex")); // { kind: "ssl-request" }
 */
export function parseStartupPacket(packet: Buffer): PgStartupPacket {
  if (packet.length < 8 || packet.readUInt32BE(0) !== packet.length) {
    throw new PgProtocolError(
      PgProtocolErrorCode.badLength,
      "startup packet length does not match its content",
    );
  }
  const code = packet.readUInt32BE(4);
  if (code === PG_SSL_REQUEST_CODE || code === PG_GSSENC_REQUEST_CODE) {
    if (packet.length !== 8)
      throw new PgProtocolError(PgProtocolErrorCode.badLength, "invalid encryption request");
    return { kind: code === PG_SSL_REQUEST_CODE ? "ssl-request" : "gssenc-request" };
  }
  if (code === PG_CANCEL_REQUEST_CODE) {
    // Protocol 3.2 allows cancel keys of up to 256 bytes; 3.0 uses 4.
    if (packet.length < 16 || packet.length > 8 + 4 + 256) {
      throw new PgProtocolError(PgProtocolErrorCode.badLength, "invalid cancel request");
    }
    return { kind: "cancel-request", processId: packet.readUInt32BE(8), bytes: packet };
  }
  const majorVersion = code >>> 16;
  const minorVersion = code & 0xffff;
  if (majorVersion !== 3) return { kind: "startup", majorVersion, minorVersion, parameters: [] };
  return {
    kind: "startup",
    majorVersion,
    minorVersion,
    parameters: parseStartupParameters(packet.subarray(8)),
  };
}

function parseStartupParameters(body: Buffer): Array<[string, string]> {
  const parameters: Array<[string, string]> = [];
  let offset = 0;
  for (;;) {
    const keyEnd = body.indexOf(0, offset);
    if (keyEnd === -1)
      throw new PgProtocolError(PgProtocolErrorCode.malformed, "startup packet is not terminated");
    if (keyEnd === offset) {
      if (keyEnd !== body.length - 1) {
        throw new PgProtocolError(PgProtocolErrorCode.malformed, "invalid startup packet layout");
      }
      return parameters;
    }
    const valueEnd = body.indexOf(0, keyEnd + 1);
    if (valueEnd === -1)
      throw new PgProtocolError(PgProtocolErrorCode.malformed, "startup parameter has no value");
    parameters.push([body.toString("utf8", offset, keyEnd), body.toString("utf8", keyEnd + 1, valueEnd)]);
    offset = valueEnd + 1;
  }
}

/**
 * Reads the password of a PasswordMessage payload (strips the trailing NUL).
 * Throws {@link PgProtocolError} when the NUL is missing.
 */
export function parsePasswordMessage(payload: Buffer): string {
  if (payload.length === 0 || payload[payload.length - 1] !== 0) {
    throw new PgProtocolError(PgProtocolErrorCode.malformed, "password message is not NUL-terminated");
  }
  return payload.toString("utf8", 0, payload.length - 1);
}

/** A parsed backend Authentication (`R`) message. */
export type PgAuthenticationRequest =
  | {
      /** AuthenticationOk (0): authentication succeeded. */
      readonly method: "ok";
    }
  | {
      /** AuthenticationCleartextPassword (3): send the password in a PasswordMessage. */
      readonly method: "cleartext";
    }
  | {
      /** AuthenticationMD5Password (5): send {@link computeMd5Password} in a PasswordMessage. */
      readonly method: "md5";
      /** The 4-byte salt to hash with. */
      readonly salt: Buffer;
    }
  | {
      /** AuthenticationSASL (10): pick a mechanism and send SASLInitialResponse. */
      readonly method: "sasl";
      /** The SASL mechanisms offered, e.g. `SCRAM-SHA-256`. */
      readonly mechanisms: readonly string[];
    }
  | {
      /** AuthenticationSASLContinue (11): a challenge to answer with SASLResponse. */
      readonly method: "sasl-continue";
      /** The mechanism's challenge (for SCRAM, the server-first message). */
      readonly data: Buffer;
    }
  | {
      /** AuthenticationSASLFinal (12): the SASL exchange is over; AuthenticationOk follows. */
      readonly method: "sasl-final";
      /** The mechanism's outcome (for SCRAM, the server-final message to verify). */
      readonly data: Buffer;
    }
  | {
      /** Any other request (Kerberos, GSSAPI, SSPI, ...), which this code does not answer. */
      readonly method: "unsupported";
      /** The authentication request code, e.g. 7 (GSSAPI) or 9 (SSPI). */
      readonly code: number;
    };

/** Parses the payload of an Authentication (`R`) message. Throws {@link PgProtocolError} when truncated. */
export function parseAuthenticationRequest(payload: Buffer): PgAuthenticationRequest {
  if (payload.length < 4)
    throw new PgProtocolError(PgProtocolErrorCode.malformed, "truncated authentication request");
  const code = payload.readUInt32BE(0);
  switch (code) {
    case 0:
      return { method: "ok" };
    case 3:
      return { method: "cleartext" };
    case 5:
      if (payload.length < 8) throw new PgProtocolError(PgProtocolErrorCode.malformed, "truncated MD5 salt");
      return { method: "md5", salt: payload.subarray(4, 8) };
    case 10:
      return { method: "sasl", mechanisms: splitNulTerminated(payload.subarray(4)) };
    case 11:
      return { method: "sasl-continue", data: payload.subarray(4) };
    case 12:
      return { method: "sasl-final", data: payload.subarray(4) };
    default:
      return { method: "unsupported", code };
  }
}

function splitNulTerminated(data: Buffer): string[] {
  return data
    .toString("utf8")
    .split("\0")
    .filter((part) => part.length > 0);
}

/** Fields of an ErrorResponse / NoticeResponse. */
export interface PgErrorFields {
  /** `ERROR`, `FATAL` or `PANIC`. */
  readonly severity: "ERROR" | "FATAL" | "PANIC";
  /** SQLSTATE, e.g. `28000`. */
  readonly code: string;
  /** The primary human-readable message (`M`). */
  readonly message: string;
  /** An optional secondary message with more detail (`D`). */
  readonly detail?: string;
  /** An optional suggestion of what to do about it (`H`). */
  readonly hint?: string;
}

/**
 * Builds an ErrorResponse (`E`) with the severity (`S` and `V`), SQLSTATE (`C`), message (`M`) and
 * optional detail (`D`) and hint (`H`) fields.
 *
 * @example
 * socket.end(buildErrorResponse({ severity: "FATAL", code: "28000", message: "no" }));
 */
export function buildErrorResponse(fields: PgErrorFields): Buffer {
  const parts: Array<[string, string]> = [
    ["S", fields.severity],
    ["V", fields.severity],
    ["C", fields.code],
    ["M", fields.message],
  ];
  if (fields.detail !== undefined) parts.push(["D", fields.detail]);
  if (fields.hint !== undefined) parts.push(["H", fields.hint]);
  const body = Buffer.concat([
    ...parts.map(([field, value]) => Buffer.from(`${field}${value}\0`, "utf8")),
    Buffer.from([0]),
  ]);
  return buildMessage("E", body);
}

/** Parses an ErrorResponse / NoticeResponse payload into its fields keyed by field code (`S`, `C`, `M`, ...). */
export function parseErrorFields(payload: Buffer): ReadonlyMap<string, string> {
  const fields = new Map<string, string>();
  let offset = 0;
  while (offset < payload.length && payload[offset] !== 0) {
    const end = payload.indexOf(0, offset + 1);
    if (end === -1) break;
    fields.set(String.fromCharCode(payload[offset] ?? 0), payload.toString("utf8", offset + 1, end));
    offset = end + 1;
  }
  return fields;
}

/** Builds a typed message from its type character and payload. */
export function buildMessage(type: string, payload: Buffer = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(5);
  header.write(type, 0, 1, "latin1");
  header.writeUInt32BE(payload.length + 4, 1);
  return Buffer.concat([header, payload]);
}

/** Builds an Authentication (`R`) message with the given code and extra payload. */
export function buildAuthenticationRequest(code: number, extra: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt32BE(code, 0);
  return buildMessage("R", Buffer.concat([head, extra]));
}

/** AuthenticationOk (`R`, 0). */
export function buildAuthenticationOk(): Buffer {
  return buildAuthenticationRequest(0);
}

/** AuthenticationCleartextPassword (`R`, 3): what Azure Database for PostgreSQL asks of Entra users. */
export function buildAuthenticationCleartextPassword(): Buffer {
  return buildAuthenticationRequest(3);
}

/**
 * NegotiateProtocolVersion (`v`): tells a client that asked for a newer 3.x minor version, or sent
 * `_pq_.` options, that the server speaks `newestVersion` and ignores `unrecognizedOptions`.
 * `newestVersion` defaults to {@link PG_PROTOCOL_3_0}.
 */
export function buildNegotiateProtocolVersion(
  unrecognizedOptions: readonly string[],
  newestVersion: number = PG_PROTOCOL_3_0,
): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(newestVersion, 0);
  head.writeUInt32BE(unrecognizedOptions.length, 4);
  return buildMessage("v", Buffer.concat([head, ...unrecognizedOptions.map((o) => Buffer.from(`${o}\0`))]));
}

/** Builds a protocol 3.0 StartupMessage with the parameters in the given order. */
export function buildStartupMessage(parameters: Iterable<readonly [string, string]>): Buffer {
  const pairs: Buffer[] = [];
  for (const [key, value] of parameters) pairs.push(Buffer.from(`${key}\0${value}\0`, "utf8"));
  const body = Buffer.concat([...pairs, Buffer.from([0])]);
  const head = Buffer.alloc(8);
  head.writeUInt32BE(body.length + 8, 0);
  head.writeUInt32BE(PG_PROTOCOL_3_0, 4);
  return Buffer.concat([head, body]);
}

/** Builds an 8-byte SSLRequest or GSSENCRequest, or a 16-byte protocol 3.0 CancelRequest. */
export function buildRequestPacket(
  request:
    | { kind: "ssl-request" | "gssenc-request" }
    | { kind: "cancel-request"; processId: number; secretKey: number },
): Buffer {
  if (request.kind === "cancel-request") {
    const packet = Buffer.alloc(16);
    packet.writeUInt32BE(16, 0);
    packet.writeUInt32BE(PG_CANCEL_REQUEST_CODE, 4);
    packet.writeUInt32BE(request.processId >>> 0, 8);
    packet.writeUInt32BE(request.secretKey >>> 0, 12);
    return packet;
  }
  const packet = Buffer.alloc(8);
  packet.writeUInt32BE(8, 0);
  packet.writeUInt32BE(request.kind === "ssl-request" ? PG_SSL_REQUEST_CODE : PG_GSSENC_REQUEST_CODE, 4);
  return packet;
}

/** PasswordMessage (`p`) carrying a NUL-terminated password (cleartext or MD5 form). */
export function buildPasswordMessage(password: string): Buffer {
  return buildMessage("p", Buffer.from(`${password}\0`, "utf8"));
}

/** SASLInitialResponse (`p`): mechanism name and the client-first message. */
export function buildSaslInitialResponse(mechanism: string, data: string): Buffer {
  const dataBytes = Buffer.from(data, "utf8");
  const length = Buffer.alloc(4);
  length.writeInt32BE(dataBytes.length, 0);
  return buildMessage("p", Buffer.concat([Buffer.from(`${mechanism}\0`), length, dataBytes]));
}

/** SASLResponse (`p`): the client-final message. */
export function buildSaslResponse(data: string): Buffer {
  return buildMessage("p", Buffer.from(data, "utf8"));
}

/**
 * The MD5 password response PostgreSQL expects: `"md5" + md5hex(md5hex(password + user) + salt)`.
 *
 * @example
 * computeMd5Password("postgres", "secret", Buffer.from([1, 2, 3, 4]));
 */
export function computeMd5Password(user: string, password: string, salt: Buffer): string {
  const inner = createHash("md5").update(password, "utf8").update(user, "utf8").digest("hex");
  return `md5${createHash("md5").update(inner, "latin1").update(salt).digest("hex")}`;
}
