import { createHash, constants as cryptoConstants, publicEncrypt } from "node:crypto";

/** Capability flags of the MySQL client/server protocol (lower 32 bits). */
export const MysqlCapability = {
  /** `CLIENT_LONG_PASSWORD`; MariaDB servers clear it to say "MariaDB extended capabilities follow" (`CLIENT_MYSQL`). */
  longPassword: 0x1,
  /** `CLIENT_FOUND_ROWS`: OK packets report rows found (matched) instead of rows changed. */
  foundRows: 0x2,
  /** `CLIENT_LONG_FLAG`: the client wants all column flags. */
  longFlag: 0x4,
  /** `CLIENT_CONNECT_WITH_DB`: the HandshakeResponse41 names a default schema. */
  connectWithDb: 0x8,
  /** `CLIENT_NO_SCHEMA`: disallow `database.table.column` (deprecated). */
  noSchema: 0x10,
  /** `CLIENT_COMPRESS`: use the zlib-compressed protocol after login. */
  compress: 0x20,
  /** `CLIENT_ODBC`: an ODBC client (no longer has any effect). */
  odbc: 0x40,
  /** `CLIENT_LOCAL_FILES`: the client can serve `LOAD DATA LOCAL` file requests. */
  localFiles: 0x80,
  /** `CLIENT_IGNORE_SPACE`: the parser allows spaces between a function name and `(`. */
  ignoreSpace: 0x100,
  /** `CLIENT_PROTOCOL_41`: the 4.1 protocol (HandshakeResponse41, 4.1 OK/ERR with SQLSTATE). */
  protocol41: 0x200,
  /** `CLIENT_INTERACTIVE`: idle timeout is `interactive_timeout` instead of `wait_timeout`. */
  interactive: 0x400,
  /** `CLIENT_SSL`: TLS is supported; the client sends an SSLRequest and switches to TLS. */
  ssl: 0x800,
  /** `CLIENT_IGNORE_SIGPIPE`: client-side only, never sent meaningfully. */
  ignoreSigpipe: 0x1000,
  /** `CLIENT_TRANSACTIONS`: the client expects transaction status flags in OK packets. */
  transactions: 0x2000,
  /** `CLIENT_RESERVED`: unused (formerly the 4.1 protocol flag). */
  reserved: 0x4000,
  /** `CLIENT_SECURE_CONNECTION`: 4.1 authentication; the auth response has a 1-byte length prefix. */
  secureConnection: 0x8000,
  /** `CLIENT_MULTI_STATEMENTS`: several `;`-separated statements per COM_QUERY. */
  multiStatements: 0x1_0000,
  /** `CLIENT_MULTI_RESULTS`: the client handles several result sets per COM_QUERY. */
  multiResults: 0x2_0000,
  /** `CLIENT_PS_MULTI_RESULTS`: the client handles several result sets per COM_STMT_EXECUTE. */
  psMultiResults: 0x4_0000,
  /** `CLIENT_PLUGIN_AUTH`: authentication plugins (names in the greeting and response, AuthSwitch). */
  pluginAuth: 0x8_0000,
  /** `CLIENT_CONNECT_ATTRS`: the HandshakeResponse41 carries connection attributes. */
  connectAttrs: 0x10_0000,
  /** `CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA`: the auth response has a length-encoded length. */
  pluginAuthLenencClientData: 0x20_0000,
  /** `CLIENT_CAN_HANDLE_EXPIRED_PASSWORDS`: the client can log in with an expired password (sandbox mode). */
  canHandleExpiredPasswords: 0x40_0000,
  /** `CLIENT_SESSION_TRACK`: OK packets may carry session-state changes. */
  sessionTrack: 0x80_0000,
  /** `CLIENT_DEPRECATE_EOF`: OK packets (header `0xFE`) replace EOF packets. */
  deprecateEof: 0x100_0000,
  /** `CLIENT_OPTIONAL_RESULTSET_METADATA`: the client can ask to skip result set metadata. */
  optionalResultsetMetadata: 0x200_0000,
  /** `CLIENT_ZSTD_COMPRESSION_ALGORITHM`: zstd compression, with a level in the HandshakeResponse41. */
  zstdCompression: 0x400_0000,
  /** `CLIENT_QUERY_ATTRIBUTES`: COM_QUERY and COM_STMT_EXECUTE carry query attributes. */
  queryAttributes: 0x800_0000,
  /** `MULTI_FACTOR_AUTHENTICATION`: the server may ask for more factors (AuthNextFactor). */
  multiFactorAuthentication: 0x1000_0000,
  /** `CLIENT_SSL_VERIFY_SERVER_CERT`: client-side only (verify the server certificate). */
  sslVerifyServerCert: 0x4000_0000,
  /** `CLIENT_REMEMBER_OPTIONS`: client-side only (keep options after a failed connect). */
  rememberOptions: 0x8000_0000,
} as const;

/** Largest payload of one packet before it must be split (`0xFFFFFF`); the gateway never needs split packets. */
export const MYSQL_MAX_SINGLE_PACKET_LENGTH = 0xff_ffff;
/** Largest login-phase packet payload the gateway accepts (handshake response with attributes, or the token). */
export const MYSQL_MAX_LOGIN_PACKET_LENGTH = 65_536;

/** Error `code` values of {@link MysqlProtocolError}. */
export const MysqlProtocolErrorCode = {
  /** A packet, or the bytes buffered unread, exceed the allowed length. */
  tooLong: "MYSQL_TOO_LONG",
  /** A packet is truncated, or is not what the protocol expects at that point. */
  malformed: "MYSQL_MALFORMED",
} as const;

/** Malformed MySQL wire input: the connection that sent it must be closed. */
export class MysqlProtocolError extends Error {
  /** Always `"MysqlProtocolError"`. */
  override readonly name = "MysqlProtocolError";
  /** One of {@link MysqlProtocolErrorCode}. */
  readonly code: (typeof MysqlProtocolErrorCode)[keyof typeof MysqlProtocolErrorCode];

  constructor(code: MysqlProtocolError["code"], message: string) {
    super(message);
    this.code = code;
  }
}

/** One packet: 3-byte little-endian payload length, 1-byte sequence id, payload. */
export interface MysqlPacket {
  /** The sequence id (0-255). */
  readonly sequenceId: number;
  /** The bytes after the 4-byte header. */
  readonly payload: Buffer;
  /** The whole packet exactly as received, for forwarding. */
  readonly bytes: Buffer;
}

/**
 * Accumulates socket chunks and cuts complete packets out of them. Pure: no I/O.
 *
 * @example
 * const reader = new MysqlPacketReader();
 * reader.push(chunk);
 * const packet = reader.readPacket(MYSQL_MAX_LOGIN_PACKET_LENGTH); // undefined until complete
 */
export class MysqlPacketReader {
  #buffer: Buffer = Buffer.alloc(0);
  readonly #maxBufferedLength: number;

  /** `maxBufferedLength` bounds unread bytes; {@link push} throws beyond it. Defaults to 1 MiB + 4. */
  constructor(maxBufferedLength: number = 1024 * 1024 + 4) {
    this.#maxBufferedLength = maxBufferedLength;
  }

  /** Appends received bytes. Throws {@link MysqlProtocolError} when more than the bound is unread. */
  push(chunk: Buffer): void {
    if (this.#buffer.length + chunk.length > this.#maxBufferedLength) {
      throw new MysqlProtocolError(
        MysqlProtocolErrorCode.tooLong,
        `more than ${this.#maxBufferedLength} unread bytes`,
      );
    }
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
  }

  /** Number of bytes received but not yet read. */
  get bufferedLength(): number {
    return this.#buffer.length;
  }

  /**
   * Reads one packet. Returns `undefined` until it is complete.
   * Throws {@link MysqlProtocolError} when the payload length exceeds `maxPayloadLength`.
   */
  readPacket(maxPayloadLength: number): MysqlPacket | undefined {
    if (this.#buffer.length < 4) return undefined;
    const length = this.#buffer.readUIntLE(0, 3);
    if (length > maxPayloadLength) {
      throw new MysqlProtocolError(MysqlProtocolErrorCode.tooLong, `packet too long: ${length} bytes`);
    }
    if (this.#buffer.length < length + 4) return undefined;
    const bytes = this.#buffer.subarray(0, length + 4);
    this.#buffer = this.#buffer.subarray(length + 4);
    return { sequenceId: bytes[3] ?? 0, payload: bytes.subarray(4), bytes };
  }

  /** Returns and forgets every byte not read yet (to forward once piping starts). */
  takeRemainder(): Buffer {
    const rest = this.#buffer;
    this.#buffer = Buffer.alloc(0);
    return rest;
  }
}

/** Frames `payload` as one packet with `sequenceId` (mod 256). Throws when the payload needs splitting. */
export function buildPacket(sequenceId: number, payload: Buffer): Buffer {
  if (payload.length >= MYSQL_MAX_SINGLE_PACKET_LENGTH) {
    throw new RangeError(`packet payload of ${payload.length} bytes would need splitting`);
  }
  const header = Buffer.alloc(4);
  header.writeUIntLE(payload.length, 0, 3);
  header[3] = sequenceId & 0xff;
  return Buffer.concat([header, payload]);
}

/** A bounds-checked cursor over a payload; every overrun throws {@link MysqlProtocolError}. */
class PayloadCursor {
  offset = 0;
  constructor(readonly buffer: Buffer) {}

  get remaining(): number {
    return this.buffer.length - this.offset;
  }

  #need(count: number, what: string): void {
    if (this.remaining < count) {
      throw new MysqlProtocolError(MysqlProtocolErrorCode.malformed, `truncated packet: ${what}`);
    }
  }

  uint(size: 1 | 2 | 3 | 4, what: string): number {
    this.#need(size, what);
    const value = this.buffer.readUIntLE(this.offset, size);
    this.offset += size;
    return value;
  }

  bytes(count: number, what: string): Buffer {
    this.#need(count, what);
    const value = this.buffer.subarray(this.offset, this.offset + count);
    this.offset += count;
    return value;
  }

  rest(): Buffer {
    return this.bytes(this.remaining, "rest");
  }

  nulTerminated(what: string): Buffer {
    const end = this.buffer.indexOf(0, this.offset);
    if (end < 0) throw new MysqlProtocolError(MysqlProtocolErrorCode.malformed, `unterminated ${what}`);
    const value = this.buffer.subarray(this.offset, end);
    this.offset = end + 1;
    return value;
  }

  lengthEncodedInteger(what: string): number {
    const first = this.uint(1, what);
    if (first < 0xfb) return first;
    if (first === 0xfc) return this.uint(2, what);
    if (first === 0xfd) return this.uint(3, what);
    if (first === 0xfe) {
      this.#need(8, what);
      const value = this.buffer.readBigUInt64LE(this.offset);
      this.offset += 8;
      if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
        throw new MysqlProtocolError(MysqlProtocolErrorCode.malformed, `${what} out of range`);
      }
      return Number(value);
    }
    throw new MysqlProtocolError(MysqlProtocolErrorCode.malformed, `invalid length-encoded integer: ${what}`);
  }

  lengthEncodedBytes(what: string): Buffer {
    return this.bytes(this.lengthEncodedInteger(what), what);
  }
}

/** Encodes a length-encoded integer (1, 3, 4 or 9 bytes). */
export function encodeLengthEncodedInteger(value: number): Buffer {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`invalid length ${value}`);
  if (value < 0xfb) return Buffer.from([value]);
  if (value <= 0xffff) return Buffer.from([0xfc, value & 0xff, value >> 8]);
  if (value <= 0xff_ffff) return Buffer.from([0xfd, value & 0xff, (value >> 8) & 0xff, value >> 16]);
  const buffer = Buffer.alloc(9);
  buffer[0] = 0xfe;
  buffer.writeBigUInt64LE(BigInt(value), 1);
  return buffer;
}

function lengthEncoded(bytes: Buffer): Buffer {
  return Buffer.concat([encodeLengthEncodedInteger(bytes.length), bytes]);
}

function nul(text: string | Buffer): Buffer {
  return Buffer.concat([typeof text === "string" ? Buffer.from(text, "utf8") : text, Buffer.alloc(1)]);
}

function uint(value: number, size: 1 | 2 | 4): Buffer {
  const buffer = Buffer.alloc(size);
  buffer.writeUIntLE(value >>> 0, 0, size);
  return buffer;
}

/** A server greeting (`Protocol::HandshakeV10`). */
export interface MysqlHandshake {
  /** Always 10. */
  readonly protocolVersion: number;
  /** E.g. `8.0.36` or, from MariaDB, `5.5.5-10.11.19-MariaDB`. */
  readonly serverVersion: string;
  /** Connection (thread) id, the one `KILL` takes. */
  readonly connectionId: number;
  /** The scramble (usually 20 bytes, without the trailing NUL). */
  readonly authPluginData: Buffer;
  /** Lower 32 capability bits. */
  readonly capabilities: number;
  /** MariaDB extended capabilities (upper 32 bits), present when `CLIENT_MYSQL` (bit 0) is clear, else 0. */
  readonly extendedCapabilities: number;
  /** Default character set / collation id. */
  readonly characterSet: number;
  /** Server status flags. */
  readonly statusFlags: number;
  /** Default authentication plugin, e.g. `mysql_native_password`; `""` without `CLIENT_PLUGIN_AUTH`. */
  readonly authPluginName: string;
}

/** Parses a HandshakeV10 payload. Throws {@link MysqlProtocolError} on anything else or a truncated one. */
export function parseHandshake(payload: Buffer): MysqlHandshake {
  const cursor = new PayloadCursor(payload);
  const protocolVersion = cursor.uint(1, "protocol version");
  if (protocolVersion !== 10) {
    throw new MysqlProtocolError(
      MysqlProtocolErrorCode.malformed,
      `unsupported handshake protocol version ${protocolVersion}`,
    );
  }
  const serverVersion = cursor.nulTerminated("server version").toString("utf8");
  const connectionId = cursor.uint(4, "connection id");
  const part1 = cursor.bytes(8, "auth plugin data");
  cursor.uint(1, "filler");
  let capabilities = cursor.uint(2, "capabilities");
  if (cursor.remaining === 0) {
    return {
      protocolVersion,
      serverVersion,
      connectionId,
      authPluginData: Buffer.from(part1),
      capabilities,
      extendedCapabilities: 0,
      characterSet: 0,
      statusFlags: 0,
      authPluginName: "",
    };
  }
  const characterSet = cursor.uint(1, "character set");
  const statusFlags = cursor.uint(2, "status flags");
  capabilities = (capabilities | (cursor.uint(2, "capabilities") << 16)) >>> 0;
  const authDataLength = cursor.uint(1, "auth plugin data length");
  const reserved = cursor.bytes(10, "reserved");
  const extendedCapabilities = capabilities & MysqlCapability.longPassword ? 0 : reserved.readUInt32LE(6);
  let authPluginData = Buffer.from(part1);
  if (capabilities & MysqlCapability.secureConnection) {
    const part2Length = Math.max(13, authDataLength - 8);
    let part2 = cursor.bytes(Math.min(part2Length, cursor.remaining), "auth plugin data");
    if (part2.length > 0 && part2[part2.length - 1] === 0) part2 = part2.subarray(0, part2.length - 1);
    authPluginData = Buffer.concat([part1, part2]);
  }
  let authPluginName = "";
  if (capabilities & MysqlCapability.pluginAuth && cursor.remaining > 0) {
    const end = payload.indexOf(0, cursor.offset);
    authPluginName = payload.subarray(cursor.offset, end < 0 ? payload.length : end).toString("utf8");
  }
  return {
    protocolVersion,
    serverVersion,
    connectionId,
    authPluginData,
    capabilities,
    extendedCapabilities,
    characterSet,
    statusFlags,
    authPluginName,
  };
}

/** Builds a HandshakeV10 payload (the inverse of {@link parseHandshake}). */
export function buildHandshake(handshake: MysqlHandshake): Buffer {
  const { capabilities, authPluginData } = handshake;
  const reserved = Buffer.alloc(10);
  if (!(capabilities & MysqlCapability.longPassword)) {
    reserved.writeUInt32LE(handshake.extendedCapabilities >>> 0, 6);
  }
  const part2 = authPluginData.subarray(8);
  const part2Bytes = Buffer.alloc(Math.max(13, part2.length + 1));
  part2.copy(part2Bytes);
  const pluginAuth = (capabilities & MysqlCapability.pluginAuth) !== 0;
  return Buffer.concat([
    uint(handshake.protocolVersion, 1),
    nul(handshake.serverVersion),
    uint(handshake.connectionId, 4),
    Buffer.concat([authPluginData.subarray(0, 8), Buffer.alloc(8)]).subarray(0, 8),
    Buffer.alloc(1),
    uint(capabilities & 0xffff, 2),
    uint(handshake.characterSet, 1),
    uint(handshake.statusFlags, 2),
    uint(capabilities >>> 16, 2),
    uint(pluginAuth ? authPluginData.length + 1 : 0, 1),
    reserved,
    capabilities & MysqlCapability.secureConnection ? part2Bytes : Buffer.alloc(0),
    pluginAuth ? nul(handshake.authPluginName) : Buffer.alloc(0),
  ]);
}

/** The fixed part shared by SSLRequest and HandshakeResponse41. */
export interface MysqlClientHello {
  /** Lower 32 capability bits the client wants. */
  readonly capabilities: number;
  /** MariaDB extended capabilities from the last 4 filler bytes (meaningful when `CLIENT_MYSQL` is clear). */
  readonly extendedCapabilities: number;
  /** Largest packet the client will send. */
  readonly maxPacketSize: number;
  /** Character set / collation id. */
  readonly characterSet: number;
}

/** A parsed `HandshakeResponse41`. */
export interface MysqlHandshakeResponse extends MysqlClientHello {
  /** The user name to log in as. */
  readonly user: string;
  /** Auth response computed for {@link authPluginName} (or the greeting's plugin). */
  readonly authResponse: Buffer;
  /** Default schema, `""` when none. */
  readonly database: string;
  /** Plugin the auth response is for; `""` without `CLIENT_PLUGIN_AUTH`. */
  readonly authPluginName: string;
  /** Connection attributes in order; empty when the client sent none. */
  readonly connectAttributes: ReadonlyArray<readonly [string, string]>;
}

/** A client's first packet after the greeting. */
export type MysqlClientFirstPacket =
  | ({
      /** A 32-byte SSLRequest: the TLS handshake follows, then the HandshakeResponse41 over TLS. */
      readonly kind: "ssl-request";
    } & MysqlClientHello)
  | ({
      /** A HandshakeResponse41 in the clear (the client does not use TLS). */
      readonly kind: "handshake-response";
    } & MysqlHandshakeResponse);

/**
 * Parses the client's first packet: a 32-byte SSLRequest (with `CLIENT_SSL`) or a HandshakeResponse41.
 * Throws {@link MysqlProtocolError} for pre-4.1 or truncated packets.
 */
export function parseClientFirstPacket(payload: Buffer): MysqlClientFirstPacket {
  const cursor = new PayloadCursor(payload);
  const capabilities = cursor.uint(4, "capabilities");
  if (!(capabilities & MysqlCapability.protocol41)) {
    throw new MysqlProtocolError(MysqlProtocolErrorCode.malformed, "pre-4.1 handshake response");
  }
  const maxPacketSize = cursor.uint(4, "max packet size");
  const characterSet = cursor.uint(1, "character set");
  const filler = cursor.bytes(23, "filler");
  const hello = { capabilities, extendedCapabilities: filler.readUInt32LE(19), maxPacketSize, characterSet };
  if (cursor.remaining === 0) {
    if (!(capabilities & MysqlCapability.ssl)) {
      throw new MysqlProtocolError(MysqlProtocolErrorCode.malformed, "SSLRequest without CLIENT_SSL");
    }
    return { kind: "ssl-request", ...hello };
  }
  const user = cursor.nulTerminated("user name").toString("utf8");
  let authResponse: Buffer;
  if (capabilities & MysqlCapability.pluginAuthLenencClientData) {
    authResponse = cursor.lengthEncodedBytes("auth response");
  } else if (capabilities & MysqlCapability.secureConnection) {
    authResponse = cursor.bytes(cursor.uint(1, "auth response length"), "auth response");
  } else {
    authResponse = cursor.nulTerminated("auth response");
  }
  // Clients may stop early when the optional trailing fields are empty: be lenient at the end.
  let database = "";
  if (capabilities & MysqlCapability.connectWithDb && cursor.remaining > 0) {
    database = cursor.nulTerminated("database").toString("utf8");
  }
  let authPluginName = "";
  if (capabilities & MysqlCapability.pluginAuth && cursor.remaining > 0) {
    authPluginName = cursor.nulTerminated("auth plugin name").toString("utf8");
  }
  const connectAttributes: Array<readonly [string, string]> = [];
  if (capabilities & MysqlCapability.connectAttrs && cursor.remaining > 0) {
    const attributes = new PayloadCursor(cursor.lengthEncodedBytes("connection attributes"));
    while (attributes.remaining > 0) {
      const key = attributes.lengthEncodedBytes("attribute name").toString("utf8");
      const value = attributes.lengthEncodedBytes("attribute value").toString("utf8");
      connectAttributes.push([key, value]);
    }
  }
  return {
    kind: "handshake-response",
    ...hello,
    user,
    authResponse: Buffer.from(authResponse),
    database,
    authPluginName,
    connectAttributes,
  };
}

function buildClientHello(hello: MysqlClientHello): Buffer {
  const filler = Buffer.alloc(23);
  filler.writeUInt32LE(hello.extendedCapabilities >>> 0, 19);
  return Buffer.concat([
    uint(hello.capabilities, 4),
    uint(hello.maxPacketSize, 4),
    uint(hello.characterSet, 1),
    filler,
  ]);
}

/** Builds a 32-byte SSLRequest payload (`CLIENT_SSL` is added). */
export function buildSslRequest(hello: MysqlClientHello): Buffer {
  return buildClientHello({ ...hello, capabilities: (hello.capabilities | MysqlCapability.ssl) >>> 0 });
}

/**
 * Builds a HandshakeResponse41 payload; the optional fields follow the capability bits
 * (`CONNECT_WITH_DB`, `PLUGIN_AUTH`, `CONNECT_ATTRS`, `PLUGIN_AUTH_LENENC_CLIENT_DATA`).
 */
export function buildHandshakeResponse(response: MysqlHandshakeResponse): Buffer {
  const { capabilities } = response;
  let auth: Buffer;
  if (capabilities & MysqlCapability.pluginAuthLenencClientData) auth = lengthEncoded(response.authResponse);
  else if (capabilities & MysqlCapability.secureConnection) {
    if (response.authResponse.length > 255) throw new RangeError("auth response longer than 255 bytes");
    auth = Buffer.concat([uint(response.authResponse.length, 1), response.authResponse]);
  } else auth = nul(response.authResponse);
  const parts = [buildClientHello(response), nul(response.user), auth];
  if (capabilities & MysqlCapability.connectWithDb) parts.push(nul(response.database));
  if (capabilities & MysqlCapability.pluginAuth) parts.push(nul(response.authPluginName));
  if (capabilities & MysqlCapability.connectAttrs) {
    const pairs = response.connectAttributes.flatMap(([key, value]) => [
      lengthEncoded(Buffer.from(key, "utf8")),
      lengthEncoded(Buffer.from(value, "utf8")),
    ]);
    parts.push(lengthEncoded(Buffer.concat(pairs)));
  }
  return Buffer.concat(parts);
}

/** Builds an AuthSwitchRequest payload (`0xFE`, plugin name, NUL, plugin data). */
export function buildAuthSwitchRequest(pluginName: string, pluginData: Buffer = Buffer.alloc(0)): Buffer {
  return Buffer.concat([Buffer.from([0xfe]), nul(pluginName), pluginData]);
}

/** The `mysql_clear_password` switch Azure sends to Entra users: empty plugin data plus NUL. */
export function buildClearPasswordSwitch(): Buffer {
  return buildAuthSwitchRequest("mysql_clear_password", Buffer.alloc(1));
}

/** A server packet seen during authentication. */
export type MysqlAuthPacket =
  | {
      /** An OK packet (`0x00`): authentication succeeded. */
      readonly kind: "ok";
      /** The whole OK payload, header included (see {@link parseOkPacket}). */
      readonly payload: Buffer;
    }
  | {
      /** An ERR packet (`0xFF`): the login is refused. */
      readonly kind: "error";
      /** The ERR packet's fields. */
      readonly error: MysqlErrorFields;
    }
  | {
      /** An AuthSwitchRequest (`0xFE`): answer for another authentication plugin. */
      readonly kind: "auth-switch";
      /** The plugin to answer for, e.g. `mysql_clear_password`; `mysql_old_password` for a bare `0xFE`. */
      readonly pluginName: string;
      /** The plugin's data (a new scramble), without the trailing NUL. */
      readonly pluginData: Buffer;
    }
  | {
      /** AuthMoreData (`0x01`): more plugin-specific data for the current plugin. */
      readonly kind: "more-data";
      /**
       * The bytes after `0x01`: for `caching_sha2_password`, `0x03` (fast auth succeeded), `0x04`
       * (full authentication needed) or the server's PEM public key.
       */
      readonly data: Buffer;
    };

/** Classifies a server packet during authentication: OK, ERR, AuthSwitchRequest or AuthMoreData. */
export function parseAuthPacket(payload: Buffer): MysqlAuthPacket {
  switch (payload[0]) {
    case 0x00:
      return { kind: "ok", payload };
    case 0xff:
      return { kind: "error", error: parseErrorPacket(payload) };
    case 0xfe: {
      if (payload.length === 1)
        return { kind: "auth-switch", pluginName: "mysql_old_password", pluginData: Buffer.alloc(0) };
      const cursor = new PayloadCursor(payload);
      cursor.uint(1, "header");
      const pluginName = cursor.nulTerminated("plugin name").toString("utf8");
      let pluginData = cursor.rest();
      if (pluginData.length > 0 && pluginData[pluginData.length - 1] === 0) {
        pluginData = pluginData.subarray(0, pluginData.length - 1);
      }
      return { kind: "auth-switch", pluginName, pluginData: Buffer.from(pluginData) };
    }
    case 0x01:
      return { kind: "more-data", data: Buffer.from(payload.subarray(1)) };
    default:
      throw new MysqlProtocolError(
        MysqlProtocolErrorCode.malformed,
        `unexpected packet 0x${(payload[0] ?? 0).toString(16)} during authentication`,
      );
  }
}

/** Parses the client's reply to a `mysql_clear_password` switch: the password with its trailing NUL removed. */
export function parseClearPassword(payload: Buffer): string {
  const end = payload.indexOf(0);
  return payload.subarray(0, end < 0 ? payload.length : end).toString("utf8");
}

/**
 * The fields of an ERR packet.
 *
 * @inline
 */
export interface MysqlErrorFields {
  /** Error number, e.g. 1045. */
  readonly code: number;
  /** Five-character SQLSTATE, e.g. `28000`; left out of pre-handshake errors, which carry none. */
  readonly sqlState?: string;
  /** The human-readable error message. */
  readonly message: string;
}

/** Builds an ERR packet payload; the `#` SQLSTATE marker is written when `sqlState` is given. */
export function buildErrorPacket(fields: MysqlErrorFields): Buffer {
  const code = uint(fields.code, 2);
  const state =
    fields.sqlState === undefined
      ? Buffer.alloc(0)
      : Buffer.from(`#${fields.sqlState.padEnd(5, "0").slice(0, 5)}`);
  return Buffer.concat([Buffer.from([0xff]), code, state, Buffer.from(fields.message, "utf8")]);
}

/** Parses an ERR packet payload. Throws {@link MysqlProtocolError} when it is not one. */
export function parseErrorPacket(payload: Buffer): MysqlErrorFields {
  const cursor = new PayloadCursor(payload);
  if (cursor.uint(1, "header") !== 0xff) {
    throw new MysqlProtocolError(MysqlProtocolErrorCode.malformed, "not an ERR packet");
  }
  const code = cursor.uint(2, "error code");
  if (payload[cursor.offset] === 0x23 && cursor.remaining >= 6) {
    cursor.uint(1, "marker");
    const sqlState = cursor.bytes(5, "sqlstate").toString("latin1");
    return { code, sqlState, message: cursor.rest().toString("utf8") };
  }
  return { code, message: cursor.rest().toString("utf8") };
}

/** The fields of an OK packet (protocol 4.1). */
export interface MysqlOkFields {
  /** Rows the statement affected. Defaults to 0. */
  readonly affectedRows?: number;
  /** Id the statement generated. Defaults to 0. */
  readonly lastInsertId?: number;
  /** Server status flags. Defaults to 2 (`SERVER_STATUS_AUTOCOMMIT`). */
  readonly statusFlags?: number;
  /** Number of warnings. Defaults to 0. */
  readonly warnings?: number;
  /** Human-readable info (the rest of the packet; session-state data is not decoded). Defaults to `""`. */
  readonly info?: string;
}

/** Builds an OK packet payload (header `0x00`). */
export function buildOkPacket(fields: MysqlOkFields = {}): Buffer {
  return Buffer.concat([
    Buffer.from([0x00]),
    encodeLengthEncodedInteger(fields.affectedRows ?? 0),
    encodeLengthEncodedInteger(fields.lastInsertId ?? 0),
    uint(fields.statusFlags ?? 2, 2),
    uint(fields.warnings ?? 0, 2),
    Buffer.from(fields.info ?? "", "utf8"),
  ]);
}

/** Parses an OK packet payload (header `0x00`, or `0xFE` with `CLIENT_DEPRECATE_EOF`). */
export function parseOkPacket(payload: Buffer): Required<MysqlOkFields> {
  const cursor = new PayloadCursor(payload);
  const header = cursor.uint(1, "header");
  if (header !== 0x00 && header !== 0xfe) {
    throw new MysqlProtocolError(MysqlProtocolErrorCode.malformed, "not an OK packet");
  }
  const affectedRows = cursor.lengthEncodedInteger("affected rows");
  const lastInsertId = cursor.lengthEncodedInteger("last insert id");
  const statusFlags = cursor.uint(2, "status flags");
  const warnings = cursor.uint(2, "warnings");
  return { affectedRows, lastInsertId, statusFlags, warnings, info: cursor.rest().toString("utf8") };
}

/** Builds a COM_QUERY payload. */
export function buildQueryCommand(sql: string): Buffer {
  return Buffer.concat([Buffer.from([0x03]), Buffer.from(sql, "utf8")]);
}

function sha(algorithm: "sha1" | "sha256", ...parts: Buffer[]): Buffer {
  const hash = createHash(algorithm);
  for (const part of parts) hash.update(part);
  return hash.digest();
}

function xor(left: Buffer, right: Buffer): Buffer {
  const out = Buffer.alloc(left.length);
  for (let index = 0; index < left.length; index += 1) {
    out[index] = (left[index] ?? 0) ^ (right[index % right.length] ?? 0);
  }
  return out;
}

/** `mysql_native_password`: SHA1(pw) XOR SHA1(scramble + SHA1(SHA1(pw))); empty for an empty password. */
export function computeNativePasswordResponse(password: string, scramble: Buffer): Buffer {
  if (password === "") return Buffer.alloc(0);
  const stage1 = sha("sha1", Buffer.from(password, "utf8"));
  return xor(stage1, sha("sha1", scramble.subarray(0, 20), sha("sha1", stage1)));
}

/** `caching_sha2_password` fast path: SHA256(pw) XOR SHA256(SHA256(SHA256(pw)) + scramble); empty for an empty password. */
export function computeCachingSha2Response(password: string, scramble: Buffer): Buffer {
  if (password === "") return Buffer.alloc(0);
  const stage1 = sha("sha256", Buffer.from(password, "utf8"));
  return xor(stage1, sha("sha256", sha("sha256", stage1), scramble.subarray(0, 20)));
}

/** `caching_sha2_password` full authentication over plaintext: RSA-OAEP of (password + NUL) XOR scramble. */
export function encryptPasswordWithPublicKey(
  password: string,
  scramble: Buffer,
  publicKeyPem: string,
): Buffer {
  const obfuscated = xor(Buffer.from(`${password}\0`, "utf8"), scramble.subarray(0, 20));
  return publicEncrypt({ key: publicKeyPem, padding: cryptoConstants.RSA_PKCS1_OAEP_PADDING }, obfuscated);
}
