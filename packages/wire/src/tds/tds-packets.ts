/**
 * Pure builders and parsers for the parts of MS-TDS the Azure SQL emulator speaks: packet framing,
 * PRELOGIN, LOGIN7 (with the FEDAUTH feature extension), FEDAUTH_TOKEN, SQL_BATCH, RPC
 * (`sp_executesql`), transaction manager requests, and the server's token stream (LOGINACK,
 * ENVCHANGE, INFO/ERROR, FEDAUTHINFO, FEATUREEXTACK, COLMETADATA, ROW, DONE*).
 *
 * Every parser throws {@link TdsProtocolError} on malformed input; nothing here does I/O.
 */

/** Malformed or unsupported client input; the server closes that connection. */
export class TdsProtocolError extends Error {
  /** Always `"TdsProtocolError"`. */
  override readonly name = "TdsProtocolError";
}

/** Packet types (MS-TDS 2.2.3.1.1). */
export const TdsPacketType = Object.freeze({
  /** SQL batch (0x01): a client request carrying T-SQL text. */
  sqlBatch: 0x01,
  /** RPC (0x03): a client request calling a stored procedure (e.g. `sp_executesql`). */
  rpc: 0x03,
  /** Tabular result (0x04): every server response, a stream of tokens. */
  tabularResult: 0x04,
  /** Attention (0x06): the client cancels the request in progress. */
  attention: 0x06,
  /** Bulk load data (0x07): rows the client sends for a bulk insert. */
  bulkLoad: 0x07,
  /** Federated authentication token (0x08): the client's access token after a FEDAUTHINFO. */
  fedAuthToken: 0x08,
  /** Transaction manager request (0x0E): begin, commit, rollback or save a transaction. */
  transactionManager: 0x0e,
  /** TDS 7 login (0x10): the LOGIN7 record. */
  login7: 0x10,
  /** SSPI (0x11): an integrated-authentication (SSPI/NTLM) message. */
  sspi: 0x11,
  /** Pre-login (0x12): PRELOGIN negotiation, and the TLS handshake wrapped in it. */
  prelogin: 0x12,
});

/** Packet status bits (MS-TDS 2.2.3.1.2). */
export const TdsPacketStatus = Object.freeze({
  /** END OF MESSAGE (0x01): the last packet of the message. */
  endOfMessage: 0x01,
  /** IGNORE (0x02, with END OF MESSAGE): the client canceled the message; the server ignores it. */
  ignore: 0x02,
  /** RESETCONNECTION (0x08): reset the session before running the request. */
  resetConnection: 0x08,
  /** RESETCONNECTIONSKIPTRAN (0x10): reset the session but keep its transaction state. */
  resetConnectionSkipTran: 0x10,
});

/** Length of a packet header. */
export const TDS_HEADER_LENGTH = 8;
/** Largest packet size a client may negotiate. */
export const TDS_MAX_PACKET_SIZE = 32_767;
/** Smallest packet size a client may negotiate. */
export const TDS_MIN_PACKET_SIZE = 512;
/** Packet size used until LOGIN7 negotiates another one. */
export const TDS_DEFAULT_PACKET_SIZE = 4096;

/** TDS 7.4, the version the emulator acknowledges (as Azure SQL Database does). */
export const TDS_VERSION_7_4 = 0x74000004;

// ---------------------------------------------------------------------------------------------
// Packets and messages

/** One packet as read from the wire. */
export interface TdsPacket {
  /** The packet type, one of {@link TdsPacketType}. */
  readonly type: number;
  /** The status bits, see {@link TdsPacketStatus}. */
  readonly status: number;
  /** The bytes after the 8-byte header. */
  readonly payload: Buffer;
}

/** A whole message (one or more packets up to END OF MESSAGE). */
export interface TdsMessage {
  /** The packet type of the message, one of {@link TdsPacketType}. */
  readonly type: number;
  /** Status of the first packet (reset-connection bits live there). */
  readonly status: number;
  /** The payloads of its packets joined; empty for an attention or an ignored message. */
  readonly payload: Buffer;
  /** The client ended the message with the IGNORE bit (a request it canceled while sending). */
  readonly ignored?: boolean;
}

/**
 * Splits `payload` into packets of at most `packetSize` bytes, numbered from 1, the last one
 * flagged END OF MESSAGE. An empty payload gives one header-only packet.
 */
export function buildPackets(
  type: number,
  payload: Buffer,
  options: { packetSize?: number; spid?: number } = {},
): Buffer {
  const packetSize = options.packetSize ?? TDS_DEFAULT_PACKET_SIZE;
  const chunkSize = packetSize - TDS_HEADER_LENGTH;
  if (!Number.isInteger(chunkSize) || chunkSize <= 0) throw new RangeError(`Bad packet size ${packetSize}.`);
  const packets: Buffer[] = [];
  let offset = 0;
  let packetId = 1;
  do {
    const chunk = payload.subarray(offset, offset + chunkSize);
    offset += chunk.length;
    const header = Buffer.alloc(TDS_HEADER_LENGTH);
    header.writeUInt8(type, 0);
    header.writeUInt8(offset >= payload.length ? TdsPacketStatus.endOfMessage : 0, 1);
    header.writeUInt16BE(TDS_HEADER_LENGTH + chunk.length, 2);
    header.writeUInt16BE((options.spid ?? 0) & 0xffff, 4);
    header.writeUInt8(packetId & 0xff, 6);
    packets.push(header, chunk);
    packetId += 1;
  } while (offset < payload.length);
  return Buffer.concat(packets);
}

/**
 * Reassembles messages from a byte stream, with a bound on buffered bytes and on message size.
 * Packets of different types inside one message, or packets longer than the TDS maximum, throw.
 */
export class TdsMessageReader {
  #buffer: Buffer = Buffer.alloc(0);
  #parts: Buffer[] = [];
  #partsLength = 0;
  #type = -1;
  #status = 0;
  /** Largest message accepted; settable between messages (e.g. after login). */
  maxMessageLength: number;

  constructor(maxMessageLength: number) {
    this.maxMessageLength = maxMessageLength;
  }

  /** Appends bytes from the wire. */
  push(chunk: Buffer): void {
    const limit = this.maxMessageLength + TDS_MAX_PACKET_SIZE;
    if (this.#buffer.length + chunk.length > limit) {
      throw new TdsProtocolError("Too much unread data.");
    }
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
  }

  /** The next complete message, or undefined if more bytes are needed. */
  readMessage(): TdsMessage | undefined {
    for (;;) {
      if (this.#buffer.length < TDS_HEADER_LENGTH) return undefined;
      const type = this.#buffer.readUInt8(0);
      const status = this.#buffer.readUInt8(1);
      const length = this.#buffer.readUInt16BE(2);
      if (length < TDS_HEADER_LENGTH || length > TDS_MAX_PACKET_SIZE) {
        throw new TdsProtocolError(`Bad packet length ${length}.`);
      }
      if (this.#buffer.length < length) return undefined;
      const payload = this.#buffer.subarray(TDS_HEADER_LENGTH, length);
      this.#buffer = this.#buffer.subarray(length);
      if (this.#type === -1) {
        this.#type = type;
        this.#status = status;
      } else if (type !== this.#type && type !== TdsPacketType.attention) {
        throw new TdsProtocolError(`Packet type ${type} inside a message of type ${this.#type}.`);
      }
      if (type === TdsPacketType.attention && this.#type !== TdsPacketType.attention) {
        // An attention in the middle of a message cancels it.
        this.#reset();
        return { type, status, payload: Buffer.alloc(0) };
      }
      this.#partsLength += payload.length;
      if (this.#partsLength > this.maxMessageLength) {
        throw new TdsProtocolError(`Message longer than ${this.maxMessageLength} bytes.`);
      }
      this.#parts.push(payload);
      if (status & TdsPacketStatus.endOfMessage) {
        const ignored = Boolean(status & TdsPacketStatus.ignore);
        const message: TdsMessage = ignored
          ? { type: this.#type, status: this.#status, payload: Buffer.alloc(0), ignored }
          : { type: this.#type, status: this.#status, payload: Buffer.concat(this.#parts) };
        this.#reset();
        return message;
      }
    }
  }

  /** Bytes received but not yet consumed (e.g. raw TLS after the PRELOGIN handshake). */
  takeRemainder(): Buffer {
    const rest = this.#buffer;
    this.#buffer = Buffer.alloc(0);
    return rest;
  }

  /** True when a message is partly read. */
  get midMessage(): boolean {
    return this.#type !== -1 || this.#buffer.length > 0;
  }

  #reset(): void {
    this.#parts = [];
    this.#partsLength = 0;
    this.#type = -1;
    this.#status = 0;
  }
}

// ---------------------------------------------------------------------------------------------
// PRELOGIN

/** PRELOGIN option tokens (MS-TDS 2.2.6.5). */
export const PreloginOption = Object.freeze({
  /** VERSION (0x00): the sender's version, 4 bytes plus a 2-byte sub-build. */
  version: 0x00,
  /** ENCRYPTION (0x01): one byte of {@link Encryption}. */
  encryption: 0x01,
  /** INSTOPT (0x02): the instance name to validate; the server answers 0 when it matches. */
  instance: 0x02,
  /** THREADID (0x03): the client's thread id, for diagnostics; the server sends it empty. */
  threadId: 0x03,
  /** MARS (0x04): 1 to ask for Multiple Active Result Sets, 0 not to. */
  mars: 0x04,
  /** TRACEID (0x05): the client's connection and activity ids, for tracing. */
  traceId: 0x05,
  /** FEDAUTHREQUIRED (0x06): federated authentication (an Entra token) is supported or required. */
  fedAuthRequired: 0x06,
  /** NONCEOPT (0x07): a 32-byte nonce for the FEDAUTH exchange. */
  nonce: 0x07,
  /** TERMINATOR (0xFF): ends the option table. */
  terminator: 0xff,
});

/** PRELOGIN ENCRYPTION values. */
export const Encryption = Object.freeze({
  /** ENCRYPT_OFF (0x00): encryption available but off; only the LOGIN7 is encrypted. */
  off: 0x00,
  /** ENCRYPT_ON (0x01): encryption available and on; the whole connection is encrypted. */
  on: 0x01,
  /** ENCRYPT_NOT_SUP (0x02): encryption not available. */
  notSupported: 0x02,
  /** ENCRYPT_REQ (0x03): encryption required; the whole connection is encrypted. */
  required: 0x03,
});

/** What the emulator reads from a client's PRELOGIN. */
export interface PreloginRequest {
  /** ENCRYPTION byte; undefined when absent. */
  readonly encryption: number | undefined;
  /** FEDAUTHREQUIRED byte; undefined when absent. */
  readonly fedAuthRequired: number | undefined;
  /** Client version `major.minor.build.subbuild`, when sent. */
  readonly version: string | undefined;
}

/** Parses a PRELOGIN payload (client side). */
export function parsePrelogin(payload: Buffer): PreloginRequest {
  const options = readPreloginOptions(payload);
  const version = options.get(PreloginOption.version);
  return {
    encryption: options.get(PreloginOption.encryption)?.[0],
    fedAuthRequired: options.get(PreloginOption.fedAuthRequired)?.[0],
    version:
      version && version.length >= 6
        ? `${version[0]}.${version[1]}.${version.readUInt16BE(2)}.${version.readUInt16BE(4)}`
        : undefined,
  };
}

/** Reads the option table of a PRELOGIN payload into token -> data. */
export function readPreloginOptions(payload: Buffer): Map<number, Buffer> {
  const options = new Map<number, Buffer>();
  let offset = 0;
  for (;;) {
    if (offset >= payload.length) throw new TdsProtocolError("PRELOGIN without terminator.");
    const token = payload.readUInt8(offset);
    if (token === PreloginOption.terminator) return options;
    if (offset + 5 > payload.length) throw new TdsProtocolError("Truncated PRELOGIN option.");
    const dataOffset = payload.readUInt16BE(offset + 1);
    const dataLength = payload.readUInt16BE(offset + 3);
    if (dataOffset + dataLength > payload.length) throw new TdsProtocolError("PRELOGIN option out of range.");
    options.set(token, payload.subarray(dataOffset, dataOffset + dataLength));
    offset += 5;
    if (options.size > 32) throw new TdsProtocolError("Too many PRELOGIN options.");
  }
}

/** Builds a PRELOGIN response (server side). */
export function buildPreloginResponse(options: {
  /** Server version, e.g. `[12, 0, 2000, 0]`. */
  version: readonly [number, number, number, number];
  /** The ENCRYPTION byte to answer, one of {@link Encryption}. */
  encryption: number;
  /** Echo FEDAUTHREQUIRED (0x01) when the client sent that option. */
  fedAuthRequired?: boolean;
}): Buffer {
  const version = Buffer.alloc(6);
  version.writeUInt8(options.version[0], 0);
  version.writeUInt8(options.version[1], 1);
  version.writeUInt16BE(options.version[2], 2);
  version.writeUInt16BE(options.version[3], 4);
  const entries: Array<[number, Buffer]> = [
    [PreloginOption.version, version],
    [PreloginOption.encryption, Buffer.from([options.encryption])],
    [PreloginOption.instance, Buffer.from([0])],
    [PreloginOption.threadId, Buffer.alloc(0)],
    [PreloginOption.mars, Buffer.from([0])],
  ];
  if (options.fedAuthRequired) entries.push([PreloginOption.fedAuthRequired, Buffer.from([1])]);
  const header = Buffer.alloc(entries.length * 5 + 1);
  let dataOffset = header.length;
  entries.forEach(([token, data], index) => {
    header.writeUInt8(token, index * 5);
    header.writeUInt16BE(dataOffset, index * 5 + 1);
    header.writeUInt16BE(data.length, index * 5 + 3);
    dataOffset += data.length;
  });
  header.writeUInt8(PreloginOption.terminator, entries.length * 5);
  return Buffer.concat([header, ...entries.map(([, data]) => data)]);
}

// ---------------------------------------------------------------------------------------------
// LOGIN7 and FEDAUTH

/** FEDAUTH libraries (MS-TDS 2.2.6.4, FeatureExt FEDAUTH). */
export const FedAuthLibrary = Object.freeze({
  /** Security token (0x01): the access token is sent inside the LOGIN7 feature data. */
  securityToken: 0x01,
  /** ADAL/MSAL workflow (0x02): the server answers FEDAUTHINFO and the token follows in FEDAUTH_TOKEN. */
  adal: 0x02,
});

/** FeatureExt ids. */
export const FeatureId = Object.freeze({
  /** FEDAUTH (0x02): federated (Entra) authentication. */
  fedAuth: 0x02,
  /** UTF8_SUPPORT (0x0A): the client can take UTF-8 collations. */
  utf8Support: 0x0a,
  /** TERMINATOR (0xFF): ends the FeatureExt list. */
  terminator: 0xff,
});

/** The FEDAUTH feature extension of a LOGIN7. */
export type FedAuthFeature =
  | {
      /** Security token library: the token is in the LOGIN7 itself. */
      readonly library: "securitytoken";
      /** `fFedAuthEcho`: the client saw FEDAUTHREQUIRED in the server's PRELOGIN response. */
      readonly echo: boolean;
      /** The access token (decoded from UCS-2). */
      readonly token: string;
    }
  | {
      /** ADAL/MSAL library: the token follows in a FEDAUTH_TOKEN message after FEDAUTHINFO. */
      readonly library: "adal";
      /** `fFedAuthEcho`: the client saw FEDAUTHREQUIRED in the server's PRELOGIN response. */
      readonly echo: boolean;
      /** The workflow byte (e.g. 0x01 user name and password, 0x02 integrated). */
      readonly workflow: number;
    };

/** What the emulator reads from a LOGIN7. */
export interface Login7Request {
  /** The TDS version the client asks for, e.g. {@link TDS_VERSION_7_4}. */
  readonly tdsVersion: number;
  /** The packet size the client asks for (0 means the server's default). */
  readonly packetSize: number;
  /** The client machine's name. */
  readonly hostName: string;
  /** The SQL-authentication user name; empty for federated authentication. */
  readonly userName: string;
  /** True when a SQL-authentication password was sent (never decoded). */
  readonly hasPassword: boolean;
  /** The client application's name. */
  readonly appName: string;
  /** The server name the client connected to. */
  readonly serverName: string;
  /** The client's driver library, e.g. `Tedious`. */
  readonly libraryName: string;
  /** The initial language; empty for the server's default. */
  readonly language: string;
  /** The initial database; empty for the login's default. */
  readonly database: string;
  /** Integrated (SSPI/NTLM) authentication requested. */
  readonly sspi: boolean;
  /** The FEDAUTH feature extension; undefined when the client sent none. */
  readonly fedAuth: FedAuthFeature | undefined;
  /** The client sent the UTF8_SUPPORT feature with UTF-8 enabled. */
  readonly utf8Support: boolean;
  /** Feature ids the client sent, in order. */
  readonly features: readonly number[];
}

const LOGIN7_FIXED_LENGTH = 94;

/** Parses a LOGIN7 payload; offsets and lengths are checked against the payload. */
export function parseLogin7(payload: Buffer): Login7Request {
  if (payload.length < LOGIN7_FIXED_LENGTH) throw new TdsProtocolError("LOGIN7 too short.");
  const declared = payload.readUInt32LE(0);
  if (declared > payload.length || declared < LOGIN7_FIXED_LENGTH) {
    throw new TdsProtocolError("LOGIN7 length does not match.");
  }
  const data = payload.subarray(0, declared);
  const text = (at: number): string => {
    const offset = data.readUInt16LE(at);
    const chars = data.readUInt16LE(at + 2);
    if (chars === 0) return "";
    if (offset + chars * 2 > data.length) throw new TdsProtocolError("LOGIN7 field out of range.");
    return data.toString("utf16le", offset, offset + chars * 2);
  };
  const optionFlags2 = data.readUInt8(25);
  const optionFlags3 = data.readUInt8(27);
  const passwordChars = data.readUInt16LE(46);
  const sspiLength = data.readUInt16LE(80);
  let fedAuth: FedAuthFeature | undefined;
  let utf8Support = false;
  const features: number[] = [];
  const tdsVersion = data.readUInt32LE(4);
  if (optionFlags3 & 0x10) {
    const extensionOffset = data.readUInt16LE(56);
    const extensionLength = data.readUInt16LE(58);
    if (extensionLength < 4 || extensionOffset + 4 > data.length) {
      throw new TdsProtocolError("LOGIN7 extension out of range.");
    }
    let offset = data.readUInt32LE(extensionOffset);
    for (;;) {
      if (offset >= data.length) throw new TdsProtocolError("FeatureExt without terminator.");
      const featureId = data.readUInt8(offset);
      if (featureId === FeatureId.terminator) break;
      if (offset + 5 > data.length) throw new TdsProtocolError("Truncated FeatureExt.");
      const length = data.readUInt32LE(offset + 1);
      const start = offset + 5;
      if (start + length > data.length) throw new TdsProtocolError("FeatureExt out of range.");
      const feature = data.subarray(start, start + length);
      features.push(featureId);
      if (featureId === FeatureId.fedAuth) fedAuth = parseFedAuthFeature(feature);
      if (featureId === FeatureId.utf8Support) utf8Support = length > 0 && ((feature[0] ?? 0) & 1) === 1;
      offset = start + length;
      if (features.length > 64) throw new TdsProtocolError("Too many features.");
    }
  }
  return {
    tdsVersion,
    packetSize: data.readUInt32LE(8),
    hostName: text(36),
    userName: text(40),
    hasPassword: passwordChars > 0,
    appName: text(48),
    serverName: text(52),
    libraryName: text(60),
    language: text(64),
    database: text(68),
    sspi: Boolean(optionFlags2 & 0x80) || sspiLength > 0,
    fedAuth,
    utf8Support,
    features,
  };
}

function parseFedAuthFeature(feature: Buffer): FedAuthFeature {
  if (feature.length < 1) throw new TdsProtocolError("Empty FEDAUTH feature.");
  const options = feature.readUInt8(0);
  const library = options >> 1;
  const echo = Boolean(options & 1);
  if (library === FedAuthLibrary.securityToken) {
    if (feature.length < 5) throw new TdsProtocolError("Truncated FEDAUTH token.");
    const length = feature.readUInt32LE(1);
    if (5 + length > feature.length || length % 2 !== 0)
      throw new TdsProtocolError("FEDAUTH token out of range.");
    return { library: "securitytoken", echo, token: feature.toString("utf16le", 5, 5 + length) };
  }
  if (library === FedAuthLibrary.adal) {
    if (feature.length < 2) throw new TdsProtocolError("Truncated FEDAUTH ADAL workflow.");
    return { library: "adal", echo, workflow: feature.readUInt8(1) };
  }
  throw new TdsProtocolError(`Unsupported FEDAUTH library ${library}.`);
}

/** Parses a FEDAUTH_TOKEN message (type 0x08): `u32 dataLen, u32 tokenLen, UCS-2 token [, nonce]`. */
export function parseFedAuthToken(payload: Buffer): string {
  if (payload.length < 8) throw new TdsProtocolError("FEDAUTH_TOKEN too short.");
  const dataLength = payload.readUInt32LE(0);
  const tokenLength = payload.readUInt32LE(4);
  if (dataLength + 4 > payload.length || tokenLength + 4 > dataLength || tokenLength % 2 !== 0) {
    throw new TdsProtocolError("FEDAUTH_TOKEN length out of range.");
  }
  return payload.toString("utf16le", 8, 8 + tokenLength);
}

// ---------------------------------------------------------------------------------------------
// Requests after login

/** Skips ALL_HEADERS (TDS 7.2+) and returns the offset after them. */
function skipAllHeaders(payload: Buffer): number {
  if (payload.length < 4) throw new TdsProtocolError("Missing ALL_HEADERS.");
  const total = payload.readUInt32LE(0);
  if (total < 4 || total > payload.length) throw new TdsProtocolError("ALL_HEADERS out of range.");
  return total;
}

/** The SQL text of a SQL_BATCH message. */
export function parseSqlBatch(payload: Buffer): string {
  const offset = skipAllHeaders(payload);
  if ((payload.length - offset) % 2 !== 0) throw new TdsProtocolError("Odd SQL_BATCH length.");
  return payload.toString("utf16le", offset);
}

/** A decoded RPC parameter value (only the types the emulator needs). */
export type RpcValue = string | number | boolean | bigint | null;

/** An RPC request: procedure (by name or special id) and the parameters the emulator could decode. */
export interface RpcRequest {
  /** Special procedure id (10 = sp_executesql, 11 = sp_prepare, 13 = sp_prepexec, ...), if used. */
  readonly procId: number | undefined;
  /** Procedure name when sent by name (`sp_executesql` as well as user procedures). */
  readonly procName: string | undefined;
  /** The parameters decoded, in order, up to the first one of an unsupported type. */
  readonly parameters: ReadonlyArray<{
    /** The parameter name as sent, e.g. `@stmt`; empty for a positional parameter. */
    readonly name: string;
    /** The decoded value; `null` for SQL NULL. */
    readonly value: RpcValue;
  }>;
  /** True when decoding stopped at a parameter type the emulator does not read. */
  readonly truncated: boolean;
}

/** Well-known special procedure ids. */
export const SpecialProc = Object.freeze({
  /** `sp_cursoropen` (2). */
  cursorOpen: 2,
  /** `sp_executesql` (10): runs parameterized T-SQL. */
  executeSql: 10,
  /** `sp_prepare` (11): prepares a statement and returns its handle. */
  prepare: 11,
  /** `sp_execute` (12): runs a prepared statement by handle. */
  execute: 12,
  /** `sp_prepexec` (13): prepares and runs a statement in one call. */
  prepExec: 13,
  /** `sp_unprepare` (15): releases a prepared statement handle. */
  unprepare: 15,
});

/** Parses one RPC request (the first of a batch of RPCs). */
export function parseRpcRequest(payload: Buffer): RpcRequest {
  const cursor = new Cursor(payload, skipAllHeaders(payload));
  const nameLength = cursor.u16();
  let procId: number | undefined;
  let procName: string | undefined;
  if (nameLength === 0xffff) procId = cursor.u16();
  else procName = cursor.ucs2(nameLength);
  cursor.u16(); // option flags
  const parameters: Array<{ name: string; value: RpcValue }> = [];
  let truncated = false;
  while (cursor.remaining > 0) {
    const next = cursor.peekU8();
    if (next === 0x80 || next === 0xff || next === 0xfe) break; // batch separators
    const name = cursor.ucs2(cursor.u8());
    cursor.u8(); // status flags
    const value = readTypedValue(cursor);
    if (value === UNSUPPORTED) {
      truncated = true;
      break;
    }
    parameters.push({ name, value });
    if (parameters.length > 2100) throw new TdsProtocolError("Too many RPC parameters.");
  }
  return { procId, procName, parameters, truncated };
}

const UNSUPPORTED = Symbol("unsupported");

function readTypedValue(cursor: Cursor): RpcValue | typeof UNSUPPORTED {
  const type = cursor.u8();
  switch (type) {
    case 0xe7: // NVARCHAR
    case 0xef: // NCHAR
    case 0xa7: // VARCHAR
    case 0xaf: {
      // CHAR
      const maxLength = cursor.u16();
      cursor.bytes(5); // collation
      const unicode = type === 0xe7 || type === 0xef;
      const raw = maxLength === 0xffff ? cursor.plp() : cursor.usVarBytes();
      if (raw === null) return null;
      if (unicode && raw.length % 2 !== 0) throw new TdsProtocolError("Odd UCS-2 parameter length.");
      return raw.toString(unicode ? "utf16le" : "latin1");
    }
    case 0x26: {
      // INTN
      cursor.u8();
      const length = cursor.u8();
      if (length === 0) return null;
      const bytes = cursor.bytes(length);
      if (length === 1) return bytes.readUInt8(0);
      if (length === 2) return bytes.readInt16LE(0);
      if (length === 4) return bytes.readInt32LE(0);
      if (length === 8) return bytes.readBigInt64LE(0);
      throw new TdsProtocolError("Bad INTN length.");
    }
    case 0x68: {
      // BITN
      cursor.u8();
      const length = cursor.u8();
      if (length === 0) return null;
      return cursor.bytes(length)[0] !== 0;
    }
    case 0x6d: {
      // FLTN
      cursor.u8();
      const length = cursor.u8();
      if (length === 0) return null;
      const bytes = cursor.bytes(length);
      if (length === 4) return bytes.readFloatLE(0);
      if (length === 8) return bytes.readDoubleLE(0);
      throw new TdsProtocolError("Bad FLTN length.");
    }
    default:
      return UNSUPPORTED;
  }
}

/** A transaction manager request (type 0x0E). */
export interface TransactionManagerRequest {
  /** 5 begin, 7 commit, 8 rollback, 9 save, others unsupported. */
  readonly requestType: number;
  /** Transaction descriptor from ALL_HEADERS (8 bytes), zeros when none. */
  readonly descriptor: Buffer;
}

/** Parses a transaction manager request. */
export function parseTransactionManagerRequest(payload: Buffer): TransactionManagerRequest {
  const end = skipAllHeaders(payload);
  let descriptor = Buffer.alloc(8);
  let offset = 4;
  while (offset + 6 <= end) {
    const headerLength = payload.readUInt32LE(offset);
    const headerType = payload.readUInt16LE(offset + 4);
    if (headerLength < 6 || offset + headerLength > end) throw new TdsProtocolError("Bad header.");
    if (headerType === 2 && headerLength >= 14)
      descriptor = Buffer.from(payload.subarray(offset + 6, offset + 14));
    offset += headerLength;
  }
  if (end + 2 > payload.length) throw new TdsProtocolError("Truncated transaction request.");
  return { requestType: payload.readUInt16LE(end), descriptor };
}

class Cursor {
  readonly #buffer: Buffer;
  #offset: number;
  constructor(buffer: Buffer, offset: number) {
    this.#buffer = buffer;
    this.#offset = offset;
  }
  get remaining(): number {
    return this.#buffer.length - this.#offset;
  }
  #need(length: number): void {
    if (length < 0 || this.#offset + length > this.#buffer.length) {
      throw new TdsProtocolError("Truncated message.");
    }
  }
  peekU8(): number {
    this.#need(1);
    return this.#buffer.readUInt8(this.#offset);
  }
  u8(): number {
    const value = this.peekU8();
    this.#offset += 1;
    return value;
  }
  u16(): number {
    this.#need(2);
    const value = this.#buffer.readUInt16LE(this.#offset);
    this.#offset += 2;
    return value;
  }
  u32(): number {
    this.#need(4);
    const value = this.#buffer.readUInt32LE(this.#offset);
    this.#offset += 4;
    return value;
  }
  bytes(length: number): Buffer {
    this.#need(length);
    const value = this.#buffer.subarray(this.#offset, this.#offset + length);
    this.#offset += length;
    return value;
  }
  ucs2(chars: number): string {
    return this.bytes(chars * 2).toString("utf16le");
  }
  usVarBytes(): Buffer | null {
    const length = this.u16();
    return length === 0xffff ? null : this.bytes(length);
  }
  plp(): Buffer | null {
    const low = this.u32();
    const high = this.u32();
    if (low === 0xffffffff && high === 0xffffffff) return null;
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const length = this.u32();
      if (length === 0) break;
      chunks.push(this.bytes(length));
      total += length;
    }
    if (high !== 0xffffffff && high === 0 && low !== total)
      throw new TdsProtocolError("PLP length mismatch.");
    return Buffer.concat(chunks);
  }
}

// ---------------------------------------------------------------------------------------------
// Server tokens

/** Token types the emulator sends. */
export const TokenType = Object.freeze({
  /** COLMETADATA token (0x81): the columns of the result set whose rows follow. */
  colMetadata: 0x81,
  /** ERROR token (0xAA): an error message (number, state, class, text). */
  error: 0xaa,
  /** INFO token (0xAB): an informational message, e.g. after a database change. */
  info: 0xab,
  /** LOGINACK token (0xAD): the login succeeded; carries the TDS version and server name and version. */
  loginAck: 0xad,
  /** FEATUREEXTACK token (0xAE): the server's answers to the LOGIN7 feature extensions. */
  featureExtAck: 0xae,
  /** ROW token (0xD1): one row of the current result set. */
  row: 0xd1,
  /** ENVCHANGE token (0xE3): a session setting changed (database, packet size, transaction, ...). */
  envChange: 0xe3,
  /** FEDAUTHINFO token (0xEE): where to get a token (STS URL) and for which resource (SPN). */
  fedAuthInfo: 0xee,
  /** DONE token (0xFD): a SQL statement of a batch completed. */
  done: 0xfd,
  /** DONEPROC token (0xFE): a stored procedure (RPC) completed. */
  doneProc: 0xfe,
  /** DONEINPROC token (0xFF): a statement inside a stored procedure completed. */
  doneInProc: 0xff,
  /** RETURNSTATUS token (0x79): the return value of a stored procedure. */
  returnStatus: 0x79,
});

/** DONE status bits. */
export const DoneStatus = Object.freeze({
  /** DONE_FINAL (0x00): the last DONE of the response. */
  final: 0x00,
  /** DONE_MORE (0x01): more results follow in this response. */
  more: 0x01,
  /** DONE_ERROR (0x02): the statement failed. */
  error: 0x02,
  /** DONE_COUNT (0x10): the row count is valid. */
  count: 0x10,
  /** DONE_ATTN (0x20): acknowledges the client's attention (cancel). */
  attention: 0x20,
});

/** ENVCHANGE types. */
export const EnvChangeType = Object.freeze({
  /** Database (1): the current database changed (B_VARCHAR values). */
  database: 1,
  /** Language (2): the session language changed (B_VARCHAR values). */
  language: 2,
  /** Packet size (4): the negotiated packet size, as decimal text (B_VARCHAR values). */
  packetSize: 4,
  /** SQL collation (7): the default collation, 5 bytes (B_VARBYTE values). */
  collation: 7,
  /** Begin transaction (8): the new 8-byte transaction descriptor (B_VARBYTE values). */
  beginTransaction: 8,
  /** Commit transaction (9): the descriptor of the committed transaction is the old value. */
  commitTransaction: 9,
  /** Rollback transaction (10): the descriptor of the rolled-back transaction is the old value. */
  rollbackTransaction: 10,
  /** Reset connection acknowledgement (18): the session was reset as the client asked. */
  resetConnection: 18,
});

/** SQL_Latin1_General_CP1_CI_AS, the collation Azure SQL databases default to. */
export const DEFAULT_COLLATION = Buffer.from([0x09, 0x04, 0xd0, 0x00, 0x34]);

function bVarChar(value: string): Buffer {
  const text = Buffer.from(value, "utf16le");
  if (value.length > 255) throw new RangeError("B_VARCHAR longer than 255 characters.");
  return Buffer.concat([Buffer.from([value.length]), text]);
}

function usVarChar(value: string): Buffer {
  const text = Buffer.from(value, "utf16le");
  const length = Buffer.alloc(2);
  length.writeUInt16LE(value.length);
  return Buffer.concat([length, text]);
}

function bVarByte(value: Buffer): Buffer {
  return Buffer.concat([Buffer.from([value.length]), value]);
}

function withUsLength(type: number, body: Buffer): Buffer {
  const header = Buffer.alloc(3);
  header.writeUInt8(type, 0);
  header.writeUInt16LE(body.length, 1);
  return Buffer.concat([header, body]);
}

/**
 * Fields of an ERROR or INFO token.
 *
 * @inline
 */
export interface TdsMessageFields {
  /** The error number, e.g. 18456 (login failed). */
  readonly number: number;
  /** The error state, which tells apart causes sharing a number. */
  readonly state: number;
  /** The severity class, e.g. 14. */
  readonly class: number;
  /** The human-readable error message. */
  readonly message: string;
  /** The name of the server that reports it. Defaults to empty. */
  readonly serverName?: string;
  /** The stored procedure it occurred in. Defaults to empty. */
  readonly procName?: string;
  /** The line number it occurred on. Defaults to 1. */
  readonly lineNumber?: number;
}

/** Builds an ERROR (0xAA) token. */
export function buildErrorToken(fields: TdsMessageFields): Buffer {
  return buildMessageToken(TokenType.error, fields);
}

/** Builds an INFO (0xAB) token. */
export function buildInfoToken(fields: TdsMessageFields): Buffer {
  return buildMessageToken(TokenType.info, fields);
}

function buildMessageToken(type: number, fields: TdsMessageFields): Buffer {
  const head = Buffer.alloc(6);
  head.writeInt32LE(fields.number, 0);
  head.writeUInt8(fields.state, 4);
  head.writeUInt8(fields.class, 5);
  const line = Buffer.alloc(4);
  line.writeInt32LE(fields.lineNumber ?? 1);
  const message = fields.message.length > 4000 ? fields.message.slice(0, 4000) : fields.message;
  return withUsLength(
    type,
    Buffer.concat([
      head,
      usVarChar(message),
      bVarChar((fields.serverName ?? "").slice(0, 128)),
      bVarChar((fields.procName ?? "").slice(0, 128)),
      line,
    ]),
  );
}

/** Builds an ENVCHANGE with B_VARCHAR values (database, language, packet size). */
export function buildEnvChangeText(type: number, newValue: string, oldValue: string): Buffer {
  return withUsLength(
    TokenType.envChange,
    Buffer.concat([Buffer.from([type]), bVarChar(newValue), bVarChar(oldValue)]),
  );
}

/** Builds an ENVCHANGE with B_VARBYTE values (collation, transactions, reset). */
export function buildEnvChangeBytes(type: number, newValue: Buffer, oldValue: Buffer): Buffer {
  return withUsLength(
    TokenType.envChange,
    Buffer.concat([Buffer.from([type]), bVarByte(newValue), bVarByte(oldValue)]),
  );
}

/** Builds a LOGINACK token (interface SQL_TSQL). */
export function buildLoginAck(options: {
  tdsVersion: number;
  progName: string;
  version: readonly [number, number, number, number];
}): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt8(1, 0); // SQL_TSQL
  head.writeUInt32BE(options.tdsVersion, 1);
  const [major, minor, build] = options.version;
  const version = Buffer.from([major, minor, (build >> 8) & 0xff, build & 0xff]);
  return withUsLength(TokenType.loginAck, Buffer.concat([head, bVarChar(options.progName), version]));
}

/** Builds FEATUREEXTACK with the given features (id -> data) and the terminator. */
export function buildFeatureExtAck(features: ReadonlyArray<readonly [number, Buffer]>): Buffer {
  const parts: Buffer[] = [Buffer.from([TokenType.featureExtAck])];
  for (const [id, data] of features) {
    const head = Buffer.alloc(5);
    head.writeUInt8(id, 0);
    head.writeUInt32LE(data.length, 1);
    parts.push(head, data);
  }
  parts.push(Buffer.from([FeatureId.terminator]));
  return Buffer.concat(parts);
}

/** Builds FEDAUTHINFO (0xEE) with STSURL (0x01) and SPN (0x02). */
export function buildFedAuthInfo(options: { stsUrl: string; spn: string }): Buffer {
  const entries: Array<[number, Buffer]> = [
    [0x01, Buffer.from(options.stsUrl, "utf16le")],
    [0x02, Buffer.from(options.spn, "utf16le")],
  ];
  const table = Buffer.alloc(4 + entries.length * 9);
  table.writeUInt32LE(entries.length, 0);
  let dataOffset = table.length;
  entries.forEach(([id, data], index) => {
    const at = 4 + index * 9;
    table.writeUInt8(id, at);
    table.writeUInt32LE(data.length, at + 1);
    table.writeUInt32LE(dataOffset, at + 5);
    dataOffset += data.length;
  });
  const body = Buffer.concat([table, ...entries.map(([, data]) => data)]);
  const head = Buffer.alloc(5);
  head.writeUInt8(TokenType.fedAuthInfo, 0);
  head.writeUInt32LE(body.length, 1);
  return Buffer.concat([head, body]);
}

/** Builds DONE (0xFD), DONEPROC (0xFE) or DONEINPROC (0xFF). */
export function buildDone(
  options: { status?: number; curCmd?: number; rowCount?: number } = {},
  type: number = TokenType.done,
): Buffer {
  const token = Buffer.alloc(13);
  token.writeUInt8(type, 0);
  token.writeUInt16LE(options.status ?? 0, 1);
  token.writeUInt16LE(options.curCmd ?? 0, 3);
  token.writeBigUInt64LE(BigInt(options.rowCount ?? 0), 5);
  return token;
}

/** Builds RETURNSTATUS (0x79). */
export function buildReturnStatus(value: number): Buffer {
  const token = Buffer.alloc(5);
  token.writeUInt8(TokenType.returnStatus, 0);
  token.writeInt32LE(value, 1);
  return token;
}

/** A result column: `int` (INTN 4), `bigint` (INTN 8), `bit` (BITN) or `nvarchar` (NVARCHAR(n)). */
export interface ResultColumn {
  /** The column name (up to 128 characters are sent). */
  readonly name: string;
  /** The SQL type of the column. */
  readonly type: "int" | "bigint" | "bit" | "nvarchar";
  /** Whether COLMETADATA flags the column nullable. Defaults to false. */
  readonly nullable?: boolean;
  /** NVARCHAR length in characters (1..4000). Defaults to 128. */
  readonly length?: number;
}

/** A result cell value. */
export type ResultValue = number | bigint | boolean | string | null;

/** Builds COLMETADATA (0x81) for the given columns (TDS 7.2+ layout). */
export function buildColMetadata(columns: readonly ResultColumn[]): Buffer {
  const parts: Buffer[] = [Buffer.from([TokenType.colMetadata, columns.length & 0xff, columns.length >> 8])];
  for (const column of columns) {
    const head = Buffer.alloc(6);
    head.writeUInt32LE(0, 0); // user type
    head.writeUInt16LE(column.nullable ? 0x0001 : 0x0000, 4); // flags
    parts.push(head, typeInfo(column), bVarChar(column.name.slice(0, 128)));
  }
  return Buffer.concat(parts);
}

function typeInfo(column: ResultColumn): Buffer {
  switch (column.type) {
    case "int":
      return Buffer.from([0x26, 4]);
    case "bigint":
      return Buffer.from([0x26, 8]);
    case "bit":
      return Buffer.from([0x68, 1]);
    case "nvarchar": {
      const info = Buffer.alloc(3);
      info.writeUInt8(0xe7, 0);
      info.writeUInt16LE(Math.min(Math.max(column.length ?? 128, 1), 4000) * 2, 1);
      return Buffer.concat([info, DEFAULT_COLLATION]);
    }
  }
}

/** Builds one ROW (0xD1) for the columns of {@link buildColMetadata}. */
export function buildRow(columns: readonly ResultColumn[], values: readonly ResultValue[]): Buffer {
  const parts: Buffer[] = [Buffer.from([TokenType.row])];
  columns.forEach((column, index) => {
    const value = values[index] ?? null;
    switch (column.type) {
      case "int":
      case "bigint": {
        if (value === null) {
          parts.push(Buffer.from([0]));
          break;
        }
        const size = column.type === "int" ? 4 : 8;
        const cell = Buffer.alloc(1 + size);
        cell.writeUInt8(size, 0);
        if (size === 4) cell.writeInt32LE(Number(value), 1);
        else cell.writeBigInt64LE(BigInt(typeof value === "boolean" ? Number(value) : value), 1);
        parts.push(cell);
        break;
      }
      case "bit":
        parts.push(value === null ? Buffer.from([0]) : Buffer.from([1, value ? 1 : 0]));
        break;
      case "nvarchar": {
        if (value === null) {
          parts.push(Buffer.from([0xff, 0xff]));
          break;
        }
        const limit = Math.min(Math.max(column.length ?? 128, 1), 4000);
        const text = Buffer.from(String(value).slice(0, limit), "utf16le");
        const length = Buffer.alloc(2);
        length.writeUInt16LE(text.length);
        parts.push(length, text);
        break;
      }
    }
  });
  return Buffer.concat(parts);
}

// ---------------------------------------------------------------------------------------------
// TLS inside PRELOGIN (TDS 7.x)

/**
 * Whether `bytes` (TLS records the server wrote during the handshake) end a server flight, so they
 * can be sent as one PRELOGIN message: a ServerHelloDone in the plaintext handshake messages, a
 * ChangeCipherSpec followed by a complete handshake record (the encrypted Finished), or an alert.
 * Returns `containsChangeCipherSpec` so the caller knows the handshake is over on its side.
 */
export function tlsFlightState(bytes: Buffer): {
  /** The bytes end a server flight: send them now as one PRELOGIN message. */
  complete: boolean;
  /** The bytes include a ChangeCipherSpec record: the server's side of the handshake is done. */
  containsChangeCipherSpec: boolean;
} {
  let offset = 0;
  let changeCipherSpec = false;
  let handshake = Buffer.alloc(0);
  while (offset + 5 <= bytes.length) {
    const contentType = bytes.readUInt8(offset);
    const length = bytes.readUInt16BE(offset + 3);
    if (offset + 5 + length > bytes.length) break;
    const fragment = bytes.subarray(offset + 5, offset + 5 + length);
    offset += 5 + length;
    if (contentType === 21) return { complete: true, containsChangeCipherSpec: changeCipherSpec };
    if (contentType === 20) {
      changeCipherSpec = true;
      continue;
    }
    if (contentType !== 22) continue;
    if (changeCipherSpec) return { complete: true, containsChangeCipherSpec: true };
    handshake = Buffer.concat([handshake, fragment]);
    let at = 0;
    while (at + 4 <= handshake.length) {
      const messageType = handshake.readUInt8(at);
      const messageLength = handshake.readUIntBE(at + 1, 3);
      if (messageType === 14) return { complete: true, containsChangeCipherSpec: false };
      at += 4 + messageLength;
    }
  }
  return { complete: false, containsChangeCipherSpec: changeCipherSpec };
}
