import { constants, createHash, generateKeyPairSync, privateDecrypt } from "node:crypto";
import { describe, expect, test } from "vitest";
import {
  buildAuthSwitchRequest,
  buildClearPasswordSwitch,
  buildErrorPacket,
  buildHandshake,
  buildHandshakeResponse,
  buildOkPacket,
  buildPacket,
  buildSslRequest,
  computeCachingSha2Response,
  computeNativePasswordResponse,
  encodeLengthEncodedInteger,
  encryptPasswordWithPublicKey,
  MysqlCapability,
  MysqlPacketReader,
  MysqlProtocolError,
  parseAuthPacket,
  parseClearPassword,
  parseClientFirstPacket,
  parseErrorPacket,
  parseHandshake,
  parseOkPacket,
} from "./mysql-packets.js";

const hex = (text: string) => Buffer.from(text.replace(/\s+/g, ""), "hex");

/** MySQL 5.5 greeting from the protocol documentation (no PLUGIN_AUTH, CLIENT_MYSQL set). */
const MYSQL_55_GREETING = hex(`
  0a 35 2e 35 2e 32 2d 6d 32 00 0b 00 00 00 64 76 48 40 49 2d 43 4a 00 ff f7 08 02 00
  00 00 00 00 00 00 00 00 00 00 00 00 00 2a 34 64 7c 63 5a 77 6b 34 5e 5d 3a 00`);

/** MariaDB 10.11 greeting captured from the local server: CLIENT_MYSQL clear, extended capabilities 0x1d. */
const MARIADB_GREETING = hex(`
  0a 352e352e352d31302e31312e31392d4d6172696144422d302b64656231327531 00 88000000
  5b394944576b335c 00 fef7 2d 0200 ff81 15 000000000000 1d000000
  56787c243d45242322222223 00 6d7973716c5f6e61746976655f70617373776f7264 00`);

/** HandshakeResponse41 from the protocol documentation: user `pam`, database `test`, native password. */
const DOC_HANDSHAKE_RESPONSE = hex(`
  8d a6 0f 00 00 00 00 01 08 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
  70 61 6d 00 14 ab 09 ee f6 bc b1 32 3e 61 14 38 65 c0 99 1d 95 7d 75 d4 47 74 65 73 74 00
  6d 79 73 71 6c 5f 6e 61 74 69 76 65 5f 70 61 73 73 77 6f 72 64 00`);

describe("packet framing", () => {
  test("a packet is a 3-byte little-endian length, a sequence id and the payload", () => {
    expect(buildPacket(3, Buffer.from("abc"))).toEqual(hex("030000 03 616263"));
    expect(buildPacket(256, Buffer.alloc(0))).toEqual(hex("000000 00"));
  });

  test("the reader cuts packets out of arbitrary chunks and keeps the remainder", () => {
    const reader = new MysqlPacketReader();
    const bytes = Buffer.concat([buildPacket(0, Buffer.from("one")), buildPacket(1, Buffer.from("two!"))]);
    reader.push(bytes.subarray(0, 5));
    expect(reader.readPacket(100)).toBeUndefined();
    reader.push(bytes.subarray(5, 10));
    expect(reader.readPacket(100)).toMatchObject({ sequenceId: 0, payload: Buffer.from("one") });
    expect(reader.readPacket(100)).toBeUndefined();
    expect(reader.takeRemainder()).toEqual(bytes.subarray(7, 10));
  });

  test("a length above the limit and an overfull buffer are protocol errors", () => {
    const reader = new MysqlPacketReader(16);
    reader.push(hex("ffffff 00"));
    expect(() => reader.readPacket(1000)).toThrow(MysqlProtocolError);
    expect(() => reader.push(Buffer.alloc(13))).toThrow(/unread bytes/);
  });

  test("length-encoded integers use 1, 3, 4 or 9 bytes", () => {
    expect(encodeLengthEncodedInteger(250)).toEqual(hex("fa"));
    expect(encodeLengthEncodedInteger(251)).toEqual(hex("fc fb00"));
    expect(encodeLengthEncodedInteger(0x10000)).toEqual(hex("fd 000001"));
    expect(encodeLengthEncodedInteger(0x1000000)).toEqual(hex("fe 0000000100000000"));
  });
});

describe("HandshakeV10", () => {
  test("a MySQL 5.5 greeting parses and rebuilds byte for byte", () => {
    const greeting = parseHandshake(MYSQL_55_GREETING);
    expect(greeting).toEqual({
      protocolVersion: 10,
      serverVersion: "5.5.2-m2",
      connectionId: 11,
      authPluginData: Buffer.from("dvH@I-CJ*4d|cZwk4^]:", "latin1"),
      capabilities: 0xf7ff,
      extendedCapabilities: 0,
      characterSet: 8,
      statusFlags: 2,
      authPluginName: "",
    });
    expect(buildHandshake(greeting)).toEqual(MYSQL_55_GREETING);
  });

  test("a MariaDB greeting carries extended capabilities in the reserved bytes", () => {
    const greeting = parseHandshake(MARIADB_GREETING);
    expect(greeting).toMatchObject({
      serverVersion: "5.5.5-10.11.19-MariaDB-0+deb12u1",
      connectionId: 0x88,
      capabilities: 0x81fff7fe,
      extendedCapabilities: 0x1d,
      characterSet: 45,
      authPluginName: "mysql_native_password",
    });
    expect(greeting.capabilities & MysqlCapability.longPassword).toBe(0);
    expect(greeting.authPluginData).toHaveLength(20);
    expect(buildHandshake(greeting)).toEqual(MARIADB_GREETING);
  });

  test("offering TLS and withdrawing compression only changes the capability bytes", () => {
    const greeting = parseHandshake(MARIADB_GREETING);
    const capabilities = (greeting.capabilities | MysqlCapability.ssl) & ~MysqlCapability.compress;
    const rebuilt = parseHandshake(buildHandshake({ ...greeting, capabilities }));
    expect(rebuilt).toEqual({ ...greeting, capabilities: capabilities >>> 0 });
  });

  test("anything but protocol 10 or a truncated greeting is refused", () => {
    expect(() => parseHandshake(hex("09 3500"))).toThrow(/protocol version 9/);
    expect(() => parseHandshake(MARIADB_GREETING.subarray(0, 40))).toThrow(MysqlProtocolError);
  });
});

describe("the client's first packet", () => {
  test("the documented HandshakeResponse41 parses", () => {
    expect(parseClientFirstPacket(DOC_HANDSHAKE_RESPONSE)).toEqual({
      kind: "handshake-response",
      capabilities: 0x000fa68d,
      extendedCapabilities: 0,
      maxPacketSize: 0x01000000,
      characterSet: 8,
      user: "pam",
      authResponse: hex("ab09eef6bcb1323e61143865c0991d957d75d447"),
      database: "test",
      authPluginName: "mysql_native_password",
      connectAttributes: [],
    });
    const parsed = parseClientFirstPacket(DOC_HANDSHAKE_RESPONSE);
    if (parsed.kind !== "handshake-response") throw new Error("expected a handshake response");
    expect(buildHandshakeResponse(parsed)).toEqual(DOC_HANDSHAKE_RESPONSE);
  });

  test("connect attributes, lenenc client data and MariaDB extended capabilities round-trip", () => {
    const response = {
      capabilities:
        MysqlCapability.protocol41 |
        MysqlCapability.secureConnection |
        MysqlCapability.pluginAuth |
        MysqlCapability.pluginAuthLenencClientData |
        MysqlCapability.connectAttrs |
        MysqlCapability.connectWithDb,
      extendedCapabilities: 0x1c,
      maxPacketSize: 1 << 24,
      characterSet: 224,
      user: "orders-app",
      authResponse: Buffer.alloc(300, 7),
      database: "orders",
      authPluginName: "mysql_clear_password",
      connectAttributes: [
        ["_client_name", "mysql2"],
        ["program_name", "x".repeat(300)],
      ] as const,
    };
    const bytes = buildHandshakeResponse(response);
    expect(bytes.subarray(28, 32)).toEqual(hex("1c000000"));
    expect(parseClientFirstPacket(bytes)).toEqual({ kind: "handshake-response", ...response });
  });

  test("a response that stops after the auth data has no database or plugin", () => {
    const bytes = Buffer.concat([
      hex("0da20800 00000001 21"),
      Buffer.alloc(23),
      Buffer.from("u\0"),
      hex("00"),
    ]);
    expect(parseClientFirstPacket(bytes)).toMatchObject({ user: "u", database: "", authPluginName: "" });
  });

  test("a 32-byte packet with CLIENT_SSL is an SSLRequest", () => {
    const hello = {
      capabilities: MysqlCapability.protocol41,
      extendedCapabilities: 4,
      maxPacketSize: 1 << 24,
      characterSet: 45,
    };
    const bytes = buildSslRequest(hello);
    expect(bytes).toHaveLength(32);
    expect(parseClientFirstPacket(bytes)).toEqual({
      kind: "ssl-request",
      ...hello,
      capabilities: MysqlCapability.protocol41 | MysqlCapability.ssl,
    });
  });

  test.each([
    ["pre-4.1", Buffer.alloc(40)],
    ["a 32-byte packet without CLIENT_SSL", Buffer.concat([hex("00020000"), Buffer.alloc(28)])],
    [
      "an unterminated user name",
      Buffer.concat([hex("00820800 00000001 21"), Buffer.alloc(23), Buffer.from("abc")]),
    ],
    [
      "auth data longer than the packet",
      Buffer.concat([hex("00822800 00000001 21"), Buffer.alloc(23), Buffer.from("u\0"), hex("fc ff00")]),
    ],
  ])("%s is malformed", (_name, bytes) => {
    expect(() => parseClientFirstPacket(bytes)).toThrow(MysqlProtocolError);
  });
});

describe("authentication packets", () => {
  test("the clear-password switch has empty plugin data plus NUL", () => {
    expect(buildClearPasswordSwitch()).toEqual(Buffer.from("\xfemysql_clear_password\0\0", "latin1"));
    expect(parseAuthPacket(buildClearPasswordSwitch())).toEqual({
      kind: "auth-switch",
      pluginName: "mysql_clear_password",
      pluginData: Buffer.alloc(0),
    });
  });

  test("an AuthSwitchRequest with a scramble, AuthMoreData, OK and ERR are told apart", () => {
    const scramble = Buffer.from("0123456789abcdefghij");
    expect(
      parseAuthPacket(buildAuthSwitchRequest("mysql_native_password", Buffer.concat([scramble, hex("00")]))),
    ).toEqual({
      kind: "auth-switch",
      pluginName: "mysql_native_password",
      pluginData: scramble,
    });
    expect(parseAuthPacket(hex("0103"))).toEqual({ kind: "more-data", data: hex("03") });
    expect(parseAuthPacket(buildOkPacket())).toMatchObject({ kind: "ok" });
    expect(parseAuthPacket(buildErrorPacket({ code: 1045, sqlState: "28000", message: "no" }))).toEqual({
      kind: "error",
      error: { code: 1045, sqlState: "28000", message: "no" },
    });
    expect(() => parseAuthPacket(hex("05"))).toThrow(MysqlProtocolError);
  });

  test("the token is the clear password without its trailing NUL", () => {
    expect(parseClearPassword(Buffer.from("eyJ0eXAi.x.y\0"))).toBe("eyJ0eXAi.x.y");
    expect(parseClearPassword(Buffer.from("no-nul"))).toBe("no-nul");
  });
});

describe("OK and ERR packets", () => {
  test("ERR with SQLSTATE has the # marker; a pre-handshake ERR has none", () => {
    const withState = buildErrorPacket({ code: 9119, sqlState: "HY000", message: "expired" });
    expect(withState).toEqual(Buffer.concat([hex("ff 9f23"), Buffer.from("#HY000expired")]));
    expect(parseErrorPacket(withState)).toEqual({ code: 9119, sqlState: "HY000", message: "expired" });
    expect(parseErrorPacket(buildErrorPacket({ code: 1040, message: "Too many connections" }))).toEqual({
      code: 1040,
      message: "Too many connections",
    });
  });

  test("OK carries affected rows, insert id, status, warnings and info", () => {
    const ok = buildOkPacket({
      affectedRows: 300,
      lastInsertId: 7,
      statusFlags: 0x4002,
      warnings: 1,
      info: "hi",
    });
    expect(ok).toEqual(Buffer.concat([hex("00 fc2c01 07 0240 0100"), Buffer.from("hi")]));
    expect(parseOkPacket(ok)).toEqual({
      affectedRows: 300,
      lastInsertId: 7,
      statusFlags: 0x4002,
      warnings: 1,
      info: "hi",
    });
    expect(() => parseOkPacket(hex("ff"))).toThrow(MysqlProtocolError);
  });
});

describe("password scrambles toward the backend", () => {
  const scramble = Buffer.from("abcdefghijklmnopqrst");
  const sha = (algorithm: string, ...parts: Buffer[]) => {
    const hash = createHash(algorithm);
    for (const part of parts) hash.update(part);
    return hash.digest();
  };

  test("mysql_native_password XORed back with SHA1(scramble + SHA1(SHA1(pw))) gives SHA1(pw)", () => {
    const response = computeNativePasswordResponse("secret", scramble);
    const stage1 = sha("sha1", Buffer.from("secret"));
    const mask = sha("sha1", scramble, sha("sha1", stage1));
    expect(Buffer.from(response.map((byte, index) => byte ^ (mask[index] ?? 0)))).toEqual(stage1);
    expect(computeNativePasswordResponse("", scramble)).toEqual(Buffer.alloc(0));
  });

  test("caching_sha2_password fast path XORed back gives SHA256(pw)", () => {
    const response = computeCachingSha2Response("secret", scramble);
    const stage1 = sha("sha256", Buffer.from("secret"));
    const mask = sha("sha256", sha("sha256", stage1), scramble);
    expect(Buffer.from(response.map((byte, index) => byte ^ (mask[index] ?? 0)))).toEqual(stage1);
  });

  test("caching_sha2_password full auth encrypts (password + NUL) XOR scramble with RSA-OAEP", () => {
    const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const pem = publicKey.export({ type: "spki", format: "pem" }).toString();
    const encrypted = encryptPasswordWithPublicKey("secret", scramble, pem);
    const plain = privateDecrypt({ key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING }, encrypted);
    expect(Buffer.from(plain.map((byte, index) => byte ^ (scramble[index % 20] ?? 0))).toString()).toBe(
      "secret\0",
    );
  });
});
