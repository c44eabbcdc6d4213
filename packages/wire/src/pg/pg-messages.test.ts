import { describe, expect, test } from "vitest";
import {
  buildAuthenticationCleartextPassword,
  buildAuthenticationOk,
  buildAuthenticationRequest,
  buildErrorResponse,
  buildNegotiateProtocolVersion,
  buildPasswordMessage,
  buildRequestPacket,
  buildSaslInitialResponse,
  buildStartupMessage,
  computeMd5Password,
  PgFrameReader,
  PgProtocolError,
  parseAuthenticationRequest,
  parseErrorFields,
  parsePasswordMessage,
  parseStartupPacket,
} from "./pg-messages.js";

const hex = (text: string) => Buffer.from(text.replace(/\s+/g, ""), "hex");

describe("startup packets", () => {
  test("SSLRequest, GSSENCRequest and CancelRequest are recognised from their fixed bytes", () => {
    expect(parseStartupPacket(hex("00000008 04d2162f"))).toEqual({ kind: "ssl-request" });
    expect(parseStartupPacket(hex("00000008 04d21630"))).toEqual({ kind: "gssenc-request" });
    const cancel = hex("00000010 04d2162e 00003039 deadbeef");
    expect(parseStartupPacket(cancel)).toEqual({ kind: "cancel-request", processId: 12345, bytes: cancel });
    expect(buildRequestPacket({ kind: "cancel-request", processId: 12345, secretKey: 0xdeadbeef })).toEqual(
      cancel,
    );
    expect(buildRequestPacket({ kind: "ssl-request" })).toEqual(hex("00000008 04d2162f"));
  });

  test("a StartupMessage yields its protocol version and parameters in order", () => {
    const packet = Buffer.concat([
      hex("0000002f 00030000"),
      Buffer.from("user\0alice\0database\0db\0options\0-c x=1\0\0"),
    ]);
    expect(parseStartupPacket(packet)).toEqual({
      kind: "startup",
      majorVersion: 3,
      minorVersion: 0,
      parameters: [
        ["user", "alice"],
        ["database", "db"],
        ["options", "-c x=1"],
      ],
    });
    expect(
      buildStartupMessage([
        ["user", "alice"],
        ["database", "db"],
        ["options", "-c x=1"],
      ]),
    ).toEqual(packet);
  });

  test("an unknown major version is reported, not parsed", () => {
    expect(parseStartupPacket(hex("0000000c 00020000 00000000"))).toMatchObject({
      kind: "startup",
      majorVersion: 2,
      parameters: [],
    });
  });

  test.each([
    ["a length that disagrees with the content", hex("0000000a 00030000 00")],
    ["a missing final terminator", Buffer.concat([hex("0000000d 00030000"), Buffer.from("user\0")])],
    ["a key without value", Buffer.concat([hex("0000000e 00030000"), Buffer.from("user\0\0")])],
    [
      "trailing bytes after the terminator",
      Buffer.concat([hex("0000000c 00030000"), Buffer.from("\0\0u\0")]),
    ],
    ["an SSLRequest with a body", hex("0000000c 04d2162f 00000000")],
    ["a short CancelRequest", hex("0000000c 04d2162e 00000001")],
  ])("%s is a protocol error", (_name, packet) => {
    expect(() => parseStartupPacket(packet)).toThrow(PgProtocolError);
  });
});

describe("the frame reader", () => {
  test("reassembles a startup packet split across chunks and keeps what follows", () => {
    const reader = new PgFrameReader();
    const packet = buildStartupMessage([["user", "bob"]]);
    const password = buildPasswordMessage("token");
    const stream = Buffer.concat([packet, password, Buffer.from("Q")]);
    reader.push(stream.subarray(0, 3));
    expect(reader.readStartupPacket()).toBeUndefined();
    reader.push(stream.subarray(3, packet.length + 2));
    expect(reader.readStartupPacket()).toEqual(packet);
    expect(reader.readMessage(100)).toBeUndefined();
    reader.push(stream.subarray(packet.length + 2));
    const message = reader.readMessage(100);
    expect(message?.type).toBe("p");
    expect(message?.bytes).toEqual(password);
    expect(parsePasswordMessage(message?.payload ?? Buffer.alloc(0))).toBe("token");
    expect(reader.takeRemainder()).toEqual(Buffer.from("Q"));
    expect(reader.bufferedLength).toBe(0);
  });

  test("rejects a bad or oversized length as soon as the length field is complete", () => {
    const tooShort = new PgFrameReader();
    tooShort.push(hex("00000007"));
    expect(() => tooShort.readStartupPacket()).toThrow(/invalid length/);
    const tooLong = new PgFrameReader();
    tooLong.push(hex("00002711"));
    expect(() => tooLong.readStartupPacket()).toThrow(/too long/);
    const badMessage = new PgFrameReader();
    badMessage.push(hex("70 00000003"));
    expect(() => badMessage.readMessage(100)).toThrow(/invalid message length/);
    const bigMessage = new PgFrameReader();
    bigMessage.push(hex("70 00010004"));
    expect(() => bigMessage.readMessage(65_535)).toThrow(/too long/);
  });

  test("accepts a password message of exactly 65535 bytes", () => {
    const reader = new PgFrameReader();
    const token = "t".repeat(65_534);
    reader.push(buildPasswordMessage(token));
    expect(parsePasswordMessage(reader.readMessage(65_535)?.payload ?? Buffer.alloc(0))).toBe(token);
  });

  test("a password without its NUL terminator is a protocol error", () => {
    expect(() => parsePasswordMessage(Buffer.from("abc"))).toThrow(PgProtocolError);
  });
});

describe("server messages", () => {
  test("ErrorResponse carries severity, SQLSTATE and message fields", () => {
    const bytes = buildErrorResponse({ severity: "FATAL", code: "28000", message: "no" });
    expect(bytes).toEqual(
      Buffer.concat([hex("45 0000001e"), Buffer.from("SFATAL\0VFATAL\0C28000\0Mno\0\0")]),
    );
    expect(Object.fromEntries(parseErrorFields(bytes.subarray(5)))).toEqual({
      S: "FATAL",
      V: "FATAL",
      C: "28000",
      M: "no",
    });
  });

  test("authentication requests have the documented codes", () => {
    expect(buildAuthenticationOk()).toEqual(hex("52 00000008 00000000"));
    expect(buildAuthenticationCleartextPassword()).toEqual(hex("52 00000008 00000003"));
    expect(parseAuthenticationRequest(hex("00000005 01020304"))).toEqual({
      method: "md5",
      salt: hex("01020304"),
    });
    expect(
      parseAuthenticationRequest(Buffer.concat([hex("0000000a"), Buffer.from("SCRAM-SHA-256\0\0")])),
    ).toEqual({ method: "sasl", mechanisms: ["SCRAM-SHA-256"] });
    expect(parseAuthenticationRequest(hex("00000007"))).toEqual({ method: "unsupported", code: 7 });
    expect(buildAuthenticationRequest(12, Buffer.from("v=x"))).toEqual(hex("52 0000000b 0000000c 763d78"));
  });

  test("NegotiateProtocolVersion lists the unrecognised options", () => {
    expect(buildNegotiateProtocolVersion(["_pq_.a"])).toEqual(
      Buffer.concat([hex("76 00000013 00030000 00000001"), Buffer.from("_pq_.a\0")]),
    );
  });
});

describe("client authentication responses", () => {
  test("the MD5 response matches PostgreSQL's md5(md5(password || user) || salt)", () => {
    // Computed independently: md5("secretpostgres") = 53f48b7c..., then md5 of that hex || 01020304.
    expect(computeMd5Password("postgres", "secret", hex("01020304"))).toBe(
      "md5bb41a296aab6baccb36ff243a562abff",
    );
  });

  test("SASLInitialResponse carries the mechanism and a length-prefixed client-first message", () => {
    expect(buildSaslInitialResponse("SCRAM-SHA-256", "n,,n=*,r=abc")).toEqual(
      Buffer.concat([
        hex("70 00000022"),
        Buffer.from("SCRAM-SHA-256\0"),
        hex("0000000c"),
        Buffer.from("n,,n=*,r=abc"),
      ]),
    );
  });
});
