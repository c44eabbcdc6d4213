/**
 * The client side of a TDS login, as `entra-db proxy` performs it toward Azure SQL for a local
 * client: the PRELOGIN request, the local client's LOGIN7 read in full (its SQL password
 * de-obfuscated) and rebuilt with the FEDAUTH feature extension carrying an access token, and the
 * server's login response split into tokens so the proxy can tell LOGINACK from ERROR, follow a
 * routing redirect and drop the FEDAUTH acknowledgement the local client never asked for.
 *
 * Every parser throws {@link TdsProtocolError} on malformed input; nothing here does I/O.
 */

import {
  Encryption,
  FeatureId,
  FedAuthLibrary,
  PreloginOption,
  TDS_VERSION_7_4,
  TdsProtocolError,
  TokenType,
} from "./tds-packets.js";

// ---------------------------------------------------------------------------------------------
// PRELOGIN

/** Options of {@link buildPreloginRequest}. */
export interface PreloginRequestOptions {
  /** Client version `[major, minor, build, subbuild]`. Defaults to `[0, 0, 0, 0]`. */
  readonly version?: readonly [number, number, number, number];
  /**
   * ENCRYPTION byte. Defaults to {@link Encryption}`.notSupported`, which is what TDS 8 (strict)
   * clients send inside the TLS session they opened first (SqlClient and tedious both do).
   */
  readonly encryption?: number;
  /** THREADID. Defaults to 0. */
  readonly threadId?: number;
  /** Ask for MARS. Defaults to false. */
  readonly mars?: boolean;
  /** Send FEDAUTHREQUIRED = 1, so the server tells whether it wants fFedAuthEcho. Defaults to true. */
  readonly fedAuthRequired?: boolean;
}

/**
 * Builds a client PRELOGIN payload: VERSION, ENCRYPTION, INSTOPT (the default instance), THREADID,
 * MARS and FEDAUTHREQUIRED, in that order (as tedious and SqlClient send them).
 *
 * @example
 * buildPackets(TdsPacketType.prelogin, buildPreloginRequest({ version: [19, 2, 2, 0] }));
 */
export function buildPreloginRequest(options: PreloginRequestOptions = {}): Buffer {
  const [major, minor, build, subbuild] = options.version ?? [0, 0, 0, 0];
  const version = Buffer.alloc(6);
  version.writeUInt8(major & 0xff, 0);
  version.writeUInt8(minor & 0xff, 1);
  version.writeUInt16BE(build & 0xffff, 2);
  version.writeUInt16BE(subbuild & 0xffff, 4);
  const threadId = Buffer.alloc(4);
  threadId.writeUInt32BE((options.threadId ?? 0) >>> 0);
  const entries: Array<[number, Buffer]> = [
    [PreloginOption.version, version],
    [PreloginOption.encryption, Buffer.from([options.encryption ?? Encryption.notSupported])],
    [PreloginOption.instance, Buffer.from([0])],
    [PreloginOption.threadId, threadId],
    [PreloginOption.mars, Buffer.from([options.mars ? 1 : 0])],
  ];
  if (options.fedAuthRequired ?? true) entries.push([PreloginOption.fedAuthRequired, Buffer.from([1])]);
  const table = Buffer.alloc(entries.length * 5 + 1);
  let dataOffset = table.length;
  entries.forEach(([token, data], index) => {
    table.writeUInt8(token, index * 5);
    table.writeUInt16BE(dataOffset, index * 5 + 1);
    table.writeUInt16BE(data.length, index * 5 + 3);
    dataOffset += data.length;
  });
  table.writeUInt8(PreloginOption.terminator, entries.length * 5);
  return Buffer.concat([table, ...entries.map(([, data]) => data)]);
}

// ---------------------------------------------------------------------------------------------
// LOGIN7

/** LOGIN7 OptionFlags2: integrated security (SSPI). */
const OPTION_FLAGS2_INTEGRATED_SECURITY = 0x80;
/** LOGIN7 OptionFlags3: change password, and the FeatureExt extension is present. */
const OPTION_FLAGS3_CHANGE_PASSWORD = 0x01;
const OPTION_FLAGS3_EXTENSION = 0x10;
const LOGIN7_FIXED_LENGTH = 94;

/** One FeatureExt entry of a LOGIN7, as sent. */
export interface Login7Feature {
  /** The FeatureId, e.g. {@link FeatureId}`.utf8Support`. */
  readonly id: number;
  /** The feature data, as sent. */
  readonly data: Buffer;
}

/**
 * Everything of a client's LOGIN7 a proxy needs to log in again elsewhere: the fixed fields, the
 * strings, the SQL password (de-obfuscated), and the FeatureExt entries as sent.
 */
export interface Login7Fields {
  /** TDSVersion, e.g. {@link TDS_VERSION_7_4}. */
  readonly tdsVersion: number;
  /** The packet size the client asks for (0: the server's default). */
  readonly packetSize: number;
  /** ClientProgVer: the client library's version. */
  readonly clientProgVer: number;
  /** ClientPID. */
  readonly clientPid: number;
  /** ConnectionID. */
  readonly connectionId: number;
  /** OptionFlags1 (byte order, character set, float format, dump/load, USE DB, init DB, SET LANG). */
  readonly optionFlags1: number;
  /** OptionFlags2 (init language, ODBC, user type, integrated security). */
  readonly optionFlags2: number;
  /** TypeFlags (SQL type, OLE DB, read-only intent). */
  readonly typeFlags: number;
  /** OptionFlags3 (change password, binary XML, user instance, unknown collation, extension). */
  readonly optionFlags3: number;
  /** ClientTimeZone, minutes. */
  readonly clientTimeZone: number;
  /** ClientLCID. */
  readonly clientLcid: number;
  /** HostName: the client machine. */
  readonly hostName: string;
  /** UserName (SQL authentication). */
  readonly userName: string;
  /** Password (SQL authentication), decoded from TDS's obfuscation. */
  readonly password: string;
  /** AppName. */
  readonly appName: string;
  /** ServerName: the server the client thinks it connects to. */
  readonly serverName: string;
  /** CltIntName: the client library's name. */
  readonly libraryName: string;
  /** Language. */
  readonly language: string;
  /** Database: the initial database; empty for the login's default. */
  readonly database: string;
  /** ClientID: 6 bytes (a MAC address, or zeros). */
  readonly clientId: Buffer;
  /** True when the client asked for integrated authentication (SSPI). */
  readonly sspi: boolean;
  /** The FeatureExt entries in the order sent; empty without the extension. */
  readonly features: readonly Login7Feature[];
}

/**
 * Decodes a LOGIN7 password: each byte was nibble-swapped then XORed with 0xA5 (MS-TDS 2.2.6.4).
 *
 * @example
 * decodeLogin7Password(Buffer.from([0xb3, 0xa5, 0x83, 0xa5])); // "ab"
 */
export function decodeLogin7Password(obfuscated: Buffer): string {
  if (obfuscated.length % 2 !== 0) throw new TdsProtocolError("Odd LOGIN7 password length.");
  const plain = Buffer.alloc(obfuscated.length);
  for (let index = 0; index < obfuscated.length; index += 1) {
    const byte = (obfuscated[index] ?? 0) ^ 0xa5;
    plain[index] = ((byte & 0x0f) << 4) | (byte >> 4);
  }
  return plain.toString("utf16le");
}

/**
 * Reads a client's LOGIN7 payload in full; offsets and lengths are checked against the payload.
 *
 * @example
 * const login = readLogin7(message.payload); // { userName: "app", password: "secret", database: "db", ... }
 */
export function readLogin7(payload: Buffer): Login7Fields {
  if (payload.length < LOGIN7_FIXED_LENGTH) throw new TdsProtocolError("LOGIN7 too short.");
  const declared = payload.readUInt32LE(0);
  if (declared > payload.length || declared < LOGIN7_FIXED_LENGTH) {
    throw new TdsProtocolError("LOGIN7 length does not match.");
  }
  const data = payload.subarray(0, declared);
  const bytes = (at: number, unit: number): Buffer => {
    const offset = data.readUInt16LE(at);
    const length = data.readUInt16LE(at + 2) * unit;
    if (length === 0) return Buffer.alloc(0);
    if (offset + length > data.length) throw new TdsProtocolError("LOGIN7 field out of range.");
    return data.subarray(offset, offset + length);
  };
  const text = (at: number): string => bytes(at, 2).toString("utf16le");
  const optionFlags2 = data.readUInt8(25);
  const optionFlags3 = data.readUInt8(27);
  const tdsVersion = data.readUInt32LE(4);
  const features: Login7Feature[] = [];
  const extensionOffset = data.readUInt16LE(56);
  const extensionLength = data.readUInt16LE(58);
  // tedious sets fExtension whatever the version; before 7.4 the field is unused and empty.
  if (optionFlags3 & OPTION_FLAGS3_EXTENSION && extensionLength > 0) {
    if (extensionLength < 4 || extensionOffset + 4 > data.length) {
      throw new TdsProtocolError("LOGIN7 extension out of range.");
    }
    let offset = data.readUInt32LE(extensionOffset);
    for (;;) {
      if (offset >= data.length) throw new TdsProtocolError("FeatureExt without terminator.");
      const id = data.readUInt8(offset);
      if (id === FeatureId.terminator) break;
      if (offset + 5 > data.length) throw new TdsProtocolError("Truncated FeatureExt.");
      const length = data.readUInt32LE(offset + 1);
      const start = offset + 5;
      if (start + length > data.length) throw new TdsProtocolError("FeatureExt out of range.");
      features.push({ id, data: Buffer.from(data.subarray(start, start + length)) });
      offset = start + length;
      if (features.length > 64) throw new TdsProtocolError("Too many features.");
    }
  }
  return {
    tdsVersion,
    packetSize: data.readUInt32LE(8),
    clientProgVer: data.readUInt32LE(12),
    clientPid: data.readUInt32LE(16),
    connectionId: data.readUInt32LE(20),
    optionFlags1: data.readUInt8(24),
    optionFlags2,
    typeFlags: data.readUInt8(26),
    optionFlags3,
    clientTimeZone: data.readInt32LE(28),
    clientLcid: data.readUInt32LE(32),
    hostName: text(36),
    userName: text(40),
    password: decodeLogin7Password(bytes(44, 2)),
    appName: text(48),
    serverName: text(52),
    libraryName: text(60),
    language: text(64),
    database: text(68),
    clientId: Buffer.from(data.subarray(72, 78)),
    sspi: Boolean(optionFlags2 & OPTION_FLAGS2_INTEGRATED_SECURITY) || data.readUInt16LE(80) > 0,
    features,
  };
}

/** Options of {@link buildFedAuthLogin7}. */
export interface FedAuthLogin7Options {
  /** The access token, sent UTF-16LE in the FEDAUTH feature (library SECURITYTOKEN). */
  readonly token: string;
  /**
   * fFedAuthEcho: true when the server's PRELOGIN response carried FEDAUTHREQUIRED = 1 (the client
   * echoes what the server said, MS-TDS 2.2.6.4).
   */
  readonly fedAuthEcho: boolean;
  /** ServerName to send instead of the client's (the upstream host the proxy connects to). */
  readonly serverName?: string;
  /** Database to send instead of the client's. */
  readonly database?: string;
}

/**
 * Builds the LOGIN7 payload of a Microsoft Entra login from a client's LOGIN7: its TDS version
 * (7.4 at least, which FeatureExt needs), packet size, ClientProgVer, PID, option and type flags,
 * time zone, LCID, ClientID, host, app, server, library, language and database are kept; user
 * name, password, SSPI, attach-file and change-password are cleared; the FEDAUTH feature (library
 * SECURITYTOKEN, the token UTF-16LE) comes first, then the client's other features as sent. The
 * layout is tedious 19's (variable data in field order, FeatureExt last).
 *
 * @example
 * buildPackets(TdsPacketType.login7, buildFedAuthLogin7(readLogin7(payload), { token, fedAuthEcho: true }));
 */
export function buildFedAuthLogin7(login: Login7Fields, options: FedAuthLogin7Options): Buffer {
  const fixed = Buffer.alloc(LOGIN7_FIXED_LENGTH);
  const parts: Buffer[] = [fixed];
  let dataOffset = LOGIN7_FIXED_LENGTH;
  const field = (at: number, value: Buffer, units: number) => {
    fixed.writeUInt16LE(dataOffset, at);
    fixed.writeUInt16LE(units, at + 2);
    parts.push(value);
    dataOffset += value.length;
  };
  const textField = (at: number, value: string) => {
    const encoded = Buffer.from(value, "utf16le");
    if (encoded.length / 2 > 0xffff) throw new RangeError("LOGIN7 field too long.");
    field(at, encoded, encoded.length / 2);
  };
  fixed.writeUInt32LE(featureExtVersion(login.tdsVersion), 4);
  fixed.writeUInt32LE(login.packetSize >>> 0, 8);
  fixed.writeUInt32LE(login.clientProgVer >>> 0, 12);
  fixed.writeUInt32LE(login.clientPid >>> 0, 16);
  fixed.writeUInt32LE(login.connectionId >>> 0, 20);
  fixed.writeUInt8(login.optionFlags1 & 0xff, 24);
  fixed.writeUInt8(login.optionFlags2 & ~OPTION_FLAGS2_INTEGRATED_SECURITY & 0xff, 25);
  fixed.writeUInt8(login.typeFlags & 0xff, 26);
  fixed.writeUInt8(
    ((login.optionFlags3 & ~OPTION_FLAGS3_CHANGE_PASSWORD) | OPTION_FLAGS3_EXTENSION) & 0xff,
    27,
  );
  fixed.writeInt32LE(login.clientTimeZone | 0, 28);
  fixed.writeUInt32LE(login.clientLcid >>> 0, 32);
  textField(36, login.hostName);
  textField(40, "");
  textField(44, "");
  textField(48, login.appName);
  textField(52, options.serverName ?? login.serverName);
  const extensionPointer = Buffer.alloc(4);
  field(56, extensionPointer, 4);
  textField(60, login.libraryName);
  textField(64, login.language);
  textField(68, options.database ?? login.database);
  login.clientId.copy(fixed, 72, 0, 6);
  field(78, Buffer.alloc(0), 0); // SSPI
  textField(82, ""); // AtchDBFile
  textField(86, ""); // ChangePassword
  fixed.writeUInt32LE(0, 90); // cbSSPILong
  extensionPointer.writeUInt32LE(dataOffset, 0);
  parts.push(
    buildFeatureExt(options),
    ...login.features.filter((feature) => feature.id !== FeatureId.fedAuth).map(featureEntry),
  );
  parts.push(Buffer.from([FeatureId.terminator]));
  const payload = Buffer.concat(parts);
  payload.writeUInt32LE(payload.length, 0);
  return payload;
}

/** TDS 7.0 to 7.3 become 7.4, the first with FeatureExt; 7.4 and TDS 8 (0x08000000) stay. */
function featureExtVersion(version: number): number {
  const major = version >>> 24;
  return major >= 0x70 && major <= 0x73 ? TDS_VERSION_7_4 : version >>> 0;
}

function buildFeatureExt(options: FedAuthLogin7Options): Buffer {
  const token = Buffer.from(options.token, "utf16le");
  const data = Buffer.alloc(5);
  data.writeUInt8((FedAuthLibrary.securityToken << 1) | (options.fedAuthEcho ? 1 : 0), 0);
  data.writeUInt32LE(token.length, 1);
  return featureEntry({ id: FeatureId.fedAuth, data: Buffer.concat([data, token]) });
}

function featureEntry(feature: Login7Feature): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt8(feature.id, 0);
  head.writeUInt32LE(feature.data.length, 1);
  return Buffer.concat([head, feature.data]);
}

// ---------------------------------------------------------------------------------------------
// Login response

/** ENVCHANGE type 20: the client must reconnect to another server (Azure SQL's redirect policy). */
const ENVCHANGE_ROUTING = 20;
/** ENVCHANGE type 4: the packet size the server chose. */
const ENVCHANGE_PACKET_SIZE = 4;
/** FEDAUTHINFO and SESSIONSTATE carry a 4-byte length. */
const SESSION_STATE = 0xe4;

/** One token of a server response, as bytes. */
export interface TdsResponseToken {
  /** The token type, e.g. {@link TokenType}`.loginAck`. */
  readonly type: number;
  /** The whole token, type byte included, as the server sent it. */
  readonly bytes: Buffer;
}

/** An ERROR or INFO token's fields. */
export interface TdsServerMessage {
  /** The error number, e.g. 18456. */
  readonly number: number;
  /** The state. */
  readonly state: number;
  /** The severity class. */
  readonly class: number;
  /** The message text. */
  readonly message: string;
  /** The server that reports it. */
  readonly serverName: string;
  /** The procedure it occurred in. */
  readonly procName: string;
  /** The line number. */
  readonly lineNumber: number;
}

/** What a login response says, besides its tokens. */
export interface TdsLoginResponse {
  /** Every token in order, as sent. */
  readonly tokens: readonly TdsResponseToken[];
  /** The LOGINACK: the login succeeded (undefined when refused). */
  readonly loginAck:
    | {
        /** The TDS version the server speaks on this connection. */
        readonly tdsVersion: number;
        /** The server's program name, e.g. `Microsoft SQL Server`. */
        readonly progName: string;
        /** The server's version `major.minor.build`. */
        readonly version: string;
      }
    | undefined;
  /** ERROR tokens, in order. */
  readonly errors: readonly TdsServerMessage[];
  /** The server redirects the client (ENVCHANGE routing): log in there instead. */
  readonly routing:
    | {
        /** The server to connect to (without the `\instance` suffix). */
        readonly host: string;
        /** Its port. */
        readonly port: number;
        /** The server name as sent (`host` or `host\instance`), for LOGIN7's ServerName. */
        readonly server: string;
      }
    | undefined;
  /** The packet size the server chose (ENVCHANGE packet size), when it said so. */
  readonly packetSize: number | undefined;
  /** The features acknowledged in FEATUREEXTACK: id to data. */
  readonly acknowledgedFeatures: ReadonlyMap<number, Buffer>;
}

/**
 * Splits a login response (the TABULAR_RESULT payload answering LOGIN7) into its tokens (ENVCHANGE,
 * INFO, ERROR, LOGINACK, FEATUREEXTACK, FEDAUTHINFO, SESSIONSTATE, SSPI, DONE) and reads what a
 * client decides on: LOGINACK, the ERRORs, a routing redirect, the packet size and the
 * acknowledged features. Throws {@link TdsProtocolError} on a truncated or unknown token.
 *
 * @example
 * const response = parseLoginResponse(message.payload);
 * if (!response.loginAck) throw new Error(response.errors[0]?.message);
 */
export function parseLoginResponse(payload: Buffer): TdsLoginResponse {
  const tokens: TdsResponseToken[] = [];
  const errors: TdsServerMessage[] = [];
  const acknowledgedFeatures = new Map<number, Buffer>();
  let loginAck: TdsLoginResponse["loginAck"];
  let routing: TdsLoginResponse["routing"];
  let packetSize: number | undefined;
  let offset = 0;
  while (offset < payload.length) {
    const type = payload.readUInt8(offset);
    const end = tokenEnd(payload, offset);
    const bytes = payload.subarray(offset, end);
    tokens.push({ type, bytes });
    switch (type) {
      case TokenType.error:
        errors.push(readServerMessage(bytes.subarray(3)));
        break;
      case TokenType.loginAck:
        loginAck = readLoginAck(bytes.subarray(3));
        break;
      case TokenType.envChange: {
        const body = bytes.subarray(3);
        if (body.length < 1) throw new TdsProtocolError("Empty ENVCHANGE.");
        const changeType = body.readUInt8(0);
        if (changeType === ENVCHANGE_ROUTING) routing = readRouting(body.subarray(1));
        if (changeType === ENVCHANGE_PACKET_SIZE) {
          const size = Number(readBVarChar(body, 1).value);
          if (Number.isInteger(size) && size > 0) packetSize = size;
        }
        break;
      }
      case TokenType.featureExtAck:
        for (const feature of featureAckEntries(bytes)) acknowledgedFeatures.set(feature.id, feature.data);
        break;
    }
    offset = end;
  }
  return { tokens, loginAck, errors, routing, packetSize, acknowledgedFeatures };
}

/**
 * The login response for a client that did not ask for FEDAUTH: the FEDAUTH entry is removed from
 * FEATUREEXTACK (and the token dropped when nothing else is left in it, since tedious refuses an
 * empty acknowledgement as one "for unknown feature" and an unrequested FEDAUTH one as "Did not
 * request Active Directory authentication"); every other token is kept byte for byte.
 *
 * @example
 * client.write(buildPackets(TdsPacketType.tabularResult, withoutFedAuthAck(response)));
 */
export function withoutFedAuthAck(response: TdsLoginResponse): Buffer {
  const parts: Buffer[] = [];
  for (const token of response.tokens) {
    if (token.type !== TokenType.featureExtAck) {
      parts.push(token.bytes);
      continue;
    }
    const entries = featureAckEntries(token.bytes);
    const kept = entries.filter((entry) => entry.id !== FeatureId.fedAuth);
    if (kept.length === entries.length) {
      parts.push(token.bytes);
      continue;
    }
    if (kept.length === 0) continue;
    parts.push(
      Buffer.from([TokenType.featureExtAck]),
      ...kept.map(featureEntry),
      Buffer.from([FeatureId.terminator]),
    );
  }
  return Buffer.concat(parts);
}

/** Where the token starting at `offset` ends (MS-TDS 2.2.4.2: its length rule by type). */
function tokenEnd(payload: Buffer, offset: number): number {
  const type = payload.readUInt8(offset);
  const need = (end: number): number => {
    if (end > payload.length) throw new TdsProtocolError(`Truncated token 0x${type.toString(16)}.`);
    return end;
  };
  switch (type) {
    case TokenType.featureExtAck: {
      let at = offset + 1;
      for (;;) {
        need(at + 1);
        if (payload.readUInt8(at) === FeatureId.terminator) return at + 1;
        need(at + 5);
        at = need(at + 5 + payload.readUInt32LE(at + 1));
      }
    }
    case TokenType.fedAuthInfo:
    case SESSION_STATE:
      need(offset + 5);
      return need(offset + 5 + payload.readUInt32LE(offset + 1));
    case TokenType.done:
    case TokenType.doneProc:
    case TokenType.doneInProc:
      return need(offset + 13);
  }
  switch (type & 0x30) {
    case 0x20:
      // Variable length with a 2-byte length: ENVCHANGE, ERROR, INFO, LOGINACK, SSPI, ORDER.
      need(offset + 3);
      return need(offset + 3 + payload.readUInt16LE(offset + 1));
    case 0x30:
      // Fixed length, by bits 2-3: 1, 2, 4 or 8 bytes (RETURNSTATUS is 4).
      return need(offset + 1 + (1 << ((type >> 2) & 0x03)));
    default:
      throw new TdsProtocolError(`Unexpected token 0x${type.toString(16)} in a login response.`);
  }
}

function featureAckEntries(token: Buffer): Login7Feature[] {
  const entries: Login7Feature[] = [];
  let at = 1;
  while (token.readUInt8(at) !== FeatureId.terminator) {
    const length = token.readUInt32LE(at + 1);
    entries.push({ id: token.readUInt8(at), data: token.subarray(at + 5, at + 5 + length) });
    at += 5 + length;
  }
  return entries;
}

function readServerMessage(body: Buffer): TdsServerMessage {
  if (body.length < 8) throw new TdsProtocolError("Truncated ERROR token.");
  const messageChars = body.readUInt16LE(6);
  const messageEnd = 8 + messageChars * 2;
  if (messageEnd > body.length) throw new TdsProtocolError("Truncated ERROR token.");
  const server = readBVarChar(body, messageEnd);
  const proc = readBVarChar(body, server.end);
  if (proc.end + 4 > body.length) throw new TdsProtocolError("Truncated ERROR token.");
  return {
    number: body.readInt32LE(0),
    state: body.readUInt8(4),
    class: body.readUInt8(5),
    message: body.toString("utf16le", 8, messageEnd),
    serverName: server.value,
    procName: proc.value,
    lineNumber: body.readInt32LE(proc.end),
  };
}

function readLoginAck(body: Buffer): NonNullable<TdsLoginResponse["loginAck"]> {
  if (body.length < 6) throw new TdsProtocolError("Truncated LOGINACK token.");
  const progName = readBVarChar(body, 5);
  if (progName.end + 4 > body.length) throw new TdsProtocolError("Truncated LOGINACK token.");
  const at = progName.end;
  return {
    tdsVersion: body.readUInt32BE(1),
    progName: progName.value,
    version: `${body.readUInt8(at)}.${body.readUInt8(at + 1)}.${body.readUInt16BE(at + 2)}`,
  };
}

/** ENVCHANGE routing value: u16 length, protocol (0 = TCP), u16 port, US_VARCHAR server. */
function readRouting(values: Buffer): NonNullable<TdsLoginResponse["routing"]> {
  if (values.length < 7) throw new TdsProtocolError("Truncated routing ENVCHANGE.");
  const protocol = values.readUInt8(2);
  const port = values.readUInt16LE(3);
  const chars = values.readUInt16LE(5);
  if (7 + chars * 2 > values.length) throw new TdsProtocolError("Truncated routing ENVCHANGE.");
  if (protocol !== 0) throw new TdsProtocolError(`Unsupported routing protocol ${protocol}.`);
  const server = values.toString("utf16le", 7, 7 + chars * 2);
  const host = server.split("\\")[0] ?? "";
  if (!host || port === 0) throw new TdsProtocolError("Routing ENVCHANGE without a server.");
  return { host, port, server };
}

function readBVarChar(body: Buffer, offset: number): { value: string; end: number } {
  if (offset >= body.length) throw new TdsProtocolError("Truncated B_VARCHAR.");
  const end = offset + 1 + body.readUInt8(offset) * 2;
  if (end > body.length) throw new TdsProtocolError("Truncated B_VARCHAR.");
  return { value: body.toString("utf16le", offset + 1, end), end };
}
